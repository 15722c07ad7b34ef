"""Requests from a workspace are limited per request and per project per day; every refusal says why
and is audited; files wait on the host, never whole in memory, and nothing is left behind."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from egress_review import intake
from enclave import audit
from enclave.db import session_scope
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import ExportRequest, ProjectState
from enclave.projects import create_project, today, transition, upsert_user
from enclave.settings import REPO_ROOT, Settings, get_settings
from policies import load_policies
from tests.unit.test_egress_collect import make_workspace

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reading as the workspace user needs root to start")

POLICY = load_policies(REPO_ROOT / "policies").egress


@pytest.fixture
def study(enclave_home: Path) -> Settings:
    """Project `study` (alice), active, with ten small tables in its workspace."""
    with session_scope() as s:
        upsert_user(s, "admin", "alice", roles=["researcher"])
        create_project(s, "admin", slug="study", title="S", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
    settings = get_settings()
    (settings.projects_dir / "study").mkdir(parents=True)
    ws = make_workspace(settings.projects_dir / "study")
    for i in range(10):
        (ws / f"t{i}.csv").write_text(f"diagnosis,n\nE1{i},{120 + i}\nI10,85\n")
    return settings


def request(settings: Settings, paths: list[str], policy=POLICY) -> int:  # type: ignore[no-untyped-def]
    return intake.from_workspace(settings, policy, "alice", "study", paths, "aggregate tables", {},
                                 lambda s, slug: None)


def refusals() -> list[str]:
    with session_scope() as s:
        return [e["details"]["reason"] for e in audit.query(s, action=intake.REFUSED)]


def test_a_request_is_read_from_the_workspace_checked_and_staging_is_emptied(study: Settings):
    rid = request(study, ["t0.csv", "/workspace/t1.csv"])
    with session_scope() as s:
        req = s.get(ExportRequest, rid)
        assert [f.name for f in req.files] == ["t0.csv", "t1.csv"] and all(f.size > 0 for f in req.files)
    assert list(study.egress_staging.iterdir()) == [] and refusals() == []


def test_too_many_files_in_one_request_are_refused_and_audited(study: Settings):
    policy = POLICY.model_copy(update={"max_files_per_request": 3})
    with pytest.raises(NotAllowed, match="at most 3 files; this one names 4"):
        request(study, [f"t{i}.csv" for i in range(4)], policy)
    assert refusals() == ["a request may name at most 3 files; this one names 4: split it, or put the files in "
                          "one zip archive"]


def test_a_path_named_twice_is_refused(study: Settings):
    with pytest.raises(EnclaveError, match="named only once in a request; named more than once: t0.csv"):
        request(study, ["t0.csv", "t1.csv", "/workspace/t0.csv"])
    assert len(refusals()) == 1


def test_the_total_size_of_a_request_is_limited_and_nothing_is_kept(study: Settings):
    policy = POLICY.model_copy(update={"max_request_bytes": 40})
    with pytest.raises(EnclaveError, match="over the limit of 40 per request"):
        request(study, ["t0.csv", "t1.csv"], policy)
    assert "over the limit of 40 per request" in refusals()[0]
    assert list(study.egress_staging.iterdir()) == []
    with session_scope() as s:
        assert s.query(ExportRequest).count() == 0


def test_requests_per_project_per_day_are_limited(study: Settings):
    policy = POLICY.model_copy(update={"max_requests_per_day": 2})
    first = request(study, ["t0.csv"], policy)
    request(study, ["t1.csv"], policy)
    with pytest.raises(NotAllowed, match="made 2 export requests in the last 24 hours, the most policy allows"):
        request(study, ["t2.csv"], policy)
    with session_scope() as s:  # a day later the first one no longer counts
        s.get(ExportRequest, first).created_at = datetime.now(UTC) - timedelta(hours=25)
    assert request(study, ["t2.csv"], policy)
    assert len(refusals()) == 1


def test_files_per_project_per_day_are_limited(study: Settings):
    policy = POLICY.model_copy(update={"max_files_per_day": 3})
    request(study, ["t0.csv", "t1.csv"], policy)
    with pytest.raises(NotAllowed, match="requested 2 files in the last 24 hours; 2 more would pass the limit of 3"):
        request(study, ["t2.csv", "t3.csv"], policy)
    assert request(study, ["t2.csv"], policy)


def test_a_name_with_a_direction_override_is_refused_at_request_time_and_audited(study: Settings):
    ws = study.projects_dir / "study" / "workspace"
    (ws / "report\u202evsc.exe").write_text("g,n\na,50\n")
    with pytest.raises(EnclaveError, match=r"invisible or direction-changing characters \(U\+202E\)"):
        request(study, ["report\u202evsc.exe"])
    with session_scope() as s:
        (event,) = audit.query(s, action=intake.REFUSED)
    assert event["actor"] == "alice" and event["project"] == "study"
    assert event["details"]["files"] == ["report<U+202E>vsc.exe"]  # the trail never shows the disguise either


def test_a_link_in_the_workspace_is_refused_and_audited(study: Settings):
    ws = study.projects_dir / "study" / "workspace"
    (ws / "secrets").symlink_to(study.secrets_dir)
    with pytest.raises(EnclaveError, match="'secrets' is a symbolic link"):
        request(study, ["secrets/audit.key"])
    assert refusals() == ["secrets/audit.key: 'secrets' is a symbolic link; symbolic links are refused"]
