"""The review workflow: two independent, blind reviewers; nobody reviews their own; blocks stay blocked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from egress_review import rules, workflow
from enclave import audit
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed
from enclave.models import Decision, ExportState, ProjectState
from enclave.projects import add_member, create_project, today, transition, upsert_user
from enclave.settings import REPO_ROOT
from policies import load_policies
from tests.identifiers import RID

POLICY = load_policies(REPO_ROOT / "policies").egress
CLEAN = ("table.csv", b"diagnosis,n\nE11,120\nI10,85\n")


@pytest.fixture
def world(enclave_home: Path) -> Path:
    with session_scope() as s:
        for name, roles in [("alice", ["researcher"]), ("dave", ["researcher", "reviewer"]), ("bob", ["reviewer"]),
                            ("carol", ["reviewer"]), ("rita", ["reviewer"]), ("eve", ["researcher"])]:
            upsert_user(s, "admin", name, roles=roles)
        create_project(s, "admin", slug="study", title="S", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        add_member(s, "admin", "study", "dave")
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
    return enclave_home / "store"


def submit(store: Path, files=(CLEAN,), who: str = "alice") -> int:
    with session_scope() as s:
        return workflow.submit(s, who, "study", list(files), "aggregate table for paper", store, POLICY).id


def votes(request_id: int, decision: str = "approve", comment: str = "") -> dict:
    with session_scope() as s:
        req = workflow.get_request(s, request_id)
        return {str(f.id): {"decision": decision, "comment": comment} for f in req.files}


def decide(reviewer: str, rid: int, decision: Decision = Decision.APPROVE, comment: str = ""):
    with session_scope() as s:
        vote = "approve" if decision == Decision.APPROVE else "changes"
        return workflow.review(s, reviewer, rid, decision, votes(rid, vote, comment),
                               comment_to_requester=comment).state


def test_two_approvals_then_release_with_a_full_record(world: Path):
    rid = submit(world)
    assert decide("bob", rid) == ExportState.IN_REVIEW
    assert decide("carol", rid) == ExportState.APPROVED
    with session_scope() as s:
        rel = workflow.release(s, "bob", rid)
        rec = rel.record
    assert [r["reviewer"] for r in rec["reviews"]] == ["bob", "carol"]
    assert rec["files"][0]["sha256"] and rec["rules"]["sdc"]["threshold"] == 10 and rec["tool_versions"]["enclave"]
    with session_scope() as s:
        with pytest.raises(InvalidTransition, match="already released|not approved"):
            workflow.release(s, "bob", rid)
        assert [r["action"] for r in audit.query(s, action="export.*")] == [
            "export.submit", "export.in_review", "export.review", "export.review", "export.approved",
            "export.released"]
        req = workflow.get_request(s, rid)
        rules.check_can_download(req, "alice")
        with pytest.raises(NotAllowed, match="requester only"):
            rules.check_can_download(req, "dave")


def test_nobody_reviews_their_own_or_their_projects_requests(world: Path):
    rid = submit(world)
    with pytest.raises(NotAllowed, match="only users with the reviewer role"):
        decide("alice", rid)
    with pytest.raises(NotAllowed, match="member of project 'study'"):
        decide("dave", rid)
    decide("bob", rid)
    with pytest.raises(NotAllowed, match="already reviewed"):
        decide("bob", rid)
    decide("carol", rid)
    with pytest.raises(NotAllowed, match="not open for review"):
        decide("rita", rid)


def test_blocked_files_cannot_be_approved_and_flagged_files_need_a_comment(world: Path):
    rid = submit(world, [("ids.txt", f"id {RID}".encode())])
    with pytest.raises(NotAllowed, match="blocking findings"):
        decide("bob", rid)
    assert decide("bob", rid, Decision.RETURN, comment="remove the identifiers") == ExportState.IN_REVIEW
    rid2 = submit(world, [("page.html", b"<html><body><img src=x onerror=alert(1)>n=120</body></html>")])
    with pytest.raises(NotAllowed, match="need a reviewer comment"):
        decide("bob", rid2)
    assert decide("bob", rid2, comment="script is inert; numbers fine") == ExportState.IN_REVIEW


def test_blind_until_both_decided_and_conflicts_are_resolved_explicitly(world: Path):
    rid = submit(world)
    decide("bob", rid)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert rules.visible_reviews(req, "carol") == [] and rules.visible_reviews(req, "bob") == ["bob"]
    assert decide("carol", rid, Decision.REJECT, comment="too granular") == ExportState.CONFLICTED
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert rules.visible_reviews(req, "carol") == ["bob", "carol"]
        with pytest.raises(NotAllowed, match="only the request's reviewers"):
            workflow.resolve(s, "rita", rid, Decision.APPROVE, "fine")
        with pytest.raises(EnclaveError, match="needs a reason"):
            workflow.resolve(s, "bob", rid, Decision.APPROVE, "")
        assert workflow.resolve(s, "bob", rid, Decision.RETURN, "agreed to aggregate further").state == \
            ExportState.RETURNED


def test_withdraw_and_who_may_submit(world: Path):
    rid = submit(world)
    with session_scope() as s:
        with pytest.raises(NotAllowed, match="only the requester"):
            workflow.withdraw(s, "dave", rid)
        assert workflow.withdraw(s, "alice", rid).state == ExportState.WITHDRAWN
    with pytest.raises(NotAllowed, match="not a member"):
        submit(world, who="eve")
    with session_scope() as s, pytest.raises(EnclaveError, match="justification"):
        workflow.submit(s, "alice", "study", [CLEAN], " ", world, POLICY)


def test_files_are_copied_by_content_at_request_time(world: Path):
    rid = submit(world)
    with session_scope() as s:
        f = workflow.get_request(s, rid).files[0]
    blob = world / f.sha256[:2] / f.sha256
    assert blob.read_bytes() == CLEAN[1] and blob.stat().st_mode & 0o222 == 0


def test_what_requesters_and_reviewers_see_and_settle_releases(world: Path):
    from egress_review.views import request_view

    rid = submit(world)
    with session_scope() as s:
        workflow.review(s, "bob", rid, Decision.APPROVE, votes(rid), private_comment="checked rounding")
        req = workflow.get_request(s, rid)
        assert "comments" not in request_view(req, "alice")  # nothing for the requester before the end
        assert request_view(req, "carol", reviewer=True)["reviews"] == []  # blind
        assert workflow.settle(s, rid) is None  # not approved yet: nothing released
        workflow.review(s, "carol", rid, Decision.APPROVE, votes(rid), comment_to_requester="fine")
        rel = workflow.settle(s, rid)
        assert rel is not None and rel.released_by == "system" and req.state == ExportState.RELEASED
        mine = request_view(req, "alice")
        assert mine["comments"] == ["fine"] and "checked rounding" not in str(mine)
        assert [d["sha256"] for d in mine["downloads"]] == [f.sha256 for f in req.files]
        assert "downloads" not in request_view(req, "bob", reviewer=True)
        assert [r["reviewer"] for r in request_view(req, "carol", reviewer=True)["reviews"]] == ["bob", "carol"]


def test_cli_lists_and_shows_requests(world: Path):
    import json

    from click.testing import CliRunner

    from enclave.cli import main

    rid = submit(world)
    out = CliRunner().invoke(main, ["egress", "list", "--state", "submitted", "--json"])
    assert out.exit_code == 0 and [r["id"] for r in json.loads(out.output)] == [rid]
    out = CliRunner().invoke(main, ["egress", "show", str(rid), "--json"])
    assert json.loads(out.output)["files"][0]["name"] == "table.csv"
    out = CliRunner().invoke(main, ["egress", "show", "999", "--json"])
    assert out.exit_code == 2 and "no export request 999" in out.output



def test_the_same_content_stored_at_once_from_many_threads(tmp_path: Path):
    """The service submits from several threads: the same file sent at once is stored once, no call fails."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    data = b"g,n\n" + b"a,120\n" * 1_000_000
    start = threading.Barrier(8)

    def one(_: int) -> str:
        start.wait()
        return workflow.store_blob(tmp_path, data)

    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            digests = set(pool.map(one, range(8)))
        assert len(digests) == 1
        stored = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert len(stored) == 1 and stored[0].read_bytes() == data and not list(tmp_path.rglob("*.tmp"))
        stored[0].unlink()


def test_a_request_full_of_identifiers_keeps_examples_and_a_count(world: Path):
    phones = "\n".join(f"{i},1381234{i:04d}" for i in range(300))
    with session_scope() as s:
        req = workflow.submit(s, "alice", "study", [("extract.csv", f"id,phone\n{phones}\n".encode())], "extract",
                              world, POLICY)
        scan = req.files[0].scan
    phone = [f for f in scan["findings"] if f.get("location", {}).get("column") == "phone"]
    assert scan["verdict"] == "block" and len(phone) == workflow.FINDINGS_PER_KIND + 1
    assert phone[-1]["location"]["omitted"] == 300 - workflow.FINDINGS_PER_KIND and "300 in all" in phone[-1]["detail"]
