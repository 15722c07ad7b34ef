"""A dishonest reviewer's and a hostile requester's attempts on the export gate, each as the rule that must hold.

Over the domain functions and the service's HTTP handlers (the hub's token check replaced, as in the
page tests): a decision refused at its preview is audited like one refused when confirmed, a
confirming post still needs its XSRF token, an approval of version 1 counts for nothing in version 2,
and a closed project's held job outputs are released by no one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from egress_review import rules, service, workflow
from egress_review.scopes import SCOPE_DOWNLOAD, SCOPE_REQUEST
from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import (
    Decision,
    ExportState,
    FileOutcome,
    FileVote,
    Job,
    JobRelease,
    JobState,
    MemberRole,
    Membership,
    Project,
    ProjectState,
    User,
)
from enclave.projects import remove_member, today, transition
from enclave.settings import get_settings
from jobs import rules as job_rules
from jobs import workflow as job_workflow
from tests.egress_helpers import CLEAN, POLICY, decide, submit, votes
from tests.unit import test_egress_service_auth as service_tests
from tests.unit.test_egress_pages import browser, more_people, xsrf  # noqa: F401 (fixture)
from tests.unit.test_egress_service_auth import TOKENS, Service

egress = service_tests.egress


@pytest.fixture
def store(world: Path) -> Path:
    return get_settings().egress_store


def _refusals(rid: int, action: AuditAction) -> list[dict[str, object]]:
    with session_scope() as s:
        return [e for e in audit.query(s, action=action.value) if e["target"] == f"request:{rid}"]


def test_reviewing_ones_own_request_is_refused_and_audited_already_at_the_preview(store: Path, egress: Service):
    """dave holds the reviewer role and asked for the export: the preview step refuses him, on the record."""
    rid = submit(store, who="dave")
    dave = browser(egress, "dave")
    form = {"_xsrf": xsrf(dave, f"requests/{rid}"), "decision": "approve",
            **{f"file-{k}": "approve" for k in votes(rid)}}
    page = dave.post(f"requests/{rid}/review", data=form)
    assert page.status_code == 403 and "your own export request" in page.text
    assert _refusals(rid, AuditAction.EXPORT_REVIEW_REFUSED)
    with session_scope() as s:
        assert workflow.get_request(s, rid).reviews == []


def test_a_party_to_the_conflict_resolving_it_is_refused_and_audited_at_the_preview(store: Path, egress: Service):
    rid = submit(store)
    decide("bob", rid, Decision.APPROVE)
    assert decide("carol", rid, Decision.REJECT, comment="too fine") == ExportState.CONFLICTED
    bob = browser(egress, "bob")
    assert bob.get(f"requests/{rid}").status_code == 200  # he sees it (he reviewed it) and has its XSRF cookie
    form = {"_xsrf": bob.cookies["_xsrf"], "decision": "approve", "reason": "mine stands",
            **{f"file-{k}": "approve" for k in votes(rid)}}
    page = bob.post(f"requests/{rid}/resolve", data=form)
    assert page.status_code == 403 and "reviewed neither side" in page.text
    assert _refusals(rid, AuditAction.EXPORT_RESOLVE_REFUSED)


def test_a_confirming_post_without_its_xsrf_token_records_nothing(store: Path, egress: Service):
    rid = submit(store)
    bob = browser(egress, "bob")
    xsrf(bob, f"requests/{rid}")  # the cookie is set, but the form's token is left out
    form = {"decision": "approve", "confirm": "yes", **{f"file-{k}": "approve" for k in votes(rid)}}
    assert bob.post(f"requests/{rid}/review", data=form).status_code == 403
    with session_scope() as s:
        assert workflow.get_request(s, rid).reviews == []


def test_an_approval_of_version_one_counts_for_nothing_in_version_two(store: Path):
    """bob approved v1's table; after the return, v2 needs two fresh reviews of its own files."""
    rid = submit(store, [CLEAN, ("other.csv", b"region,n\neast,150\nwest,120\n")])
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        first = {str(f.id): {"decision": "approve" if f.name == "table.csv" else "changes", "comment": "merge"}
                 for f in req.files}
        workflow.review(s, "bob", rid, Decision.RETURN, first, comment_to_requester="merge regions")
    assert decide("carol", rid, Decision.RETURN, comment="merge regions") == ExportState.RETURNED
    with session_scope() as s:
        v2 = workflow.submit(s, "alice", "study", [CLEAN], "merged", store, POLICY, revises=rid)
        v2_id, old_ids = v2.id, {f.id for f in workflow.get_request(s, rid).files}
        assert v2.reviews == [] and not old_ids & {f.id for f in v2.files}
    assert decide("bob", v2_id, Decision.APPROVE) == ExportState.IN_REVIEW
    with session_scope() as s:
        v2 = workflow.get_request(s, v2_id)
        assert set(rules.file_outcomes(v2).values()) == {FileOutcome.PENDING}
        assert not any(rules.can_release_file(v2, f) for f in v2.files)
        with pytest.raises(EnclaveError, match="has no file"):  # v1's file ids are not v2's files
            rules.check_decision(v2, Decision.APPROVE, {str(i): {"decision": "approve"} for i in old_ids}, "")


