"""Who may do what to an export request: one source of truth for the API, the UI and the CLI.

Each `check_can_…` raises a domain error whose message is the reason; each `can_…` returns a bool for
the UI. Every rule is decided from the enclave's state as the caller's database session has it now:
the user's roles, the project's members and state, the request's state and reviews. Nothing is
remembered from a login, so taking a role away, removing a member or suspending a project stops the
next request at once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date

from egress_review.findings import Verdict
from enclave.access import workability
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Text
from enclave.models import (
    EXPORT_TRANSITIONS,
    Decision,
    ExportFile,
    ExportRequest,
    ExportState,
    FileOutcome,
    FileVote,
    Project,
    Role,
    User,
)
from enclave.projects import closed_reason, is_member, was_ever_member

REVIEWERS_NEEDED = 2
OPEN_FOR_REVIEW = frozenset({ExportState.SUBMITTED, ExportState.IN_REVIEW})


def _allowed(check: Callable[[], None]) -> bool:
    try:
        check()
    except EnclaveError:
        return False
    return True


def why_not(check: Callable[[], None]) -> str | None:
    """The reason a `check_can_…` gives, or None when it allows: what a disabled control says beside it."""
    try:
        check()
    except EnclaveError as exc:
        return exc.text  # a Text: the English sentence that keeps its template for translation
    return None


class DecisionRefused(NotAllowed):
    """A review or resolution form that cannot be accepted as filled in: each problem names its field.

    Fields are the form's names (`decision`, `file-<id>`, `comment-<id>`, `comment_to_requester`,
    `reason`), so the page can show each problem beside what caused it and keep everything typed.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def _same_project(request: ExportRequest, project: Project) -> None:
    if project.slug != request.project:
        raise ValueError(f"request {request.id} belongs to '{request.project}', not '{project.slug}'")


# Characters that show nothing: format (zero-width, bidi), separators and controls.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc"})


def has_text(text: str) -> bool:
    """Whether `text` has something a person can read: a zero-width space is not a comment."""
    return any(unicodedata.category(c) not in INVISIBLE_CATEGORIES for c in text)


def has_reviewer_role(user: User) -> bool:
    return Role.REVIEWER.value in (user.roles or [])


# --- requesters ---------------------------------------------------------------------------------


def check_can_submit(user: User, project: Project, on: date | None = None) -> None:
    """A researcher who is a member of an open project, now: the same answer as starting a workspace,
    accreditation included (a lapsed one stops requests as it stops the workspace)."""
    s = workability(project, user, on)
    if not s.can_start:
        raise NotAllowed("no export requests: {reason}", reason=s.reason)


def can_submit(user: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_submit(user, project, on))


def check_justification(text: str) -> None:
    """Every request (and every revision) says what its files are: reviewers decide on it, the record keeps it."""
    if not has_text(text):
        raise EnclaveError("a justification is required: say what the files are and why they are safe to release")


def check_can_withdraw(request: ExportRequest, user: User) -> None:
    if request.requester != user.username:
        raise NotAllowed("only the requester can withdraw a request")
    if ExportState.WITHDRAWN not in EXPORT_TRANSITIONS[request.state]:
        raise NotAllowed("request {id} is {state} and can no longer be withdrawn",
                         id=request.id, state=request.state.value)


def can_withdraw(request: ExportRequest, user: User) -> bool:
    return _allowed(lambda: check_can_withdraw(request, user))


def check_can_revise(request: ExportRequest, user: User, project: Project, on: date | None = None) -> None:
    """A returned request is revised by its requester, while she may still submit in its project.

    The revision is a new request (its files are copied and checked again from the workspace) naming
    the one it revises; the returned one becomes `revised` and keeps its reviews for the record.
    """
    _same_project(request, project)
    if request.requester != user.username:
        raise NotAllowed("only the requester can revise a request")
    if request.state != ExportState.RETURNED:
        raise NotAllowed("request {id} is {state}: only a returned request can be revised",
                         id=request.id, state=request.state.value)
    check_can_submit(user, project, on)


