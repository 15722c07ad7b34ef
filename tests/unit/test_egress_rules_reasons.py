"""What a review or a resolution must satisfy, file by file, and the problems a refused form names.

`check_decision` is asked about requests held in memory (no database): each file's verdict is what the
scanner found. A refused form (`DecisionRefused`) lists every problem with the field it belongs to;
they are compared whole, since a person reads them beside the field.
"""

from __future__ import annotations

import pytest

from egress_review import rules
from egress_review.findings import Verdict
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import Decision, ExportFile, ExportRequest, ExportState, FileVote, Review, User


def request(*verdicts: Verdict, reviews: list[dict[str, str]] | None = None) -> ExportRequest:
    """Request 7 with one file per verdict, ids 1, 2, ... named f1.csv, f2.csv, ...; `reviews`: each
    reviewer's votes, file id -> decision."""
    files = [ExportFile(id=i, name=f"f{i}.csv", scan={"verdict": v.value}) for i, v in enumerate(verdicts, 1)]
    done = [Review(reviewer=f"r{n}", decision=Decision.RETURN,
                   file_votes={fid: {"decision": d} for fid, d in given.items()})
            for n, given in enumerate(reviews or [])]
    return ExportRequest(id=7, project="study", requester="alice", state=ExportState.SUBMITTED, files=files,
                         reviews=done)


def vote(decision: FileVote, comment: str | None = None) -> dict[str, str]:
    return {"decision": decision.value} if comment is None else {"decision": decision.value, "comment": comment}


def problems(req: ExportRequest, decision: Decision, votes: dict[str, dict[str, str]], explanation: str = "",
             *, resolving: bool = False) -> list[tuple[str, str]]:
    with pytest.raises(rules.DecisionRefused) as exc:
        rules.check_decision(req, decision, votes, explanation, resolving=resolving)
    assert str(exc.value) == "; ".join(m for _, m in exc.value.problems)
    return exc.value.problems


def test_a_blocked_file_after_a_file_sent_back_still_cannot_be_approved():
    """Each approved file is checked, not only those before the first file that is not approved."""
    req = request(Verdict.PASS, Verdict.BLOCK)
    votes = {"1": vote(FileVote.CHANGES), "2": vote(FileVote.APPROVE)}
    assert problems(req, Decision.RETURN, votes, "see f1") == [
        ("file-2", "file 'f2.csv' has blocking findings and cannot be approved as is")]


def test_a_flagged_file_after_a_file_sent_back_still_needs_a_comment():
    req = request(Verdict.PASS, Verdict.REVIEW)
    votes = {"1": vote(FileVote.CHANGES), "2": vote(FileVote.APPROVE, "")}
    assert problems(req, Decision.RETURN, votes, "see f1") == [
        ("comment-2", "file 'f2.csv' has findings that need a reviewer comment")]


def test_a_flagged_file_approved_with_no_comment_field_at_all_is_refused():
    """A form (or an API call) that leaves the comment out is an empty comment, not a missing check."""
    req = request(Verdict.REVIEW)
    assert problems(req, Decision.APPROVE, {"1": vote(FileVote.APPROVE)}) == [
        ("comment-1", "file 'f1.csv' has findings that need a reviewer comment")]
    rules.check_decision(req, Decision.APPROVE, {"1": vote(FileVote.APPROVE, "a contact, not a participant")}, "")


def test_a_clean_file_is_approved_without_a_comment():
    rules.check_decision(request(Verdict.PASS), Decision.APPROVE, {"1": vote(FileVote.APPROVE)}, "")


def test_every_problem_of_a_form_is_named_at_once_with_its_field():
    req = request(Verdict.BLOCK, Verdict.REVIEW, Verdict.PASS)
    votes = {"1": vote(FileVote.APPROVE), "2": vote(FileVote.APPROVE, " "), "3": {"decision": ""}}
    assert problems(req, Decision.REJECT, votes, "") == [
        ("file-1", "file 'f1.csv' has blocking findings and cannot be approved as is"),
        ("comment-2", "file 'f2.csv' has findings that need a reviewer comment"),
        ("file-3", "no decision given for file 'f3.csv'"),
        ("comment_to_requester", "returning or rejecting a request needs a comment to the requester")]


