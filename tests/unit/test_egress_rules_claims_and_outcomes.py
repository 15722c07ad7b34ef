"""Claims count the places still open; each file's outcome comes from the votes that decided it; a file is
released only from an approved request, approved by two people, never blocked.

Requests are held in memory (no database): request 7 of project `study` (PI alice, no members), asked by
alice; bob, carol, rita and dave are reviewers in no project.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from egress_review import rules
from egress_review.findings import Verdict
from enclave.models import (
    Decision,
    ExportFile,
    ExportRequest,
    ExportState,
    FileOutcome,
    Membership,
    Project,
    ProjectState,
    Review,
    User,
)

PROJECT = Project(id=1, slug="study", title="S", pi="alice", state=ProjectState.ACTIVE, member_history=[])
REVIEWER = {name: User(id=i, username=name, roles=["reviewer"]) for i, name in enumerate(
    ("bob", "carol", "rita", "dave"), 10)}


def review(reviewer: str, decision: Decision, **votes: str) -> Review:
    """`votes`: file id (f1, f2, ...) -> decision."""
    return Review(reviewer=reviewer, decision=decision,
                  file_votes={k.removeprefix("f"): {"decision": v} for k, v in votes.items()})


def request(state: ExportState = ExportState.SUBMITTED, reviews: tuple[Review, ...] = (), claims: tuple[str, ...] = (),
            verdicts: tuple[Verdict, ...] = (Verdict.PASS,), resolved_by: str = "",
            resolution: dict[str, str] | None = None) -> ExportRequest:
    files = [ExportFile(id=i, request_id=7, name=f"f{i}.csv", scan={"verdict": v.value})
             for i, v in enumerate(verdicts, 1)]
    return ExportRequest(id=7, project="study", requester="alice", state=state, files=files, reviews=list(reviews),
                         claims={c: "2026-01-01T00:00:00+00:00" for c in claims}, resolved_by=resolved_by,
                         resolution_votes={k: {"decision": v} for k, v in (resolution or {}).items()})


def claim_refusal(req: ExportRequest, who: str) -> str | None:
    reason = rules.why_not(lambda: rules.check_can_claim(req, REVIEWER[who], PROJECT))
    assert rules.can_claim(req, REVIEWER[who], PROJECT) is (reason is None)
    return reason


# --- claims -------------------------------------------------------------------------------------


def test_an_open_request_has_two_places_to_claim():
    assert claim_refusal(request(), "bob") is None
    assert claim_refusal(request(claims=("rita",)), "bob") is None
    assert claim_refusal(request(claims=("rita", "carol")), "bob") == "request 7 is already claimed by rita, carol"


def test_after_one_review_one_place_is_left():
    one = (review("carol", Decision.APPROVE, f1="approve"),)
    assert claim_refusal(request(ExportState.IN_REVIEW, one), "bob") is None
    assert claim_refusal(request(ExportState.IN_REVIEW, one, claims=("rita",)), "bob") == \
        "request 7 is already claimed by rita"


def test_a_decision_ends_its_reviewers_claim():
    one = (review("carol", Decision.APPROVE, f1="approve"),)
    decided = request(ExportState.IN_REVIEW, one, claims=("carol",))
    assert rules.open_claims(decided) == []
    assert claim_refusal(decided, "bob") is None
    assert rules.open_claims(request(ExportState.IN_REVIEW, one, claims=("carol", "rita"))) == ["rita"]


def test_a_conflict_has_one_place_for_its_resolver():
    both = (review("carol", Decision.APPROVE, f1="approve"), review("dave", Decision.REJECT, f1="reject"))
    assert claim_refusal(request(ExportState.CONFLICTED, both), "bob") is None
    assert claim_refusal(request(ExportState.CONFLICTED, both, claims=("rita",)), "bob") == \
        "request 7 is already claimed by rita"
    assert claim_refusal(request(ExportState.CONFLICTED, both), "carol") == (
        "you reviewed request 7: its conflict must be resolved by a third reviewer who reviewed neither side")


def test_one_claim_each():
    assert claim_refusal(request(claims=("bob",)), "bob") == "you have already claimed request 7"


def test_only_an_open_claim_is_given_up():
    bob = REVIEWER["bob"]
    assert rules.can_unclaim(request(claims=("bob",)), bob)
    for req in (request(), request(claims=("rita",)),
                request(ExportState.IN_REVIEW, (review("bob", Decision.APPROVE, f1="approve"),), claims=("bob",))):
        assert rules.why_not(lambda req=req: rules.check_can_unclaim(req, bob)) == "you have not claimed request 7"
        assert not rules.can_unclaim(req, bob)


# --- outcomes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second", "outcome"), [
    ("approve", "approve", FileOutcome.APPROVED),
    ("approve", "changes", FileOutcome.CONFLICTED),
    ("reject", "approve", FileOutcome.CONFLICTED),
    ("changes", "changes", FileOutcome.RETURNED),
    ("changes", "reject", FileOutcome.REJECTED),
    ("reject", "reject", FileOutcome.REJECTED),
])
def test_a_files_outcome_from_both_reviewers_votes(first: str, second: str, outcome: FileOutcome):
    req = request(reviews=(review("bob", Decision.RETURN, f1=first), review("carol", Decision.RETURN, f1=second)))
    assert rules.file_outcomes(req) == {1: outcome}


def test_every_file_is_pending_until_the_second_review():
    req = request(reviews=(review("bob", Decision.APPROVE, f1="approve", f2="approve"),),
                  verdicts=(Verdict.PASS, Verdict.PASS))
    assert rules.file_outcomes(req) == {1: FileOutcome.PENDING, 2: FileOutcome.PENDING}


def test_after_a_resolution_the_resolvers_votes_decide():
    both = (review("bob", Decision.APPROVE, f1="approve", f2="approve"),
            review("carol", Decision.REJECT, f1="reject", f2="reject"))
    req = request(ExportState.APPROVED, both, verdicts=(Verdict.PASS, Verdict.PASS), resolved_by="rita",
                  resolution={"1": "approve", "2": "reject"})
    assert rules.file_outcomes(req) == {1: FileOutcome.APPROVED, 2: FileOutcome.REJECTED}


def test_two_reviews_agree_on_the_decision_and_for_an_approval_on_every_file():
    files = (Verdict.PASS, Verdict.PASS)
    same = request(reviews=(review("bob", Decision.APPROVE, f1="approve", f2="changes"),
                            review("carol", Decision.APPROVE, f1="approve", f2="reject")), verdicts=files)
    assert rules.agreed(same)
    split = request(reviews=(review("bob", Decision.APPROVE, f1="approve", f2="approve"),
                             review("carol", Decision.APPROVE, f1="approve", f2="changes")), verdicts=files)
    assert not rules.agreed(split)
    returned = request(reviews=(review("bob", Decision.RETURN, f1="approve", f2="changes"),
                                review("carol", Decision.RETURN, f1="changes", f2="approve")), verdicts=files)
    assert rules.agreed(returned)
    differ = request(reviews=(review("bob", Decision.RETURN, f1="changes", f2="changes"),
                              review("carol", Decision.REJECT, f1="changes", f2="changes")), verdicts=files)
    assert not rules.agreed(differ)


# --- release ------------------------------------------------------------------------------------


def release_refusal(req: ExportRequest, file_id: int = 1) -> str | None:
    f = next(f for f in req.files if f.id == file_id)
    reason = rules.why_not(lambda: rules.check_can_release_file(req, f))
    assert rules.can_release_file(req, f) is (reason is None)
    return reason


def test_a_file_both_reviewers_approved_is_released_from_an_approved_request_only():
    both = (review("bob", Decision.APPROVE, f1="approve"), review("carol", Decision.APPROVE, f1="approve"))
    for state in (ExportState.APPROVED, ExportState.RELEASED):
        assert release_refusal(request(state, both)) is None
    for state in (ExportState.IN_REVIEW, ExportState.CONFLICTED, ExportState.RETURNED, ExportState.REJECTED):
        assert release_refusal(request(state, both)) == f"request 7 is {state.value}: nothing is released"


def test_a_file_not_approved_by_both_is_withheld_from_an_approved_request():
    both = (review("bob", Decision.APPROVE, f1="approve", f2="changes"),
            review("carol", Decision.APPROVE, f1="approve", f2="reject"))
    req = request(ExportState.APPROVED, both, verdicts=(Verdict.PASS, Verdict.PASS))
    assert release_refusal(req, 1) is None
    assert release_refusal(req, 2) == "file 'f2.csv' is rejected: it is withheld"


def test_a_blocked_file_is_never_released_even_approved_by_both():
    both = (review("bob", Decision.APPROVE, f1="approve"), review("carol", Decision.APPROVE, f1="approve"))
    req = request(ExportState.APPROVED, both, verdicts=(Verdict.BLOCK,))
    assert release_refusal(req) == "file 'f1.csv' has blocking findings and cannot be approved as is"
    assert not rules.can_approve_file(req.files[0])


def test_a_file_of_another_request_is_a_programming_error():
    req = request(ExportState.APPROVED)
    other = ExportFile(id=9, request_id=8, name="x.csv", scan={"verdict": "pass"})
    with pytest.raises(ValueError, match="^file 9 is not in request 7$"):
        rules.check_can_release_file(req, other)


def test_one_approval_of_each_file_by_different_reviewers_releases_neither():
    """Outcomes are per file: bob's approval of f1 and carol's of f2 release neither."""
    both = (review("bob", Decision.APPROVE, f1="approve", f2="changes"),
            review("carol", Decision.APPROVE, f1="changes", f2="approve"))
    req = request(ExportState.APPROVED, both, verdicts=(Verdict.PASS, Verdict.PASS))
    assert release_refusal(req, 1) == "file 'f1.csv' is conflicted: it is withheld"
    assert release_refusal(req, 2) == "file 'f2.csv' is conflicted: it is withheld"


def test_refusals_to_revise_say_who_and_which_state():
    req = request(ExportState.SUBMITTED)
    bob = User(id=10, username="bob", roles=["researcher"])
    assert rules.why_not(lambda: rules.check_can_revise(req, bob, PROJECT)) == \
        "only the requester can revise a request"
    alice = User(id=1, username="alice", roles=["researcher"])
    assert rules.why_not(lambda: rules.check_can_revise(req, alice, PROJECT)) == \
        "request 7 is submitted: only a returned request can be revised"


# --- on a date ------------------------------------------------------------------------------------

EXPIRY = date.today() + timedelta(days=9)
OPEN = Project(id=2, slug="study", title="S", pi="alice", state=ProjectState.ACTIVE, member_history=[],
               members=[Membership(user_id=1)], expiry_date=EXPIRY)
ALICE = User(id=1, username="alice", roles=["researcher"])


def test_a_returned_request_is_revised_by_its_requester_until_the_expiry_date():
    req = request(ExportState.RETURNED)
    assert rules.why_not(lambda: rules.check_can_revise(req, ALICE, OPEN, EXPIRY - timedelta(days=1))) is None
    assert rules.can_revise(req, ALICE, OPEN)
    assert rules.why_not(lambda: rules.check_can_revise(req, ALICE, OPEN, EXPIRY)) == \
        f"no export requests: project 'study' expired on {EXPIRY}"
    assert not rules.can_revise(req, ALICE, OPEN, EXPIRY)


def test_no_place_is_claimed_after_the_expiry_date():
    both = (review("carol", Decision.APPROVE, f1="approve"), review("dave", Decision.REJECT, f1="reject"))
    for req in (request(), request(ExportState.CONFLICTED, both)):
        assert claim_refusal_on(req, EXPIRY - timedelta(days=1)) is None
        assert claim_refusal_on(req, EXPIRY).startswith(f"project 'study' expired on {EXPIRY}: its export requests")


def claim_refusal_on(req: ExportRequest, on: date) -> str | None:
    reason = rules.why_not(lambda: rules.check_can_claim(req, REVIEWER["bob"], OPEN, on))
    assert rules.can_claim(req, REVIEWER["bob"], OPEN, on) is (reason is None)
    return reason


# --- what a resolution and a review form are checked for -----------------------------------------


def test_a_resolution_does_not_release_a_file_a_review_left_without_a_vote():
    both = (review("bob", Decision.APPROVE, f1="approve"), review("carol", Decision.REJECT, f1="reject"))
    req = request(ExportState.CONFLICTED, both, verdicts=(Verdict.PASS, Verdict.PASS))
    votes = {"1": {"decision": "approve"}, "2": {"decision": "approve"}}
    with pytest.raises(rules.DecisionRefused) as exc:
        rules.check_decision(req, Decision.APPROVE, votes, "third view", resolving=True)
    assert exc.value.problems == [("file-2", "file 'f2.csv' was approved by neither reviewer: a resolution cannot "
                                             "release it on one person's approval")]


def test_every_file_is_checked_after_a_file_with_no_vote():
    req = request(verdicts=(Verdict.PASS, Verdict.BLOCK))
    with pytest.raises(rules.DecisionRefused) as exc:
        rules.check_decision(req, Decision.RETURN, {"2": {"decision": "approve"}}, "why")
    assert exc.value.problems == [("file-1", "no decision given for file 'f1.csv'"),
                                  ("file-2", "file 'f2.csv' has blocking findings and cannot be approved as is")]


def test_an_approval_names_a_blocked_file_and_a_withheld_one_together():
    req = request(verdicts=(Verdict.BLOCK, Verdict.PASS, Verdict.PASS))
    votes = {"1": {"decision": "approve"}, "2": {"decision": "changes"}, "3": {"decision": "approve"}}
    with pytest.raises(rules.DecisionRefused) as exc:
        rules.check_decision(req, Decision.APPROVE, votes, "")
    assert exc.value.problems == [
        ("file-1", "file 'f1.csv' has blocking findings and cannot be approved as is"),
        ("comment-2", "file 'f2.csv' is withheld: say why in its comment to the requester")]


def test_a_resolution_ends_the_resolvers_claim():
    both = (review("carol", Decision.APPROVE, f1="approve"), review("dave", Decision.REJECT, f1="reject"))
    req = request(ExportState.APPROVED, both, claims=("rita",), resolved_by="rita", resolution={"1": "approve"})
    assert rules.open_claims(req) == []
