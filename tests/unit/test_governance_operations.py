"""The operations view: running workspaces per project and the services from the hub's database, overdue
approval steps and failed restore drills from the enclave's, read-only and for administrators only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from jupyterhub import orm
from sqlalchemy import update

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.models import ApprovalStep, StepState
from enclave.settings import get_settings
from governance import operations
from tests.unit.test_governance import _submitted, gov  # noqa: F401 - the fixture
from tests.unit.test_governance_service import site  # noqa: F401 - the fixture


def hub_db(home: Path) -> None:
    """A hub database made by JupyterHub's own schema: alice and dave run workspaces in `study`, eve one
    with no project; egress-review used its token a minute ago, governance never."""
    home.mkdir(parents=True, exist_ok=True)
    db = orm.new_session_factory(get_settings().hub_db_url)()
    at = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    for name, options in (("alice", {"project": "study"}), ("dave", {"project": "study"}), ("eve", {})):
        user = orm.User(name=name)
        db.add(user)
        db.add(orm.Spawner(user=user, name="", server=orm.Server(), started=at, last_activity=at,
                           user_options=options))
    db.add(orm.User(name="zoe"))  # signed in, nothing running
    egress = orm.Service(name="egress-review", url="http://127.0.0.1:1/")
    db.add_all([egress, orm.Service(name="governance", url="http://127.0.0.1:2/")])
    db.add(orm.APIToken(service=egress, hashed="h", prefix="p", last_activity=at))
    db.commit()
    db.close()


def test_running_workspaces_are_grouped_by_project_and_services_say_when_last_seen(enclave_home):  # type: ignore[no-untyped-def]
    hub_db(enclave_home)
    state = operations.hub_state(get_settings().hub_db_url)
    assert state.readable
    assert {p: [w.user for w in ws] for p, ws in state.workspaces.items()} == {"": ["eve"],
                                                                                "study": ["alice", "dave"]}
    seen = {s.name: s.last_seen for s in state.services}
    assert seen["governance"] is None and seen["egress-review"] is not None
    assert seen["egress-review"] < datetime.now(UTC)


def test_a_missing_hub_database_is_said_and_not_a_failed_page(enclave_home):  # type: ignore[no-untyped-def]
    assert operations.hub_state(get_settings().hub_db_url).readable is False
    assert not (enclave_home / "jupyterhub.sqlite").exists()  # read-only: nothing was created


def test_only_steps_past_their_time_limit_are_overdue(gov):  # type: ignore[no-untyped-def] # noqa: F811
    late, on_time = _submitted(gov), _submitted(gov, form={**_form(), "slug": "other-study"})
    with session_scope() as s:
        s.execute(update(ApprovalStep).where(ApprovalStep.application_id == late,
                                             ApprovalStep.state == StepState.PENDING)
                  .values(due_at=datetime.now(UTC) - timedelta(hours=2)))
    with session_scope() as s:
        assert [a.id for a, _ in operations.overdue_steps(s)] == [late]
        assert on_time not in [a.id for a, _ in operations.overdue_steps(s)]


def test_failed_drills_come_from_the_audit_trail_newest_first(enclave_home):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        assert operations.drills(s) == (None, [])
        for snap, outcome in (("s1", "fail"), ("s2", "pass"), ("s3", "fail"), ("s4", "pass")):
            audit.record(s, "admin", AuditAction.BACKUP_DRILL, target=snap, outcome=outcome,
                         problems=[f"{snap} broken"] if outcome == "fail" else [])
    with session_scope() as s:
        last, failed = operations.drills(s)
    assert last is not None and (last.snapshot, last.outcome) == ("s4", "pass")
    assert [(d.snapshot, d.problems) for d in failed] == [("s3", ["s3 broken"]), ("s1", ["s1 broken"])]


def test_the_operations_page_shows_all_four_in_both_languages(site, gov, enclave_home):  # type: ignore[no-untyped-def] # noqa: F811
    hub_db(enclave_home)
    app_id = _submitted(gov)
    with session_scope() as s:
        s.execute(update(ApprovalStep).where(ApprovalStep.application_id == app_id,
                                             ApprovalStep.state == StepState.PENDING)
                  .values(due_at=datetime.now(UTC) - timedelta(days=1)))
        audit.record(s, "admin", AuditAction.BACKUP_DRILL, target="snap-9", outcome="fail",
                     problems=["manifest signature does not verify"])
    page = site("admin").get("ops").text
    assert 'id="ops-workspaces"' in page and 'data-project="study"' in page and ">alice<" in page.replace(
        " · ", "<")
    assert 'data-service="egress-review"' in page and 'data-service="governance" class="overdue"' in page
    assert f'applications/{app_id}">{app_id}</a>' in page.split('id="ops-overdue"')[1]
    assert "manifest signature does not verify" in page.split('id="ops-failed-drills"')[1]
    zh = site("admin", "zh-CN").get("ops").text
    for words in ("运行中的工作区", "服务", "已超时的审批步骤", "恢复演练", "失败"):
        assert words in zh
    assert site("audrey").get("ops").status_code == 403 and site("bob").get("ops").status_code == 403


def test_without_a_hub_database_the_page_says_so(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    page = site("admin").get("ops")
    assert page.status_code == 200 and 'id="ops-hub-unreadable"' in page.text and 'id="ops-no-drill"' in page.text


def _form() -> dict[str, str]:
    from tests.unit.test_governance import FORM

    return dict(FORM)