def test_approving_needs_at_least_one_approved_file():
    req = request(Verdict.PASS, Verdict.PASS)
    votes = {"1": vote(FileVote.CHANGES, "aggregate"), "2": vote(FileVote.REJECT, "row level")}
    assert problems(req, Decision.APPROVE, votes) == [
        ("decision", "approving releases the approved files: approve at least one file, or return or reject "
                     "the request")]


def test_a_file_withheld_by_an_approval_says_why_in_its_comment_or_the_comment_to_the_requester():
    req = request(Verdict.PASS, Verdict.PASS)
    votes = {"1": vote(FileVote.APPROVE), "2": vote(FileVote.CHANGES)}
    assert problems(req, Decision.APPROVE, votes) == [
        ("comment-2", "file 'f2.csv' is withheld: say why in its comment to the requester")]
    rules.check_decision(req, Decision.APPROVE, votes, "f2 is row level")
    rules.check_decision(req, Decision.APPROVE, {**votes, "2": vote(FileVote.CHANGES, "row level")}, "")


def test_a_resolution_always_gives_its_reason():
    req = request(Verdict.PASS, reviews=[{"1": "approve"}, {"1": "reject"}])
    for decision in Decision:
        fv = FileVote.APPROVE if decision == Decision.APPROVE else FileVote.REJECT
        assert problems(req, decision, {"1": vote(fv, "checked")}, "\u200b", resolving=True) == [
            ("reason", "resolving a conflict needs a reason")]


def test_a_resolution_releases_only_a_file_one_of_the_reviewers_approved():
    """Two people per released file: the resolver's approval alone never releases one."""
    req = request(Verdict.PASS, Verdict.PASS,
                  reviews=[{"1": "approve", "2": "changes"}, {"1": "reject", "2": "reject"}])
    votes = {"1": vote(FileVote.APPROVE), "2": vote(FileVote.APPROVE)}
    assert problems(req, Decision.APPROVE, votes, "third view", resolving=True) == [
        ("file-2", "file 'f2.csv' was approved by neither reviewer: a resolution cannot release it on one "
                   "person's approval")]
    rules.check_decision(req, Decision.APPROVE, {**votes, "2": vote(FileVote.REJECT)}, "third view", resolving=True)
    # a review (not a resolution) approves a file no one approved before: it is the first of two
    rules.check_decision(req, Decision.APPROVE, {**votes}, "", resolving=False)


def test_returning_or_rejecting_says_why_to_the_requester_approving_need_not():
    req = request(Verdict.PASS)
    for decision in (Decision.RETURN, Decision.REJECT):
        assert problems(req, decision, {"1": vote(FileVote.CHANGES)}, " ") == [
            ("comment_to_requester", "returning or rejecting a request needs a comment to the requester")]
    rules.check_decision(req, Decision.APPROVE, {"1": vote(FileVote.APPROVE)}, "")


def test_votes_on_files_the_request_does_not_have_are_named():
    req = request(Verdict.PASS)
    votes = {"1": vote(FileVote.APPROVE), "98": vote(FileVote.APPROVE), "99": vote(FileVote.APPROVE)}
    with pytest.raises(EnclaveError) as exc:
        rules.check_decision(req, Decision.APPROVE, votes, "")
    assert str(exc.value) == "request 7 has no file(s) 98, 99"


def test_an_unknown_vote_names_the_votes_there_are():
    req = request(Verdict.PASS)
    assert problems(req, Decision.RETURN, {"1": {"decision": "maybe"}}, "why") == [
        ("file-1", "file 'f1.csv': unknown decision 'maybe' (one of approve, changes, reject)")]


def test_only_the_requester_withdraws_in_those_words():
    req = request(Verdict.PASS)
    with pytest.raises(NotAllowed) as exc:
        rules.check_can_withdraw(req, User(username="bob", roles=["reviewer"]))
    assert str(exc.value) == "only the requester can withdraw a request"