def can_revise(request: ExportRequest, user: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_revise(request, user, project, on))


def check_can_download(request: ExportRequest, user: User, project: Project, on: date | None = None) -> None:
    """Released files go to their requester only, and only while they may still work in the project
    (member, researcher, project open, accreditation current for its data)."""
    _same_project(request, project)
    if request.requester != user.username:
        raise NotAllowed("released files can be downloaded by the requester only")
    if request.state != ExportState.RELEASED:
        raise NotAllowed("request {id} is {state}: nothing is released", id=request.id, state=request.state.value)
    s = workability(project, user, on)
    if not s.can_start:
        raise NotAllowed("no downloads: {reason}", reason=s.reason)


def can_download(request: ExportRequest, user: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_download(request, user, project, on))


# --- reviewers ----------------------------------------------------------------------------------


def _check_independent(request: ExportRequest, user: User, project: Project, act: str) -> None:
    """A reviewer now, neither the requester nor anyone who was ever a member of the request's project.

    Membership history, not the member list now: removing a colleague for one review and adding her
    back must not make her independent, and the PI is the project's whatever its member list says.
    """
    _same_project(request, project)
    if not has_reviewer_role(user):
        raise NotAllowed("only users with the reviewer role can {act} export requests", act=act)
    if user.username == request.requester:
        raise NotAllowed("you cannot {act} your own export request", act=act)
    if was_ever_member(project, user):
        raise NotAllowed("you are or were a member of project '{slug}' and cannot {act} its requests",
                         slug=project.slug, act=act)


def check_can_count(request: ExportRequest, name: str, user: User | None, project: Project) -> None:
    """A review (or resolution) already given counts only while its author is still independent, now.

    The rule is two independent reviewers at the moment of the decision: a reviewer who joins the
    project, or loses the reviewer role, between her review and the second one does not make one of the
    two, and the request waits for another independent review. `user` is None when the account is gone.
    """
    _same_project(request, project)
    if user is None:
        raise NotAllowed("the review by {name} no longer counts: the account is gone", name=name)
    if not has_reviewer_role(user):
        raise NotAllowed("the review by {name} no longer counts: the reviewer role was taken away", name=name)
    if user.username == request.requester or was_ever_member(project, user):
        raise NotAllowed("the review by {name} no longer counts: the reviewer is or was a member of project '{slug}'",
                         name=name, slug=project.slug)


def can_count(request: ExportRequest, name: str, user: User | None, project: Project) -> bool:
    return _allowed(lambda: check_can_count(request, name, user, project))


def reviewed_by(request: ExportRequest, username: str) -> bool:
    """Whether `username` reviewed the request, her review counting or voided: one review per person, ever."""
    return any(r.reviewer == username for r in [*request.reviews, *request.voided_reviews])


def _check_project_open(project: Project, on: date | None, act: str) -> None:
    """Reviewers are never members: they learn that the project is closed, never the reason it was given."""
    reason = closed_reason(project, on, why=False)
    if reason:
        raise NotAllowed("{reason}: its export requests cannot be {act} now", reason=reason, act=act)


def check_can_review(request: ExportRequest, reviewer: User, project: Project, on: date | None = None) -> None:
    _check_independent(request, reviewer, project, "review")
    _check_project_open(project, on, "reviewed")
    if request.state not in OPEN_FOR_REVIEW:
        raise NotAllowed("request {id} is {state}, not open for review", id=request.id, state=request.state.value)
    if reviewed_by(request, reviewer.username):
        raise NotAllowed("you have already reviewed request {id}", id=request.id)
    if len(request.reviews) >= REVIEWERS_NEEDED:
        raise NotAllowed("request {id} already has {needed} reviews",
                         id=request.id, needed=REVIEWERS_NEEDED)


def can_review(request: ExportRequest, reviewer: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_review(request, reviewer, project, on))


