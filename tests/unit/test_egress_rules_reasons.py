"""What a review or a resolution must satisfy, file by file, and the reason each refusal gives in full.

`check_decision` is asked about requests held in memory (no database): each file's verdict is what the
scanner found. Refusals are compared whole, since a person reads them.
"""

from __future__ import annotations

import pytest

from egress_review import rules
from egress_review.findings import Verdict
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import Decision, ExportFile, ExportRequest, ExportState, FileVote, User


def request(*verdicts: Verdict) -> ExportRequest:
    """Request 7 with one file per verdict, ids 1, 2, ... named f1.csv, f2.csv, ..."""
    files = [ExportFile(id=i, name=f"f{i}.csv", scan={"verdict": v.value}) for i, v in enumerate(verdicts, 1)]
    return ExportRequest(id=7, project="study", requester="alice", state=ExportState.SUBMITTED, files=files)


def vote(decision: FileVote, comment: str | None = None) -> dict[str, str]:
    return {"decision": decision.value} if comment is None else {"decision": decision.value, "comment": comment}


def refusal(error: type[EnclaveError], req: ExportRequest, decision: Decision, votes: dict[str, dict[str, str]],
            explanation: str = "", *, resolving: bool = False) -> str:
    with pytest.raises(error) as exc:
        rules.check_decision(req, decision, votes, explanation, resolving=resolving)
    assert type(exc.value) is error
    return str(exc.value)


def test_a_blocked_file_after_a_file_sent_back_still_cannot_be_approved():
    """Each approved file is checked, not only those before the first file that is not approved."""
    req = request(Verdict.PASS, Verdict.BLOCK)
    votes = {"1": vote(FileVote.CHANGES), "2": vote(FileVote.APPROVE)}
    assert refusal(NotAllowed, req, Decision.RETURN, votes, "see f1") == \
        "file 'f2.csv' has blocking findings and cannot be approved as is"


def test_a_flagged_file_after_a_file_sent_back_still_needs_a_comment():
    req = request(Verdict.PASS, Verdict.REVIEW)
    votes = {"1": vote(FileVote.CHANGES), "2": vote(FileVote.APPROVE, "")}
    assert refusal(NotAllowed, req, Decision.RETURN, votes, "see f1") == \
        "file 'f2.csv' has findings that need a reviewer comment"


def test_a_flagged_file_approved_with_no_comment_field_at_all_is_refused():
    """A form (or an API call) that leaves the comment out is an empty comment, not a missing check."""
    req = request(Verdict.REVIEW)
    assert refusal(NotAllowed, req, Decision.APPROVE, {"1": vote(FileVote.APPROVE)}) == \
        "file 'f1.csv' has findings that need a reviewer comment"
    rules.check_decision(req, Decision.APPROVE, {"1": vote(FileVote.APPROVE, "a contact, not a participant")}, "")


def test_a_clean_file_is_approved_without_a_comment():
    rules.check_decision(request(Verdict.PASS), Decision.APPROVE, {"1": vote(FileVote.APPROVE)}, "")


def test_a_request_is_approved_only_when_every_file_is():
    req = request(Verdict.PASS, Verdict.PASS)
    votes = {"1": vote(FileVote.APPROVE), "2": vote(FileVote.CHANGES)}
    assert refusal(NotAllowed, req, Decision.APPROVE, votes) == \
        "a request can only be approved when every file is approved"


def test_a_resolution_always_gives_its_reason():
    req = request(Verdict.PASS)
    for decision in Decision:
        fv = FileVote.APPROVE if decision == Decision.APPROVE else FileVote.REJECT
        assert refusal(EnclaveError, req, decision, {"1": vote(fv)}, "\u200b", resolving=True) == \
            "resolving a conflict needs a reason"


def test_returning_or_rejecting_says_why_to_the_requester_approving_need_not():
    req = request(Verdict.PASS)
    for decision in (Decision.RETURN, Decision.REJECT):
        assert refusal(EnclaveError, req, decision, {"1": vote(FileVote.CHANGES)}, " ") == \
            "returning or rejecting a request needs a comment to the requester"
    rules.check_decision(req, Decision.APPROVE, {"1": vote(FileVote.APPROVE)}, "")


def test_votes_on_files_the_request_does_not_have_are_named():
    req = request(Verdict.PASS)
    votes = {"1": vote(FileVote.APPROVE), "98": vote(FileVote.APPROVE), "99": vote(FileVote.APPROVE)}
    assert refusal(EnclaveError, req, Decision.APPROVE, votes) == "request 7 has no file(s) 98, 99"


def test_an_unknown_vote_names_the_votes_there_are():
    req = request(Verdict.PASS)
    assert refusal(EnclaveError, req, Decision.APPROVE, {"1": {"decision": "maybe"}}) == \
        "file 'f1.csv': unknown decision 'maybe' (one of approve, changes, reject)"


def test_only_the_requester_withdraws_in_those_words():
    req = request(Verdict.PASS)
    with pytest.raises(NotAllowed) as exc:
        rules.check_can_withdraw(req, User(username="bob", roles=["reviewer"]))
    assert str(exc.value) == "only the requester can withdraw a request"