def test_one_reviewer_cannot_take_both_places_by_claiming_unclaiming_and_reviewing_again(store: Path):
    rid = submit(store)
    with session_scope() as s:
        workflow.claim(s, "bob", rid)
        workflow.unclaim(s, "bob", rid)
        workflow.claim(s, "bob", rid)
    assert decide("bob", rid, Decision.APPROVE) == ExportState.IN_REVIEW
    with session_scope() as s, pytest.raises(NotAllowed, match="already reviewed"):
        workflow.claim(s, "bob", rid)
    with session_scope() as s, pytest.raises(NotAllowed, match="already reviewed"):
        workflow.review(s, "bob", rid, Decision.APPROVE, votes(rid, FileVote.APPROVE))
    assert _refusals(rid, AuditAction.EXPORT_CLAIM_REFUSED) and _refusals(rid, AuditAction.EXPORT_REVIEW_REFUSED)


def _held_job_project(state: ProjectState, expiry_days: int = 9) -> tuple[Job, Project, User]:
    project = Project(slug="study", title="Study", pi="pi", state=state, start_date=today() - timedelta(days=30),
                      expiry_date=today() + timedelta(days=expiry_days))
    job = Job(id=7, project="study", submitter="rose", command="python main.py", outputs_dir="results",
              code_sha256="c" * 64, code_manifest={}, image="img", datasets={}, limits={}, outputs={},
              release=JobRelease.HELD)
    return job, project, User(id=2, username="oscar", roles=["reviewer"])


def test_held_job_outputs_of_an_open_project_are_released_by_an_independent_checker():
    job, project, checker = _held_job_project(ProjectState.ACTIVE)
    assert job_rules.can_release(job, checker, project)


@pytest.mark.parametrize(("state", "expiry_days"), [(ProjectState.SUSPENDED, 9), (ProjectState.ACTIVE, -1)])
def test_held_job_outputs_of_a_suspended_or_expired_project_are_released_by_no_one(state: ProjectState,
                                                                                    expiry_days: int):
    job, project, checker = _held_job_project(state, expiry_days)
    with pytest.raises(NotAllowed, match=re.escape("'study'")):
        job_rules.check_can_release(job, checker, project)


def test_a_jobs_submitter_holding_the_reviewer_role_never_releases_its_outputs_even_once_removed():
    job, project, _ = _held_job_project(ProjectState.ACTIVE)
    rose = User(id=5, username="rose", roles=["researcher", "reviewer"])
    project.member_history.append(Membership(user=rose, user_id=5, role=MemberRole.RESEARCHER))
    with pytest.raises(NotAllowed, match="are or were a member"):
        job_rules.check_can_release(job, rose, project)
    pi = User(id=6, username="pi", roles=["reviewer"])
    with pytest.raises(NotAllowed, match="are or were a member"):
        job_rules.check_can_release(job, pi, project)


