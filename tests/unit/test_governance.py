"""Project applications and their approval chain: versions, parties, who may decide, and the project made."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from datasets_mount.synthetic import cohort
from enclave.audit import query
from enclave.db import session_scope
from enclave.errors import InvalidTransition, NotAllowed, NotFound
from enclave.models import Accreditation, ApplicationState, Party, ProjectState, StepDecision, StepState
from enclave.projects import active_datasets, get_project, today, upsert_user
from enclave.settings import get_settings
from governance import workflow
from governance.workflow import ApplicationInvalid
from policies import load_policies
from tests.unit.conftest import _ingest

FORM = {"slug": "new-study", "title": "New study", "purpose": "readmission after admission",
        "datasets": "cohort@v1", "members": "dave", "outputs": "tables of rates", "duration_days": "90",
        "ethics_ref": "ETH-42"}


@pytest.fixture
def gov(enclave_home: Path):  # type: ignore[no-untyped-def]
    """alice and dave researchers; bob the steward, carol the ethics officer, rhea a data owner; audrey audits."""
    _ingest(enclave_home, "cohort", cohort(200))
    with session_scope() as s:
        for name, roles in [("alice", ["researcher"]), ("dave", ["researcher"]), ("bob", ["reviewer"]),
                            ("carol", ["reviewer"]), ("rhea", ["reviewer"]), ("audrey", ["auditor"]),
                            ("admin", ["admin"]), ("zoe", ["researcher"])]:
            upsert_user(s, "admin", name, roles=roles)
    return load_policies(get_settings().policy_dir)


def _submitted(policies, form=FORM, applicant="alice") -> int:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        app = workflow.new_application(s, applicant, form)
        workflow.submit(s, applicant, app.id, policies)
        return app.id


def _step(app_id: int, party: Party) -> int:
    with session_scope() as s:
        app = workflow.get_application(s, app_id)
        return next(st.id for st in workflow.current_steps(app) if st.party == party)


def _decide(policies, who: str, app_id: int, party: Party, decision=StepDecision.APPROVE,  # type: ignore[no-untyped-def]
            comment: str = "") -> workflow.Outcome:
    step = _step(app_id, party)
    with session_scope() as s:
        return workflow.decide(s, who, app_id, step, decision, comment, policies)


def test_full_approval_creates_the_project_as_the_cli_does(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    assert _decide(gov, "bob", app_id, Party.STEWARD).state == ApplicationState.SUBMITTED
    out = _decide(gov, "carol", app_id, Party.ETHICS)
    assert out.state == ApplicationState.APPROVED and out.project == "new-study"
    with session_scope() as s:
        p = get_project(s, "new-study")
        assert p.state == ProjectState.ACTIVE and p.pi == "alice" and p.approval_ref == "ETH-42"
        assert sorted(m.user.username for m in p.members) == ["alice", "dave"]
        assert [d.label for d in active_datasets(p)] == ["cohort@v1"]
        assert p.expiry_date == today() + timedelta(days=90)
        actions = [e["action"] for e in query(s, project="new-study")]
    assert actions.index("application.submit") < actions.index("project.create") < actions.index(
        "application.approved")


def test_ethics_waits_for_the_stewards_stage(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    with session_scope() as s:
        steps = {st.party: st.state for st in workflow.current_steps(workflow.get_application(s, app_id))}
    assert steps == {Party.STEWARD: StepState.PENDING, Party.ETHICS: StepState.WAITING}
    with pytest.raises(InvalidTransition):
        _decide(gov, "carol", app_id, Party.ETHICS)


def test_asking_for_changes_returns_it_and_the_amendment_is_a_new_version_with_a_diff(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    with pytest.raises(ApplicationInvalid, match="comment"):
        _decide(gov, "bob", app_id, Party.STEWARD, StepDecision.CHANGES, " ")
    _decide(gov, "bob", app_id, Party.STEWARD, StepDecision.CHANGES, "say which outcomes")
    with session_scope() as s:
        assert workflow.get_application(s, app_id).state == ApplicationState.CHANGES
        workflow.save_draft(s, "alice", app_id, {**FORM, "outputs": "30-day readmission rates"})
        workflow.submit(s, "alice", app_id, gov)
    with session_scope() as s:
        app = workflow.get_application(s, app_id)
        assert [v.number for v in app.versions] == [1, 2]
        assert app.versions[0].content["outputs"] == "tables of rates"  # version 1 never changes
        sub = [e for e in query(s, action="application.submit") if e["target"] == f"application:{app_id}"][-1]
        assert sub["details"]["diff"] == {"outputs": {"before": "tables of rates", "after": "30-day readmission rates"}}
    _decide(gov, "bob", app_id, Party.STEWARD)
    assert _decide(gov, "carol", app_id, Party.ETHICS).state == ApplicationState.APPROVED


def test_a_submitted_version_cannot_be_edited(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    with session_scope() as s, pytest.raises(InvalidTransition, match="never change"):
        workflow.save_draft(s, "alice", app_id, {**FORM, "title": "changed"})


def test_nobody_approves_their_own_application(gov):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        upsert_user(s, "admin", "bob", roles=["reviewer", "researcher"])
    app_id = _submitted(gov, applicant="bob", form={**FORM, "members": ""})
    with pytest.raises(NotAllowed, match="own application"):
        _decide(gov, "bob", app_id, Party.STEWARD)


def test_a_member_named_in_the_application_cannot_decide_it(gov):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        upsert_user(s, "admin", "bob", roles=["reviewer", "researcher"])
    app_id = _submitted(gov, form={**FORM, "members": "dave bob"})
    with pytest.raises(NotAllowed, match="member named"):
        _decide(gov, "bob", app_id, Party.STEWARD)


def test_only_the_named_party_decides_a_step(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    with pytest.raises(NotAllowed, match="not named as steward"):
        _decide(gov, "carol", app_id, Party.STEWARD)


def test_auditors_decide_nothing(gov, monkeypatch):  # type: ignore[no-untyped-def]
    policy = gov.governance.model_copy(update={"stewards": {"*": ["audrey"]}})
    gov = gov.__class__(**{**gov.__dict__, "governance": policy})
    app_id = _submitted(gov)
    with pytest.raises(NotAllowed, match="auditors change nothing"):
        _decide(gov, "audrey", app_id, Party.STEWARD)


def test_one_person_is_one_party(gov):  # type: ignore[no-untyped-def]
    policy = gov.governance.model_copy(update={"ethics_officers": ["bob"]})
    gov = gov.__class__(**{**gov.__dict__, "governance": policy})
    app_id = _submitted(gov)
    _decide(gov, "bob", app_id, Party.STEWARD)
    with pytest.raises(NotAllowed, match="another person"):
        _decide(gov, "bob", app_id, Party.ETHICS)


def test_rejection_is_final(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    _decide(gov, "bob", app_id, Party.STEWARD, StepDecision.REJECT, "not a use this data allows")
    with session_scope() as s:
        assert workflow.get_application(s, app_id).state == ApplicationState.REJECTED
        with pytest.raises(InvalidTransition):
            workflow.save_draft(s, "alice", app_id, FORM)


def test_invalid_application_names_every_field(gov):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        app = workflow.new_application(s, "alice", {"slug": "Bad Name", "datasets": "nope@v9",
                                                    "members": "ghost", "duration_days": "9999"})
        with pytest.raises(ApplicationInvalid) as err:
            workflow.submit(s, "alice", app.id, gov)
    fields = {f for f, _, _ in err.value.problems}
    assert {"slug", "title", "purpose", "outputs", "ethics_ref", "datasets", "members", "duration_days"} <= fields
    assert all(zh for _, _, zh in err.value.problems)


def test_members_must_be_accredited_for_the_data(gov):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        s.add(Accreditation(username="dave", level=2, training_completed=today() - timedelta(days=400),
                            expires=today() - timedelta(days=1)))
        app = workflow.new_application(s, "alice", FORM)
        with pytest.raises(ApplicationInvalid, match="dave: the accreditation .* lapsed"):
            workflow.submit(s, "alice", app.id, gov)


def test_tier_three_adds_the_data_owner_in_parallel_with_the_steward(gov, enclave_home):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from enclave_ops.cli import main

    imports = enclave_home / "import"
    cohort(200, seed=5).write_csv(imports / "rare.csv")
    res = CliRunner().invoke(main, ["dataset", "ingest", str(imports / "rare.csv"), "--name", "rare", "--version",
                                    "v1", "--tier", "3", "--quasi", "sex,region", "--override-reason", "t", "--json"])
    assert res.exit_code == 0, res.output
    with session_scope() as s:
        for name in ("alice", "dave"):
            s.add(Accreditation(username=name, level=3, training_completed=today(),
                                expires=today() + timedelta(days=365)))
    app_id = _submitted(gov, form={**FORM, "datasets": "cohort@v1 rare@v1"})
    with session_scope() as s:
        steps = sorted((st.party.value, st.subject, st.state.value)
                       for st in workflow.current_steps(workflow.get_application(s, app_id)))
    assert steps == [("data_owner", "rare", "pending"), ("ethics", "", "waiting"),
                     ("steward", "cohort", "pending"), ("steward", "rare", "pending")]


def test_researchers_see_only_their_own_applications(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    with session_scope() as s:
        assert workflow.visible_application(s, "dave", app_id, gov).id == app_id  # a named member
        assert workflow.visible_application(s, "audrey", app_id, gov).id == app_id  # auditor, read-only
        with pytest.raises(NotFound, match=f"no application {app_id}"):
            workflow.visible_application(s, "zoe", app_id, gov)
        assert [a.id for a in workflow.own_applications(s, "zoe")] == []
        draft = workflow.new_application(s, "alice", FORM)
        with pytest.raises(NotFound):
            workflow.visible_application(s, "bob", draft.id, gov)  # drafts are the applicant's alone


def test_overdue_steps_are_escalated_once(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    with session_scope() as s:
        step = workflow.current_steps(workflow.get_application(s, app_id))[0]
        step.due_at = workflow.now() - timedelta(minutes=1)
    with session_scope() as s:
        assert len(workflow.escalate_overdue(s, gov)) == 1
    with session_scope() as s:
        assert workflow.escalate_overdue(s, gov) == []
        assert len(query(s, action="application.escalate")) == 1


def test_amendment_adds_a_member_through_the_same_chain(gov):  # type: ignore[no-untyped-def]
    app_id = _submitted(gov)
    _decide(gov, "bob", app_id, Party.STEWARD)
    _decide(gov, "carol", app_id, Party.ETHICS)
    with session_scope() as s:
        with pytest.raises(NotAllowed, match="only the PI"):
            workflow.new_application(s, "dave", {}, amends="new-study")
        amend = workflow.new_application(s, "alice", {}, amends="new-study")
        assert amend.draft["members"] == ["dave"]
        workflow.save_draft(s, "alice", amend.id, {**amend.draft, "members": "dave zoe"})
        workflow.submit(s, "alice", amend.id, gov)
        amend_id = amend.id
    with pytest.raises(NotAllowed):  # dave is a member of the project: not independent of it
        _decide(gov, "dave", amend_id, Party.STEWARD)
    _decide(gov, "bob", amend_id, Party.STEWARD)
    _decide(gov, "carol", amend_id, Party.ETHICS)
    with session_scope() as s:
        assert sorted(m.user.username for m in get_project(s, "new-study").members) == ["alice", "dave", "zoe"]