def check_can_resolve(request: ExportRequest, resolver: User, project: Project, on: date | None = None) -> None:
    """A conflict between two reviewers is settled by a third who reviewed neither side.

    Letting one of the two resolve would let one reviewer release alone what the other rejected.
    """
    _check_independent(request, resolver, project, "resolve")
    _check_project_open(project, on, "resolved")
    if request.state != ExportState.CONFLICTED:
        raise InvalidTransition("request {id} is {state}, not conflicted", id=request.id, state=request.state.value)
    if reviewed_by(request, resolver.username):
        raise NotAllowed("you reviewed request {id}: its conflict must be resolved by a third "
                         "reviewer who reviewed neither side", id=request.id)


def can_resolve(request: ExportRequest, resolver: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_resolve(request, resolver, project, on))


def check_can_approve_file(f: ExportFile) -> None:
    """A file with blocking findings is never approved as it is: the requester must change it."""
    if f.verdict == Verdict.BLOCK:
        raise NotAllowed("file '{name}' has blocking findings and cannot be approved as is", name=f.name)


def can_approve_file(f: ExportFile) -> bool:
    return _allowed(lambda: check_can_approve_file(f))


def _vote(f: ExportFile, given: dict[str, str] | None) -> FileVote:
    if given is None or not given.get("decision"):
        raise NotAllowed("no decision given for file '{name}'", name=f.name)
    try:
        return FileVote(given["decision"])
    except ValueError:
        raise EnclaveError("file '{name}': unknown decision '{decision}' (one of {choices})", name=f.name,
                           decision=given["decision"], choices=", ".join(v.value for v in FileVote)) from None


def _file_problems(request: ExportRequest, file_votes: dict[str, dict[str, str]],
                   resolving: bool) -> tuple[dict[int, FileVote], list[tuple[str, str]]]:
    """Each file's vote, and what is wrong with the votes: missing, blocked, uncommented or unseconded."""
    votes: dict[int, FileVote] = {}
    problems: list[tuple[str, str]] = []
    for f in request.files:
        try:
            votes[f.id] = _vote(f, file_votes.get(str(f.id)))
        except EnclaveError as exc:
            problems.append((f"file-{f.id}", exc.text))
            continue
        if votes[f.id] != FileVote.APPROVE:
            continue
        refusal = why_not(lambda f=f: check_can_approve_file(f))  # type: ignore[misc]
        if refusal:
            problems.append((f"file-{f.id}", refusal))
        elif f.verdict == Verdict.REVIEW and not has_text(file_votes[str(f.id)].get("comment", "")):
            problems.append((f"comment-{f.id}", Text("file '{name}' has findings that need a reviewer comment",
                                                     name=f.name)))
        elif resolving and not any(r.file_votes.get(str(f.id), {}).get("decision") == FileVote.APPROVE.value
                                   for r in request.reviews):
            problems.append((f"file-{f.id}", Text("file '{name}' was approved by neither reviewer: a resolution "
                                                  "cannot release it on one person's approval", name=f.name)))
    return votes, problems


def check_decision(request: ExportRequest, decision: Decision, file_votes: dict[str, dict[str, str]],
                   explanation: str, *, resolving: bool = False) -> None:
    """What a review and a resolution must both satisfy; every problem is raised at once (`DecisionRefused`).

    Every file has a vote; a blocked file cannot be approved; a flagged file is approved only with a
    comment. Approving releases the approved files and withholds the others, so it needs at least one
    approved file, and a file withheld by an approval says why (its comment, or the comment to the
    requester). A review that returns or rejects says why to the requester; a resolution always gives
    its reason, and releases only files that one of the two reviewers approved (two people per file).
    """
    unknown = sorted(set(file_votes) - {str(f.id) for f in request.files})
    if unknown:
        raise EnclaveError("request {id} has no file(s) {names}", id=request.id, names=', '.join(unknown))
    votes, problems = _file_problems(request, file_votes, resolving)
    text_field = "reason" if resolving else "comment_to_requester"
    if decision == Decision.APPROVE and len(votes) == len(request.files):
        if not any(v == FileVote.APPROVE for v in votes.values()):
            problems.append(("decision", Text("approving releases the approved files: approve at least one file, "
                                              "or return or reject the request")))
        withheld = [f for f in request.files if votes[f.id] != FileVote.APPROVE
                    and not has_text(file_votes[str(f.id)].get("comment", ""))]
        if withheld and not has_text(explanation):
            problems += [(f"comment-{f.id}", Text("file '{name}' is withheld: say why in its comment to the "
                                                  "requester", name=f.name)) for f in withheld]
    if resolving and not has_text(explanation):
        problems.append((text_field, Text("resolving a conflict needs a reason")))
    if not resolving and decision != Decision.APPROVE and not has_text(explanation):
        problems.append((text_field, Text("returning or rejecting a request needs a comment to the requester")))
    if problems:
        raise DecisionRefused(problems)