def test_a_withheld_file_is_never_downloaded_and_the_attempt_is_audited(store: Path, egress: Service):
    """alice asks for the file both reviewers withheld by its id: refused, on the record; results.json names no one."""
    other = ("other.csv", b"region,n\neast,150\nwest,120\n")
    rid = submit(store, [CLEAN, other])
    with session_scope() as s:
        ids = {f.name: str(f.id) for f in workflow.get_request(s, rid).files}
    by_file = {ids["table.csv"]: {"decision": "approve", "comment": ""},
               ids["other.csv"]: {"decision": "changes", "comment": "merge the regions"}}
    for who in ("bob", "carol"):
        with session_scope() as s:
            workflow.review(s, who, rid, Decision.APPROVE, by_file)
            workflow.settle(s, rid)
    TOKENS["alicedl-token"] = {"name": "alice", "kind": "user", "scopes": [SCOPE_DOWNLOAD]}
    try:
        alice = egress.client("alicedl")
        assert alice.get(f"requests/{rid}/download/{ids['table.csv']}").content == CLEAN[1]
        refused = alice.get(f"requests/{rid}/download/{ids['other.csv']}")
        assert refused.status_code == 403 and "withheld" in refused.text
        assert [e["details"].get("file") for e in _refusals(rid, AuditAction.EXPORT_DOWNLOAD_REFUSED)] \
            == [ids["other.csv"]]
        results = alice.get(f"requests/{rid}/download/results.json").text
        assert "bob" not in results and "carol" not in results and "west" not in results
    finally:
        TOKENS.pop("alicedl-token", None)


def _held_job_in_db(submitter: str) -> int:
    with session_scope() as s:
        job = Job(project="study", submitter=submitter, command="python main.py", outputs_dir="results",
                  code_sha256="c" * 64, code_manifest={}, image="img", datasets={}, limits={},
                  outputs={"results/t.csv": {"sha256": "1" * 64, "bytes": 9, "verdict": "review", "kinds": []}},
                  state=JobState.FINISHED, release=JobRelease.HELD)
        s.add(job)
        s.flush()
        return job.id


def _job_refusals(job_id: int) -> list[str]:
    with session_scope() as s:
        return [e["details"]["step"] for e in audit.query(s, action=AuditAction.JOB_REFUSED.value)
                if e["target"] == f"job:{job_id}"]


def test_a_submitter_releasing_her_own_jobs_held_outputs_is_refused_on_the_record(world: Path):
    """dave (member and reviewer) submitted the job: he cannot be its output checker, and trying is audited."""
    job_id = _held_job_in_db("dave")
    with session_scope() as s, pytest.raises(NotAllowed, match="are or were a member"):
        job_workflow.release(s, "dave", job_id, release_it=True, reason="my own numbers are fine")
    assert _job_refusals(job_id) == ["release"]
    with session_scope() as s:
        assert job_workflow.get_job(s, job_id).release == JobRelease.HELD


def test_a_suspended_projects_held_job_outputs_are_refused_to_an_independent_checker_on_the_record(world: Path):
    job_id = _held_job_in_db("alice")
    with session_scope() as s:
        transition(s, "admin", "study", ProjectState.SUSPENDED, "under investigation")
    with session_scope() as s, pytest.raises(NotAllowed, match="suspended"):
        job_workflow.release(s, "bob", job_id, release_it=True, reason="checked")
    assert _job_refusals(job_id) == ["release"]
    with session_scope() as s:
        job = job_workflow.get_job(s, job_id)
        assert job.release == JobRelease.HELD and not job.released_by


def test_a_removed_members_export_request_from_a_still_running_workspace_is_refused_on_the_record(
        store: Path, egress: Service, monkeypatch: pytest.MonkeyPatch):
    """dave was removed while his workspace still ran: the request is refused before a file is read, audited."""
    monkeypatch.setattr(service.Context, "workspace_of", lambda self, name: ("study", {"127.0.0.1"}))
    with session_scope() as s:
        remove_member(s, "admin", "study", "dave")
    TOKENS["dave-workspace"] = {"name": "dave", "kind": "user", "scopes": [f"{SCOPE_REQUEST}!user=dave"]}
    try:
        r = egress.client().post("api/requests", headers={"Authorization": "token dave-workspace"},
                                 json={"files": ["table.csv"], "justification": "aggregate"})
    finally:
        TOKENS.pop("dave-workspace", None)
    assert r.status_code == 403, r.text
    with session_scope() as s:
        refused = [e for e in audit.query(s, action=AuditAction.EXPORT_REFUSED.value) if e["actor"] == "dave"]
    assert refused and "study" in refused[0]["details"]["reason"]
