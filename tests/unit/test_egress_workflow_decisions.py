"""The workflow's own gates, which the service calls before it shows or sends anything: a file is downloaded
only if it was released, a review or resolution is previewed only by someone the rule allows, and every
refusal is on the record. Found untested by the mutation benchmark (benchmarks/mutation.py).

The `world` fixture: project `study` (alice, PI; dave, researcher *and* reviewer); reviewers bob, carol, rita
in no project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from egress_review import workflow
from enclave import audit
from enclave.db import session_scope
from enclave.errors import InvalidTransition, NotAllowed, NotFound
from enclave.models import Decision, ExportState
from tests.egress_helpers import CLEAN, conflict, submit
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
    with session_scope() as s:
        return workflow.decidable(s, who, rid, resolving=resolving).id


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
