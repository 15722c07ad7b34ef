"""Who may do what to an export request: one source of truth for the API, the UI and the CLI.

Each `check_…` raises NotAllowed whose message is the reason; each `can_…` returns a bool for the UI.
"""

from __future__ import annotations

from enclave.errors import NotAllowed
from enclave.models import EXPORT_TRANSITIONS, Decision, ExportRequest, ExportState, Role, User

REVIEWERS_NEEDED = 2


def check_can_review(request: ExportRequest, reviewer: User, member_usernames: set[str]) -> None:
    if Role.REVIEWER.value not in (reviewer.roles or []):
        raise NotAllowed("only users with the reviewer role can review export requests")
    if reviewer.username == request.requester:
        raise NotAllowed("you cannot review your own export request")
    if reviewer.username in member_usernames:
        raise NotAllowed(f"you are a member of project '{request.project}' and cannot review its requests")
    if request.state not in (ExportState.SUBMITTED, ExportState.IN_REVIEW):
        raise NotAllowed(f"request {request.id} is {request.state.value}, not open for review")
    if any(r.reviewer == reviewer.username for r in request.reviews):
        raise NotAllowed(f"you have already reviewed request {request.id}")
    if len(request.reviews) >= REVIEWERS_NEEDED:
        raise NotAllowed(f"request {request.id} already has {REVIEWERS_NEEDED} reviews")


def can_review(request: ExportRequest, reviewer: User, member_usernames: set[str]) -> bool:
    try:
        check_can_review(request, reviewer, member_usernames)
    except NotAllowed:
        return False
    return True


def check_decision(request: ExportRequest, decision: Decision, file_votes: dict[str, dict[str, str]]) -> None:
    """Per-file votes are required; a blocked file cannot be approved; a flagged file needs a comment."""
    for f in request.files:
        vote = file_votes.get(str(f.id))
        if vote is None:
            raise NotAllowed(f"no decision given for file '{f.name}'")
        if vote.get("decision") == "approve":
            if f.verdict == "block":
                raise NotAllowed(f"file '{f.name}' has blocking findings and cannot be approved as is")
            if f.verdict == "review" and not vote.get("comment", "").strip():
                raise NotAllowed(f"file '{f.name}' has findings that need a reviewer comment")
    approving_all = all(v.get("decision") == "approve" for v in file_votes.values())
    if decision == Decision.APPROVE and not approving_all:
        raise NotAllowed("a request can only be approved when every file is approved")


def check_can_withdraw(request: ExportRequest, username: str) -> None:
    if request.requester != username:
        raise NotAllowed("only the requester can withdraw a request")
    if ExportState.WITHDRAWN not in EXPORT_TRANSITIONS[request.state]:
        raise NotAllowed(f"request {request.id} is {request.state.value} and can no longer be withdrawn")


def check_can_download(request: ExportRequest, username: str) -> None:
    if request.requester != username:
        raise NotAllowed("released files can be downloaded by the requester only")
    if request.state != ExportState.RELEASED:
        raise NotAllowed(f"request {request.id} is {request.state.value}: nothing is released")


def visible_reviews(request: ExportRequest, viewer: str) -> list[str]:
    """Reviewers are blind to each other until both have decided."""
    done = len(request.reviews) >= REVIEWERS_NEEDED
    return [r.reviewer for r in request.reviews if done or r.reviewer == viewer]

