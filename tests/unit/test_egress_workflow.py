"""The review workflow: two independent, blind reviewers; nobody reviews their own; blocks stay blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress_review import rules, workflow
from enclave import audit
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound
from enclave.models import Decision, ExportState, FileVote
from tests.egress_helpers import CLEAN, FLAGGED, POLICY, conflict, decide, resolve, submit, votes
from tests.identifiers import RID


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
        assert workflow.downloadable(s, "alice", rid) is req
        with pytest.raises(NotAllowed, match="requester only"):
            workflow.downloadable(s, "bob", rid)


def test_nobody_reviews_their_own_or_their_projects_requests(world: Path):
    rid = submit(world)
    with pytest.raises(NotAllowed, match="only users with the reviewer role"):
        decide("alice", rid)
    with pytest.raises(NotFound, match=f"no export request {rid}"):  # a member may not see it: told nothing
        decide("dave", rid)
    decide("bob", rid)
    with pytest.raises(NotAllowed, match="already reviewed"):
        decide("bob", rid)
    decide("carol", rid)
    with pytest.raises(NotFound, match=f"no export request {rid}"):  # not "approved": rita may not see it
        decide("rita", rid)


def test_blocked_files_cannot_be_approved_and_flagged_files_need_a_comment(world: Path):
    rid = submit(world, [("ids.txt", f"id {RID}".encode())])
    with pytest.raises(NotAllowed, match="blocking findings"):
        decide("bob", rid)
    assert decide("bob", rid, Decision.RETURN, comment="remove the identifiers") == ExportState.IN_REVIEW
    rid2 = submit(world, [FLAGGED])
    with pytest.raises(NotAllowed, match="need a reviewer comment"):
        decide("bob", rid2)
    assert decide("bob", rid2, comment="a contact name, not a participant") == ExportState.IN_REVIEW


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
    with pytest.raises(EnclaveError, match="needs a reason"):
        resolve("rita", rid, Decision.RETURN, FileVote.CHANGES, reason=" ")
    assert resolve("rita", rid, Decision.RETURN, FileVote.CHANGES, "aggregate further") == ExportState.RETURNED


def test_withdraw_and_who_may_submit(world: Path):
    rid = submit(world)
    with session_scope() as s:
        with pytest.raises(NotFound, match=f"no export request {rid}"):
            workflow.withdraw(s, "dave", rid)  # a project member who may not see it
        with pytest.raises(NotAllowed, match="only the requester"):
            workflow.withdraw(s, "bob", rid)  # a reviewer who may see it
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

    from enclave_ops.cli import main

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


# --- conflicts: resolved by a third reviewer, under every rule a review obeys ----------------------


@pytest.mark.parametrize(("decision", "vote", "outcome"), [
    (Decision.APPROVE, FileVote.APPROVE, ExportState.RELEASED),
    (Decision.RETURN, FileVote.CHANGES, ExportState.RETURNED),
    (Decision.REJECT, FileVote.REJECT, ExportState.REJECTED),
])
def test_a_third_reviewer_resolves_a_conflict_with_each_decision(world: Path, decision, vote, outcome):
    rid = conflict(world)
    assert resolve("rita", rid, decision, vote, reason="checked both views") in {outcome, ExportState.APPROVED}
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == outcome and req.resolved_by == "rita" and req.resolution == "checked both views"
        assert {v["decision"] for v in req.resolution_votes.values()} == {vote.value}
        resolved = [e for e in audit.query(s, action="export.*") if e["actor"] == "rita"]
        assert resolved and resolved[0]["details"]["decision"] == decision.value
        if outcome == ExportState.RELEASED:
            assert req.release.record["resolved_by"] == "rita"
            assert [r["reviewer"] for r in req.release.record["reviews"]] == ["bob", "carol"]


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_neither_reviewer_of_a_conflict_can_resolve_it(world: Path, who: str):
    rid = conflict(world)
    with pytest.raises(NotAllowed, match="third reviewer who reviewed neither side"):
        resolve(who, rid, Decision.APPROVE, FileVote.APPROVE)
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.CONFLICTED


def test_the_requester_and_project_members_cannot_resolve(world: Path):
    rid = conflict(world)
    with pytest.raises(NotAllowed, match="only users with the reviewer role can resolve"):
        resolve("alice", rid, Decision.APPROVE, FileVote.APPROVE)
    with pytest.raises(NotFound, match=f"no export request {rid}"):
        resolve("dave", rid, Decision.APPROVE, FileVote.APPROVE)
    own = conflict(world, who="dave")  # dave is a reviewer too, and asked for this one
    with pytest.raises(NotAllowed, match="cannot resolve your own"):
        resolve("dave", own, Decision.APPROVE, FileVote.APPROVE)


def test_a_resolution_releases_the_approved_file_and_never_the_blocked_one(world: Path):
    rid = conflict(world, [CLEAN, ("ids.txt", f"id {RID}".encode())])
    with pytest.raises(NotAllowed, match="'ids.txt' has blocking findings"):
        resolve("rita", rid, Decision.APPROVE, FileVote.APPROVE)
    mixed = votes(rid, FileVote.APPROVE, comment="fine")
    with session_scope() as s:
        blocked = next(str(f.id) for f in workflow.get_request(s, rid).files if f.name == "ids.txt")
    mixed[blocked] = {"decision": FileVote.CHANGES.value, "comment": "remove the identifiers"}
    assert resolve("rita", rid, Decision.APPROVE, mixed) == ExportState.APPROVED
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.RELEASED
        assert [f["name"] for f in req.release.record["files"]] == ["table.csv"]
        assert req.release.record["withheld"][0]["name"] == "ids.txt"


def test_a_resolution_approves_a_flagged_file_only_with_a_comment(world: Path):
    rid = conflict(world, [FLAGGED])
    with pytest.raises(NotAllowed, match="need a reviewer comment"):
        resolve("rita", rid, Decision.APPROVE, votes(rid, FileVote.APPROVE, comment=""))
    with pytest.raises(NotAllowed, match="no decision given for file 'notes.txt'"):
        resolve("rita", rid, Decision.APPROVE, {})
    unanswered = {fid: {"decision": "", "comment": "x"} for fid in votes(rid)}  # a form left blank
    with pytest.raises(NotAllowed, match="no decision given for file 'notes.txt'"):
        resolve("rita", rid, Decision.APPROVE, unanswered)
    assert resolve("rita", rid, Decision.APPROVE, votes(rid, FileVote.APPROVE, comment="script inert")) == \
        ExportState.APPROVED


def test_a_conflict_needs_the_reviewer_role_now_and_an_open_project(world: Path):
    from enclave.models import ProjectState
    from enclave.projects import transition, upsert_user

    rid = conflict(world)
    with session_scope() as s:
        upsert_user(s, "admin", "rita", roles=["researcher"])
    with pytest.raises(NotFound, match=f"no export request {rid}"):
        resolve("rita", rid, Decision.APPROVE, FileVote.APPROVE)
    with session_scope() as s:
        upsert_user(s, "admin", "rita", roles=["reviewer"])
        transition(s, "admin", "study", ProjectState.SUSPENDED, "audit")
    with pytest.raises(NotFound, match=f"no export request {rid}"):
        resolve("rita", rid, Decision.APPROVE, FileVote.APPROVE)
    with session_scope() as s:  # the rule says why, but not the reason the project was given: rita is no member
        req = workflow.get_request(s, rid)
        with pytest.raises(NotAllowed, match=r"suspended, not active: its export requests cannot be resolved"):
            rules.check_can_resolve(req, *workflow.parties(s, "rita", req))


def test_an_unknown_file_vote_is_refused_by_name(world: Path):
    rid = submit(world)
    bad = votes(rid)
    next(iter(bad.values()))["decision"] = "return"
    with session_scope() as s, pytest.raises(EnclaveError, match="'table.csv': unknown decision 'return'"):
        workflow.review(s, "bob", rid, Decision.APPROVE, bad)


def test_votes_for_files_not_in_the_request_are_refused(world: Path):
    rid = submit(world)
    extra = {**votes(rid), "999": {"decision": FileVote.APPROVE.value, "comment": ""}}
    with session_scope() as s, pytest.raises(EnclaveError, match=f"request {rid} has no file.s. 999"):
        workflow.review(s, "bob", rid, Decision.APPROVE, extra)


@pytest.mark.parametrize("decision", [Decision.RETURN, Decision.REJECT])
def test_returning_or_rejecting_needs_a_comment_to_the_requester(world: Path, decision: Decision):
    rid = submit(world)
    with session_scope() as s, pytest.raises(EnclaveError, match="needs a comment to the requester"):
        workflow.review(s, "bob", rid, decision, votes(rid, FileVote.CHANGES), comment_to_requester=" ")


# --- two reviews at once ----------------------------------------------------------------------------


def test_simultaneous_reviews_on_postgresql_never_make_a_third_review_or_a_stale_state(world: Path, monkeypatch):
    """Three reviewers post at the same moment; each holds its transaction open after reading the request.

    Without the row lock all three read "no reviews yet": three reviews are stored and the request stays
    in review. With it, the second and third wait, read what the first wrote, and one is refused.
    """
    import os
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    if not os.environ["ENCLAVE_DB_URL"].startswith("postgresql"):
        pytest.skip("row locks are a PostgreSQL matter: SQLite refuses a second writer outright")
    rid = submit(world)
    ballots = votes(rid)
    check = rules.check_can_review

    def slow_check(*args, **kwargs):  # the window between reading the request and writing the review
        check(*args, **kwargs)
        time.sleep(0.5)

    monkeypatch.setattr(rules, "check_can_review", slow_check)
    start = threading.Barrier(3)

    def one(reviewer: str) -> str:
        start.wait()
        try:
            with session_scope() as s:
                return workflow.review(s, reviewer, rid, Decision.APPROVE, ballots).state.value
        except EnclaveError as exc:
            return str(exc)

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, ["bob", "carol", "rita"]))
    # the third reads the approved request under the lock: no longer hers to see, so told nothing of it
    assert sorted(results) == ["approved", "in_review", f"no export request {rid}"]
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert len(req.reviews) == 2 and req.state == ExportState.APPROVED


def test_a_flagged_file_needs_a_comment_a_person_can_read(world: Path):
    rid = submit(world, [FLAGGED])
    for invisible in ("\u200b\u2060", "\u00a0\u3000", "\u202e\n\t", "\u2028\u2029"):
        with session_scope() as s, pytest.raises(NotAllowed, match="need a reviewer comment"):
            workflow.review(s, "bob", rid, Decision.APPROVE, votes(rid, FileVote.APPROVE, comment=invisible))
    with session_scope() as s, pytest.raises(EnclaveError, match="needs a comment to the requester"):
        workflow.review(s, "bob", rid, Decision.RETURN, votes(rid, FileVote.CHANGES), comment_to_requester="\u200b")
    assert rules.has_text("\u200bok") and not rules.has_text("\ufeff\u200d \u00ad")


def test_a_resolution_needs_a_reason_a_person_can_read(world: Path):
    rid = conflict(world)
    with pytest.raises(EnclaveError, match="resolving a conflict needs a reason"):
        resolve("rita", rid, Decision.REJECT, FileVote.REJECT, reason="\u200b\u200c")


def test_results_json_gives_the_requester_only_what_her_page_shows(world: Path):
    from egress_review.views import release_record_view, request_view

    rid = submit(world, [FLAGGED])
    note = "row 1 is participant Zhang Wei, fine because consented"
    for who in ("bob", "carol"):
        with session_scope() as s:
            workflow.review(s, who, rid, Decision.APPROVE, votes(rid, FileVote.APPROVE, comment=note))
            workflow.settle(s, rid)
    with session_scope() as s:
        req = workflow.downloadable(s, "alice", rid)
        page, results = request_view(req, "alice"), release_record_view(req.release.record)
        full = req.release.record
    assert note not in str(page) and note not in str(results)
    assert "bob" not in str(results) and [r["decision"] for r in results["reviews"]] == ["approve", "approve"]
    assert all(v == {"decision": "approve"} for r in results["reviews"] for v in r["files"].values())
    assert note in str(full["reviews"])  # the full record stays for reviewers and the audit


def test_refused_reviews_downloads_and_file_views_are_audited(world: Path):
    rid = submit(world)
    with pytest.raises(NotFound):
        decide("dave", rid)
    with session_scope() as s, pytest.raises(NotAllowed):
        workflow.downloadable(s, "bob", rid)
    with session_scope() as s, pytest.raises(NotFound):
        workflow.visible_file(s, "eve", rid, "1")
    with session_scope() as s:
        refused = [(e["actor"], e["action"], e["project"], e["target"])
                   for e in audit.query(s, action="export.*.refused")]
    assert refused == [("dave", "export.review.refused", "study", f"request:{rid}"),
                       ("bob", "export.download.refused", "study", f"request:{rid}"),
                       ("eve", "export.inspect.refused", "study", f"request:{rid}")]


def test_a_review_or_resolution_of_a_request_one_cannot_see_tells_nothing_of_it(world: Path):
    from enclave.models import ProjectState
    from enclave.projects import transition

    rid = submit(world)
    decide("bob", rid)
    decide("carol", rid)
    for act in (lambda s: workflow.review(s, "rita", rid, Decision.APPROVE, votes(rid)),
                lambda s: workflow.resolve(s, "rita", rid, Decision.APPROVE, votes(rid), "x")):
        with session_scope() as s, pytest.raises(NotFound) as refused:
            act(s)
        assert str(refused.value) == f"no export request {rid}"  # not "approved"
    other, conflicted = submit(world), conflict(world)
    with session_scope() as s:
        transition(s, "admin", "study", ProjectState.SUSPENDED, "PI under investigation")
    with session_scope() as s, pytest.raises(NotFound, match=f"no export request {other}"):
        workflow.review(s, "rita", other, Decision.APPROVE, votes(other))
    # bob reviewed the conflicted one, so he still sees it: told that the project is suspended, never why
    with pytest.raises(NotAllowed, match="suspended, not active: its export requests cannot be resolved") as refused:
        resolve("bob", conflicted, Decision.APPROVE, FileVote.APPROVE)
    assert "investigation" not in str(refused.value)


@pytest.mark.parametrize("state", ["suspended", "expired"])
def test_the_stored_files_of_a_stopped_project_are_read_by_no_one(world: Path, state: str):
    from enclave.models import ProjectState
    from enclave.projects import transition

    rid = submit(world, [("ids.txt", f"id {RID}".encode())])
    decide("bob", rid, Decision.RETURN, comment="remove the ids")
    with session_scope() as s:
        fid = str(workflow.get_request(s, rid).files[0].id)
        transition(s, "admin", "study", ProjectState(state), "data breach under investigation")
    with session_scope() as s, pytest.raises(NotAllowed, match="cannot be read now"):
        workflow.visible_file(s, "alice", rid, fid)
    with session_scope() as s, pytest.raises(EnclaveError) as refused:
        workflow.visible_file(s, "bob", rid, fid)  # bob acted on it, so he still sees the request
    assert "investigation" not in str(refused.value)


def test_a_removed_member_no_longer_lists_her_requests(world: Path):
    from enclave.projects import remove_member

    theirs, hers = submit(world, who="alice"), submit(world, who="dave")
    with session_scope() as s:
        assert [r.id for r in workflow.own_requests(s, "dave")] == [hers]
        remove_member(s, "steward", "study", "dave")
    with session_scope() as s:
        assert workflow.own_requests(s, "dave") == []
        assert [r.id for r in workflow.own_requests(s, "alice")] == [theirs]


def test_three_reviewers_at_once_leave_two_reviews_and_a_decided_request(world: Path):
    """The request row is locked before it is read (FOR UPDATE; on SQLite a write first), so the third waits."""
    import threading

    for _ in range(3):
        rid = submit(world)
        start, refused = threading.Barrier(3), []

        def review(who: str, decision: Decision, rid: int = rid, start: threading.Barrier = start,
                   refused: list[str] = refused) -> None:
            start.wait()
            try:
                decide(who, rid, decision, comment="" if decision == Decision.APPROVE else "too granular")
            except EnclaveError as exc:  # "already has 2 reviews", or no longer visible once decided
                refused.append(str(exc))

        threads = [threading.Thread(target=review, args=a) for a in
                   [("bob", Decision.APPROVE), ("carol", Decision.REJECT), ("rita", Decision.APPROVE)]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with session_scope() as s:
            req = workflow.get_request(s, rid)
            assert len(req.reviews) == 2 and req.state in (ExportState.APPROVED, ExportState.CONFLICTED)
        assert len(refused) == 1


def test_the_operators_cli_reads_are_recorded_with_the_os_account_and_keep_reviewers_blind(
        world: Path, monkeypatch: pytest.MonkeyPatch):
    import getpass
    import json

    from click.testing import CliRunner

    from enclave_ops.cli import main

    rid = submit(world)
    with session_scope() as s:
        workflow.review(s, "bob", rid, Decision.APPROVE, votes(rid), private_comment="bob's private note")
    monkeypatch.delenv("SUDO_USER", raising=False)
    runner = CliRunner(env={"ENCLAVE_ACTOR": "bob"})  # carol naming herself bob
    shown = runner.invoke(main, ["egress", "show", str(rid), "--json"])
    listed = runner.invoke(main, ["egress", "list", "--json"])
    assert shown.exit_code == 0 and listed.exit_code == 0
    assert "bob's private note" not in shown.output and json.loads(shown.output)["reviews"] == []
    with session_scope() as s:
        seen = [(e["actor"], e["action"], e["target"], e["details"]["os_user"])
                for e in audit.query(s, action="egress.*")]
    assert seen == [("bob", "egress.show", f"request:{rid}", getpass.getuser()),
                    ("bob", "egress.list", "", getpass.getuser())]