# --- outcomes -------------------------------------------------------------------------------------


DECIDED_STATES = frozenset({ExportState.APPROVED, ExportState.RETURNED, ExportState.REJECTED, ExportState.RELEASED,
                            ExportState.REVISED})


def _outcome(decisions: set[str]) -> FileOutcome:
    if decisions == {FileVote.APPROVE.value}:
        return FileOutcome.APPROVED
    if FileVote.APPROVE.value in decisions:
        return FileOutcome.CONFLICTED
    return FileOutcome.REJECTED if FileVote.REJECT.value in decisions else FileOutcome.RETURNED


def file_outcomes(request: ExportRequest) -> dict[int, FileOutcome]:
    """Each file's outcome from the votes that decided it: both reviewers', or the resolver's after a conflict.

    Approved by both (or by the resolver, who may approve only what a reviewer approved); conflicted
    when one approved and the other did not; otherwise returned, or rejected if either rejected it.
    """
    if len(request.reviews) < REVIEWERS_NEEDED:
        return {f.id: FileOutcome.PENDING for f in request.files}
    deciding = [request.resolution_votes] if request.resolved_by else [r.file_votes for r in request.reviews]
    return {f.id: _outcome({str((v.get(str(f.id)) or {}).get("decision", "")) for v in deciding})
            for f in request.files}


def agreed(request: ExportRequest) -> bool:
    """Two reviews agree when their decisions are the same and, for an approval, so is every file's release."""
    if len({r.decision for r in request.reviews}) != 1:
        return False
    if request.reviews[0].decision != Decision.APPROVE:
        return True
    return FileOutcome.CONFLICTED not in file_outcomes(request).values()


def check_can_release_file(request: ExportRequest, f: ExportFile) -> None:
    """A file leaves only with an approved request, approved by two people, and never with blocking findings."""
    if f.request_id != request.id:
        raise ValueError(f"file {f.id} is not in request {request.id}")
    if request.state not in (ExportState.APPROVED, ExportState.RELEASED):
        raise NotAllowed("request {id} is {state}: nothing is released", id=request.id, state=request.state.value)
    check_can_approve_file(f)
    outcome = file_outcomes(request)[f.id]
    if outcome != FileOutcome.APPROVED:
        raise NotAllowed("file '{name}' is {outcome}: it is withheld", name=f.name, outcome=outcome.value)


def can_release_file(request: ExportRequest, f: ExportFile) -> bool:
    return _allowed(lambda: check_can_release_file(request, f))


# --- claims ---------------------------------------------------------------------------------------


def open_claims(request: ExportRequest) -> list[str]:
    """Reviewers who claimed the request and have not decided yet (a decision ends a claim)."""
    decided = ({r.reviewer for r in [*request.reviews, *request.voided_reviews]}
               | ({request.resolved_by} if request.resolved_by else set()))
    return [name for name in (request.claims or {}) if name not in decided]


