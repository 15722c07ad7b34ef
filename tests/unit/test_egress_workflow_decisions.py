"""The workflow's own gates, which the service calls before it shows or sends anything: a file is downloaded
only if it was released, a review or resolution is previewed only by someone the rule allows, and every
refusal is on the record. Found untested by the mutation benchmark (benchmarks/mutation.py).

The `world` fixture: project `study` (alice, PI; dave, researcher *and* reviewer); reviewers bob, carol, rita
in no project.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from egress_review import workflow
from enclave import audit
from enclave.db import session_scope
from enclave.errors import InvalidTransition, NotAllowed, NotFound
from enclave.models import Decision, ExportState
from tests.egress_helpers import CLEAN, FLAGGED, conflict, submit
from tests.identifiers import RID

BLOCKED = ("ids.txt", f"id {RID}".encode())
SECOND = ("other.csv", b"region,n\neast,150\nwest,120\n")


def review(who: str, rid: int, by_name: dict[str, str]) -> None:
    """An approving review voting per file by name (`approve`, `changes`), then the release if it is due."""
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        votes = {str(f.id): {"decision": by_name[f.name], "comment": "checked"} for f in req.files}
        workflow.review(s, who, rid, Decision.APPROVE, votes)
        workflow.settle(s, rid)


def file_ids(rid: int) -> dict[str, str]:
    with session_scope() as s:
        return {f.name: str(f.id) for f in workflow.get_request(s, rid).files}


def refusals(action: str) -> list[tuple[str, str, dict[str, object]]]:
    with session_scope() as s:
        return [(e["actor"], e["target"], e["details"]) for e in audit.query(s, action=action)]


def download(who: str, rid: int, file_id: str) -> str:
    with session_scope() as s:
        return workflow.downloadable_file(s, who, rid, file_id)[1].name


# --- downloads, file by file ----------------------------------------------------------------------


@pytest.fixture
def released(world: Path) -> int:
    """Released: table.csv approved by both; other.csv returned by both (withheld); ids.txt blocked."""
    rid = submit(world, [CLEAN, SECOND, BLOCKED])
    votes = {"table.csv": "approve", "other.csv": "changes", "ids.txt": "changes"}
    review("bob", rid, votes)
    review("carol", rid, votes)
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.RELEASED
    return rid


def test_the_requester_downloads_the_released_file_of_a_released_request(released: int):
    assert download("alice", released, file_ids(released)["table.csv"]) == "table.csv"
    assert refusals("export.download.refused") == []


def test_a_file_both_reviewers_withheld_is_never_downloaded_and_says_why(released: int):
    fid = file_ids(released)["other.csv"]
    with pytest.raises(NotAllowed, match="file 'other.csv' is returned: it is withheld") as exc:
        download("alice", released, fid)
    assert refusals("export.download.refused") == [
        ("alice", f"request:{released}", {"file": fid, "reason": str(exc.value)})]


def test_a_blocked_file_of_a_released_request_is_never_downloaded(released: int):
    fid = file_ids(released)["ids.txt"]
    with pytest.raises(NotAllowed, match="'ids.txt' has blocking findings") as exc:
        download("alice", released, fid)
    assert refusals("export.download.refused") == [
        ("alice", f"request:{released}", {"file": fid, "reason": str(exc.value)})]


def test_a_file_not_in_the_request_is_no_such_file(released: int):
    with pytest.raises(NotFound, match=f"request {released} has no file 999") as exc:
        download("alice", released, "999")
    assert refusals("export.download.refused") == [
        ("alice", f"request:{released}", {"file": "999", "reason": str(exc.value)})]


def test_a_reviewer_never_downloads_a_released_file(released: int):
    with pytest.raises(NotAllowed, match="requester only"):
        download("bob", released, file_ids(released)["table.csv"])
    assert [a for a, _, _ in refusals("export.download.refused")] == ["bob"]


def test_no_file_is_downloaded_before_the_request_is_released(world: Path):
    rid = submit(world)
    review("bob", rid, {"table.csv": "approve"})  # one approval: in review
    with pytest.raises(NotAllowed, match="in_review: nothing is released"):
        download("alice", rid, file_ids(rid)["table.csv"])


# --- the preview before a review or a resolution --------------------------------------------------


def preview(who: str, rid: int, resolving: bool = False) -> int:
    """The preview before a decision: a review's by default, a resolution's when asked."""
    with session_scope() as s:
        if resolving:
            return workflow.decidable(s, who, rid, resolving=True).id
        return workflow.decidable(s, who, rid).id


def test_an_independent_reviewer_previews_a_review_and_nothing_is_recorded(world: Path):
    rid = submit(world)
    assert preview("bob", rid) == rid
    assert refusals("export.*.refused") == []


def test_the_requester_who_is_a_reviewer_is_refused_the_preview_of_her_own_review(world: Path):
    rid = submit(world, who="dave")
    with pytest.raises(NotAllowed, match="cannot review your own") as exc:
        preview("dave", rid)
    assert refusals("export.review.refused") == [("dave", f"request:{rid}", {"step": "preview",
                                                                            "reason": str(exc.value)})]


def test_a_project_member_is_told_nothing_by_the_preview_and_is_recorded(world: Path):
    rid = submit(world)
    with pytest.raises(NotFound, match=f"no export request {rid}") as exc:
        preview("dave", rid)
    assert refusals("export.review.refused") == [("dave", f"request:{rid}", {"step": "preview",
                                                                            "reason": str(exc.value)})]


def test_a_request_in_review_is_not_previewed_for_a_resolution(world: Path):
    rid = submit(world)
    with pytest.raises(InvalidTransition, match="not conflicted") as exc:
        preview("bob", rid, resolving=True)
    assert refusals("export.resolve.refused") == [("bob", f"request:{rid}", {"step": "preview",
                                                                           "reason": str(exc.value)})]
    assert refusals("export.review.refused") == []


def test_only_a_third_reviewer_previews_the_resolution_of_a_conflict(world: Path):
    rid = conflict(world)
    assert preview("rita", rid, resolving=True) == rid
    with pytest.raises(NotAllowed, match="third reviewer who reviewed neither side") as bob:
        preview("bob", rid, resolving=True)
    with pytest.raises(NotAllowed, match="not open for review") as rita:
        preview("rita", rid)  # a conflict takes no third review
    assert refusals("export.resolve.refused") == [("bob", f"request:{rid}", {"step": "preview",
                                                                           "reason": str(bob.value)})]
    assert refusals("export.review.refused") == [("rita", f"request:{rid}", {"step": "preview",
                                                                           "reason": str(rita.value)})]


# --- reading a stored file -------------------------------------------------------------------------


def read(who: str, rid: int, file_id: str) -> str:
    with session_scope() as s:
        req, f = workflow.visible_file(s, who, rid, file_id)
        assert req.id == rid
        return f.name


def test_a_reviewer_reads_the_stored_file_asked_for_and_no_other(world: Path):
    rid = submit(world, [CLEAN, SECOND])
    ids = file_ids(rid)
    assert [read("bob", rid, ids[name]) for name in ("other.csv", "table.csv")] == ["other.csv", "table.csv"]
    assert read("alice", rid, ids["table.csv"]) == "table.csv"
    assert refusals("export.inspect.refused") == []


def test_a_stored_file_not_in_the_request_is_no_such_file_and_the_attempt_is_recorded(world: Path):
    rid = submit(world)
    with pytest.raises(NotFound, match=f"request {rid} has no file 999") as exc:
        read("bob", rid, "999")
    assert refusals("export.inspect.refused") == [("bob", f"request:{rid}", {"file": "999",
                                                                            "reason": str(exc.value)})]


def test_a_project_member_who_may_not_see_the_request_reads_none_of_its_files(world: Path):
    rid = submit(world)
    fid = file_ids(rid)["table.csv"]
    with pytest.raises(NotFound, match=f"no export request {rid}") as exc:
        read("dave", rid, fid)
    assert refusals("export.inspect.refused") == [("dave", f"request:{rid}", {"file": fid,
                                                                             "reason": str(exc.value)})]


# --- the release and its record ---------------------------------------------------------------------


def test_the_release_record_lists_what_left_what_was_withheld_and_who_decided(released: int):
    from enclave import __version__

    with session_scope() as s:
        req = workflow.get_request(s, released)
        record, by_name = req.release.record, {f.name: f for f in req.files}
        out, kept = by_name["table.csv"], [by_name["other.csv"], by_name["ids.txt"]]
        assert (record["request"], record["project"], record["requester"]) == (released, "study", "alice")
        assert (record["justification"], record["version"], record["revision_of"]) == (req.justification, 1, None)
        assert record["submitted_at"][:19] == req.created_at.isoformat()[:19] <= record["released_at"][:19]
        assert datetime.fromisoformat(record["released_at"]).utcoffset() == timedelta(0)  # UTC, said so
        assert record["files"] == [{"id": out.id, "name": "table.csv", "sha256": out.sha256, "bytes": out.size,
                                    "verdict": out.verdict, "findings": out.scan.get("findings", [])}]
        assert record["withheld"] == [{"id": f.id, "name": f.name, "sha256": f.sha256, "verdict": f.verdict,
                                       "outcome": "returned"} for f in kept]
        assert record["checks_run"] == ["file-type", "personal-data", "own-data", "row-level", "disclosure-control",
                                        "model"]
        assert record["rules"] == out.scan["rules"] and record["rules"]["sdc"]["threshold"] == 10
        assert [(r["reviewer"], r["decision"], r["files"], r["at"][:19]) for r in record["reviews"]] == [
            (r.reviewer, "approve", r.file_votes, r.created_at.isoformat()[:19]) for r in req.reviews]
        assert (record["resolution"], record["resolved_by"], record["resolution_files"]) == (None, None, None)
        assert record["tool_versions"]["enclave"] == __version__ and "polars" in record["tool_versions"]
        assert record["jobs"] == [] and req.release.released_by == "system"
        [event] = audit.query(s, action="export.released")
        assert (event["actor"], event["target"]) == ("system", f"request:{released}")
        assert event["details"]["files"] == [out.sha256]
        assert event["details"]["withheld"] == [f.sha256 for f in kept]
        assert event["details"]["before"] == "approved"


def test_a_resolved_release_records_the_resolver_her_reason_and_her_votes(world: Path):
    rid = conflict(world)
    with session_scope() as s:
        votes = {fid: {"decision": "approve", "comment": "checked"} for fid in file_ids(rid).values()}
        workflow.resolve(s, "rita", rid, Decision.APPROVE, votes, "aggregate enough")
        workflow.settle(s, rid)
    with session_scope() as s:
        record = workflow.get_request(s, rid).release.record
    assert (record["resolution"], record["resolved_by"], record["resolution_files"]) == (
        "aggregate enough", "rita", votes)


def test_a_request_is_released_once_and_only_when_approved(world: Path):
    rid = submit(world)
    review("bob", rid, {"table.csv": "approve"})
    with session_scope() as s, pytest.raises(InvalidTransition, match=f"request {rid} is in_review, not approved"):
        workflow.release(s, "admin", rid)
    with session_scope() as s:
        assert workflow.settle(s, rid) is None
    review("carol", rid, {"table.csv": "approve"})  # settles: released by the system
    with session_scope() as s:
        with pytest.raises(InvalidTransition, match=f"request {rid} is released, not approved"):
            workflow.release(s, "admin", rid)
        assert workflow.settle(s, rid) is None
        assert len(audit.query(s, action="export.released")) == 1


def test_a_request_marked_approved_without_an_approved_file_releases_nothing(world: Path):
    """Defence in depth: whatever set the state, the release itself asks the file rule again."""
    rid = submit(world)
    review("bob", rid, {"table.csv": "approve"})  # one approval only: the file is not approved by two
    with session_scope() as s:
        workflow.get_request(s, rid).state = ExportState.APPROVED
    with session_scope() as s, pytest.raises(InvalidTransition, match=f"request {rid} has no approved file to release"):
        workflow.release(s, "admin", rid)
    with session_scope() as s:
        assert workflow.get_request(s, rid).release is None and audit.query(s, action="export.released") == []


def test_a_released_request_set_back_to_approved_is_not_released_again(released: int):
    with session_scope() as s:
        workflow.get_request(s, released).state = ExportState.APPROVED
    with session_scope() as s, pytest.raises(InvalidTransition, match=f"request {released} is already released"):
        workflow.release(s, "admin", released)


def test_someone_without_an_account_is_told_only_that_there_is_no_such_request(world: Path):
    rid = submit(world)
    fid = file_ids(rid)["table.csv"]
    for attempt in (lambda: read("mallory", rid, fid), lambda: preview("mallory", rid),
                    lambda: download("mallory", rid, fid)):
        with pytest.raises(NotFound) as exc:
            attempt()
        assert str(exc.value) == f"no export request {rid}"  # not "no user account": nothing about accounts


def test_a_released_flagged_file_carries_its_findings_into_the_release_record(world: Path):
    rid = submit(world, [FLAGGED])
    review("bob", rid, {"notes.txt": "approve"})  # each approval carries a comment ("checked")
    review("carol", rid, {"notes.txt": "approve"})
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        [listed] = req.release.record["files"]
        assert listed["findings"] == req.files[0].scan["findings"] and listed["findings"]
        assert listed["verdict"] == "review"
