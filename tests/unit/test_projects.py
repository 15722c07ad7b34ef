"""Projects, members, approvals and who may start what; through the CLI with --json where users meet them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from datasets_mount.catalog import store_version
from datasets_mount.synthetic import write_cohort
from enclave import audit
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed
from enclave.models import ProjectState
from enclave.projects import (
    approve_dataset,
    check_can_start,
    create_project,
    projects_for,
    transition,
    upsert_user,
)
from enclave.settings import REPO_ROOT, get_settings
from enclave_ops.cli import main
from policies import load_policies

TODAY = date.today()


def cli(*args: str) -> tuple[int, object]:
    res = CliRunner().invoke(main, [*args, "--json"])
    return res.exit_code, json.loads(res.output) if res.output.strip() else None


@pytest.fixture
def people(enclave_home: Path) -> None:
    for name, role in [("alice", "researcher"), ("eve", "researcher"), ("rita", "reviewer")]:
        assert cli("user", "add", name, "--role", role)[0] == 0


def make_project(slug: str = "study-one", expiry: date | None = None) -> None:
    with session_scope() as s:
        create_project(s, "steward", slug=slug, title="Study", approval_ref="ETH-1", purpose="p", pi="alice",
                       start=TODAY, expiry=expiry or TODAY + timedelta(days=30))


def test_cli_project_lifecycle(people):
    code, data = cli("project", "create", "study-one", "--title", "Study 1", "--approval-ref", "ETH-1",
                     "--purpose", "readmissions", "--pi", "alice", "--expiry", str(TODAY + timedelta(days=90)))
    assert code == 0 and data["state"] == "requested" and data["members"] == [{"user": "alice", "role": "pi"}]
    assert cli("project", "add-member", "study-one", "eve")[0] == 0
    code, rows = cli("user", "startable", "alice")
    assert rows == [{"project": "study-one", "title": "Study 1", "can_start": False,
                     "reason": "project 'study-one' is requested, not active"}]
    assert cli("project", "transition", "study-one", "approved", "--reason", "committee ok")[0] == 0
    assert cli("project", "transition", "study-one", "active", "--reason", "go")[0] == 0
    code, rows = cli("user", "startable", "eve")
    assert rows[0]["can_start"] is True
    code, data = cli("project", "remove-member", "study-one", "eve")
    assert code == 0
    assert cli("user", "startable", "eve")[1] == []
    code, listed = cli("project", "list")
    assert [p["slug"] for p in listed] == ["study-one"]
    with session_scope() as s:
        actions = [r["action"] for r in audit.query(s, project="study-one")]
    assert actions == ["project.create", "member.add", "project.transition", "project.transition", "member.remove"]


def test_bad_input_is_named_and_changes_nothing(people):
    code, data = cli("project", "create", "Bad Name", "--title", "t", "--approval-ref", "x", "--purpose", "p",
                     "--pi", "alice", "--expiry", str(TODAY + timedelta(days=9)))
    assert code == 2 and "project name 'Bad Name' is not valid" in data["error"]
    code, data = cli("project", "create", "study-two", "--title", "t", "--approval-ref", "x", "--purpose", "p",
                     "--pi", "nobody", "--expiry", str(TODAY + timedelta(days=9)))
    assert code == 2 and "no user account 'nobody'" in data["error"]
    code, data = cli("project", "create", "study-two", "--title", "t", "--approval-ref", "x", "--purpose", "p",
                     "--pi", "alice", "--expiry", "2020-01-01")
    assert code == 2 and "expiry 2020-01-01 must be after start" in data["error"]
    code, data = cli("project", "create", "study-two", "--title", "t", "--approval-ref", "x", "--purpose", "p",
                     "--pi", "alice", "--expiry", "next week")
    assert code == 2 and "--expiry 'next week' is not a date" in data["error"]
    code, data = cli("project", "create", "study-two", "--title", "t", "--approval-ref", "x", "--purpose", "p",
                     "--pi", "alice", "--expiry", str(TODAY + timedelta(days=9)), "--mem", "100G")
    assert code == 2 and "above the maximum" in data["error"]
    assert cli("project", "list")[1] == []
    with session_scope() as s:
        assert audit.query(s, action="project.*") == []


def test_transitions_are_enforced(people):
    make_project()
    with session_scope() as s, pytest.raises(InvalidTransition, match="cannot go from requested to active"):
        transition(s, "steward", "study-one", ProjectState.ACTIVE, "skip approval")
    with session_scope() as s:
        transition(s, "steward", "study-one", ProjectState.CLOSED, "withdrawn")
    with session_scope() as s, pytest.raises(InvalidTransition, match=r"allowed: none"):
        transition(s, "steward", "study-one", ProjectState.ACTIVE, "reopen")


def test_only_active_members_with_researcher_role_may_start(people):
    make_project()
    with session_scope() as s:
        transition(s, "steward", "study-one", ProjectState.APPROVED, "ok")
        transition(s, "steward", "study-one", ProjectState.ACTIVE, "ok")
    with session_scope() as s:
        assert check_can_start(s, "alice", "study-one").slug == "study-one"
        with pytest.raises(NotAllowed, match="not a member of project 'study-one'"):
            check_can_start(s, "eve", "study-one")
        upsert_user(s, "steward", "alice", roles=["reviewer"])
    with session_scope() as s:
        with pytest.raises(NotAllowed, match="does not have the researcher role"):
            check_can_start(s, "alice", "study-one")
        upsert_user(s, "steward", "alice", roles=["researcher"])
        transition(s, "steward", "study-one", ProjectState.SUSPENDED, "audit finding")
    with session_scope() as s:
        assert projects_for(s, "alice")[0].reason == "project 'study-one' is suspended, not active (audit finding)"


def test_dataset_approval_respects_tiers_and_versions(people):
    settings = get_settings()
    policies = load_policies(REPO_ROOT / "policies")
    make_project()
    with session_scope() as s:
        src = settings.home / "src"
        write_cohort(src, rows=200)
        store_version(s, "steward", policies, settings.datasets_dir, src, name="cohort", version="v1", tier=2)
        store_version(s, "steward", policies, settings.datasets_dir, src, name="cohort", version="v2", tier=3)
    with session_scope() as s, pytest.raises(EnclaveError, match="already exists; versions are never overwritten"):
        store_version(s, "steward", policies, settings.datasets_dir, src, name="cohort", version="v1", tier=2)
    with session_scope() as s, pytest.raises(NotAllowed, match="refused by policy"):
        store_version(s, "steward", policies, settings.datasets_dir, src, name="ids", version="v1", tier=4)
    assert not (settings.datasets_dir / "ids").exists()
    assert cli("project", "approve-dataset", "study-one", "cohort@v1")[0] == 0
    code, data = cli("project", "approve-dataset", "study-one", "cohort@v2")
    assert code == 2 and "revoke it before approving another version" in data["error"]
    code, data = cli("project", "approve-dataset", "study-one", "cohort")
    assert code == 2 and "NAME@VERSION" in data["error"]
    assert cli("project", "revoke-dataset", "study-one", "cohort", "--reason", "new version")[0] == 0
    assert cli("project", "approve-dataset", "study-one", "cohort@v2")[0] == 0
    assert cli("project", "show", "study-one")[1]["datasets"] == ["cohort@v2"]
    stored = settings.datasets_dir / "cohort" / "v1" / "cohort.parquet"
    assert stored.stat().st_mode & 0o222 == 0  # sealed read-only
    with session_scope() as s:
        from sqlalchemy import select

        from enclave.models import Dataset

        tier4 = s.execute(select(Dataset).where(Dataset.version == "v1")).scalar_one()
        tier4.tier = 4
    with session_scope() as s, pytest.raises(NotAllowed, match="tier 4"):
        approve_dataset(s, "steward", "study-one", "cohort", "v1", {0, 1, 2, 3})


def test_closing_archives_read_only_and_purge_respects_retention(people):
    from datetime import UTC, datetime

    from enclave.archive import purge_archives

    make_project()
    ws = get_settings().projects_dir / "study-one" / "workspace"
    ws.mkdir(parents=True)
    (ws / "analysis.ipynb").write_text("{}")
    code, data = cli("project", "transition", "study-one", "closed", "--reason", "study finished")
    assert code == 0 and data["archive"]["files"] == 1
    archive = get_settings().projects_dir / "study-one" / "archive"
    assert not ws.exists() and (archive / "analysis.ipynb").stat().st_mode & 0o222 == 0
    assert (archive / "analysis.ipynb").stat().st_uid == 0
    code, data = cli("project", "purge-archives", "--dry-run")
    assert data["purged"] == [] and archive.exists()  # within the 365-day retention
    later = datetime.now(UTC) + timedelta(days=366)
    assert [d["project"] for d in purge_archives(get_settings(), 365, "steward", now=later)] == ["study-one"]
    assert not archive.exists()
    with session_scope() as s:
        assert [r["action"] for r in audit.query(s, action="workspace.*")] == ["workspace.archive", "workspace.purge"]


def test_expire_due_expires_projects_past_their_date(people):
    from sqlalchemy import update

    from enclave.models import Project

    make_project()
    with session_scope() as s:
        transition(s, "steward", "study-one", ProjectState.APPROVED, "ok")
        transition(s, "steward", "study-one", ProjectState.ACTIVE, "ok")
        s.execute(update(Project).values(expiry_date=TODAY - timedelta(days=1)))
    code, data = cli("project", "expire-due")
    assert code == 0 and [d["project"] for d in data] == ["study-one"]
    assert cli("project", "show", "study-one")[1]["state"] == "expired"
    assert cli("project", "expire-due")[1] == []


def test_suspending_works_while_the_container_engine_is_down(people, monkeypatch: pytest.MonkeyPatch):
    """No engine means no workspace runs (no live-restore): the suspension goes through and says so."""
    import docker

    def down() -> None:
        raise docker.errors.DockerException("Error while fetching server API version: connection refused")

    monkeypatch.setattr(docker, "from_env", down)
    make_project()
    with session_scope() as s:
        transition(s, "steward", "study-one", ProjectState.APPROVED, "ok")
        transition(s, "steward", "study-one", ProjectState.ACTIVE, "ok")
    code, data = cli("project", "transition", "study-one", "suspended", "--reason", "audit finding")
    assert code == 0 and data["state"] == "suspended" and data["stopped_workspaces"] == []