def check_can_claim(request: ExportRequest, reviewer: User, project: Project, on: date | None = None) -> None:
    """A reviewer who may act on the request takes one of the places still open, so others pick another."""
    resolving = request.state == ExportState.CONFLICTED
    if resolving:
        check_can_resolve(request, reviewer, project, on)
    else:
        check_can_review(request, reviewer, project, on)
    claims = open_claims(request)
    if reviewer.username in claims:
        raise NotAllowed("you have already claimed request {id}", id=request.id)
    places = 1 if resolving else REVIEWERS_NEEDED - len(request.reviews)
    if len(claims) >= places:
        raise NotAllowed("request {id} is already claimed by {names}", id=request.id, names=', '.join(claims))


def can_claim(request: ExportRequest, reviewer: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_claim(request, reviewer, project, on))


def check_can_unclaim(request: ExportRequest, reviewer: User) -> None:
    if reviewer.username not in open_claims(request):
        raise NotAllowed("you have not claimed request {id}", id=request.id)


def can_unclaim(request: ExportRequest, reviewer: User) -> bool:
    return _allowed(lambda: check_can_unclaim(request, reviewer))


# --- seeing a request ---------------------------------------------------------------------------


def check_can_see(request: ExportRequest, user: User, project: Project, on: date | None = None, *,
                  by_token: bool = False) -> None:
    """The requester while a member of the project; a reviewer who may act on it or has acted on it.

    Anyone else gets "no such request", so that request numbers reveal nothing. A call a token
    authenticated (`by_token`: a workspace or personal token, usable outside a browser session) is
    served the requester's own requests only, on every route: the reviewer form, with its findings,
    and a reviewer's decisions are for the reviewer's browser session.
    """
    _same_project(request, project)
    if by_token and request.requester != user.username:
        raise NotFound("no export request {id}", id=request.id)
    if request.requester == user.username:
        if not is_member(project, user):
            raise NotAllowed("you are no longer a member of project '{slug}'", slug=project.slug)
        return
    acted = user.username == request.resolved_by or any(r.reviewer == user.username for r in request.reviews)
    if acted and _allowed(lambda: _check_independent(request, user, project, "see")):
        return
    if can_review(request, user, project, on) or can_resolve(request, user, project, on):
        return
    raise NotFound("no export request {id}", id=request.id)


def can_see(request: ExportRequest, user: User, project: Project, on: date | None = None, *,
            by_token: bool = False) -> bool:
    return _allowed(lambda: check_can_see(request, user, project, on, by_token=by_token))


def check_can_see_via_api(request: ExportRequest, user: User, project: Project, on: date | None = None) -> None:
    """The JSON API (workspace and personal tokens) serves a request to its requester only.

    A token can be used outside a reviewer's browser session (a workspace holds one), so the reviewer
    form of another project's request, with its findings, is never served through it.
    """
    check_can_see(request, user, project, on, by_token=True)


def can_see_via_api(request: ExportRequest, user: User, project: Project, on: date | None = None) -> bool:
    return _allowed(lambda: check_can_see_via_api(request, user, project, on))


def check_can_read_files(request: ExportRequest, user: User, project: Project, on: date | None = None, *,
                         by_token: bool = False) -> None:
    """The stored copies are read (pages, images) only by someone who may see the request, while its project is open.

    A suspended or expired project's files, blocked ones included, stay in the store for the record
    and are read by no one until the project is open again. They are shown in a browser session only:
    a token works from any machine, and a file not yet released must not be fetched through one.
    """
    check_can_see(request, user, project, on, by_token=by_token)
    if by_token:
        raise NotAllowed("the files of an export request are shown in a browser session only, never to a token")
    reason = closed_reason(project, on, why=request.requester == user.username)
    if reason:
        raise NotAllowed("{reason}: the files of its export requests cannot be read now", reason=reason)


def can_read_files(request: ExportRequest, user: User, project: Project, on: date | None = None, *,
                   by_token: bool = False) -> bool:
    return _allowed(lambda: check_can_read_files(request, user, project, on, by_token=by_token))


def visible_reviews(request: ExportRequest, viewer: str) -> list[str]:
    """Reviewers are blind to each other until both have decided."""
    done = len(request.reviews) >= REVIEWERS_NEEDED
    return [r.reviewer for r in request.reviews if done or r.reviewer == viewer]
