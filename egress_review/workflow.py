"""The one place that changes export requests: submit, review, resolve, withdraw, release - each audited."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from egress_review import membership, rules
from egress_review.owndata import OwnDataIndex
from egress_review.scan import rules_used, scan_bytes
from egress_review.tables import across_files
from egress_review.views import release_files
from enclave import __version__, audit
from enclave.audit import AuditAction
from enclave.checksums import content_path
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Text, Unavailable
from enclave.models import (
    EXPORT_TRANSITIONS,
    Decision,
    ExportFile,
    ExportRequest,
    ExportState,
    Project,
    Release,
    Review,
    User,
)
from enclave.projects import get_project, get_user
from enclave.provenance import provenance_of_outputs
from policies.schema import EgressPolicy

log = logging.getLogger(__name__)

OUTCOME = {Decision.APPROVE: ExportState.APPROVED, Decision.RETURN: ExportState.RETURNED,
           Decision.REJECT: ExportState.REJECTED}


def _move(session: Session, req: ExportRequest, to: ExportState, actor: str, **details: Any) -> None:
    if to not in EXPORT_TRANSITIONS[req.state]:
        raise InvalidTransition("request {id} cannot go from {state} to {to}",
                                id=req.id, state=req.state.value, to=to.value)
    before = req.state
    req.state = to
    req.updated_at = datetime.now(UTC)
    session.flush()
    audit.record(session, actor, audit.export_transition(to), project=req.project, target=f"request:{req.id}",
                 before=before.value, **details)


# Findings kept per kind and column in a request's record (the rest are counted): reviewers read them.
FINDINGS_PER_KIND = 50


def store_blob(store: Path, data: bytes) -> str:
    """Content-addressed copy; written once, read-only.

    The temporary name is unique per call: the service submits from several threads at once, often
    the same content (the same table requested twice), and each must finish its own copy.
    """
    digest = hashlib.sha256(data).hexdigest()
    path = content_path(store, digest)
    if not path.exists():
        tmp = path.parent / f"{digest}.{uuid.uuid4().hex}.tmp"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.chmod(tmp, 0o400)
            tmp.rename(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise Unavailable("the export store is full: the request was not made; tell the enclave "
                                  "administrators, then try again") from exc
            raise
    return digest


def get_request(session: Session, request_id: int, *, lock: bool = False) -> ExportRequest:
    """The request; with `lock`, its row is held (`SELECT ... FOR UPDATE`) until the transaction ends.

    A review or resolution reads the request's state and reviews, then changes them: without the lock,
    two reviewers at once on PostgreSQL both read "one review so far" and leave a third review or a
    request stuck in review. The lock makes the second wait and then read what the first wrote.
    """
    if lock:
        if session.get_bind().dialect.name == "sqlite":
            # FOR UPDATE is a no-op on SQLite and pysqlite begins a transaction only at the first write:
            # a write first takes the database's write lock, so the reads below see the last commit.
            session.execute(update(ExportRequest).where(ExportRequest.id == request_id)
                            .values(updated_at=ExportRequest.updated_at))
        req = session.execute(select(ExportRequest).where(ExportRequest.id == request_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()
        if req is not None:
            session.expire(req, ["reviews"])  # read again under the lock, never from before it
    else:
        req = session.get(ExportRequest, request_id)
    if req is None:
        raise NotFound("no export request {request_id}", request_id=request_id)
    return req


def parties(session: Session, username: str, req: ExportRequest) -> tuple[User, Project]:
    """The acting user and the request's project, as the database has them now (for the rules)."""
    return get_user(session, username), get_project(session, req.project)


def _account(session: Session, username: str) -> User | None:
    try:
        return get_user(session, username)
    except NotFound:
        return None


def recount(session: Session, req: ExportRequest) -> None:
    """Reviews, and a resolution, whose authors are no longer independent stop counting (`rules.check_can_count`).

    Asked under the request's lock by every step that counts reviews (review, resolve, claim, release),
    so a decision is always made by two people independent at that moment. A voided review stays on the
    record with its reason; a request decided on it goes back to waiting for review (or, when only the
    resolution is voided, to its conflict). A released request is left as it is: its release was decided.
    """
    if req.state not in rules.OPEN_FOR_REVIEW | {ExportState.CONFLICTED, ExportState.APPROVED}:
        return
    project = get_project(session, req.project)
    voided = [(r, reason) for r in req.reviews if (reason := rules.why_not(
        lambda r=r: rules.check_can_count(req, r.reviewer, _account(session, r.reviewer), project)))]
    resolution = req.resolved_by and rules.why_not(
        lambda: rules.check_can_count(req, req.resolved_by, _account(session, req.resolved_by), project))
    for r, reason in voided:
        r.void_reason = str(reason)
        audit.record(session, "system", AuditAction.EXPORT_REVIEW_VOIDED, project=req.project,
                     target=f"request:{req.id}", reviewer=r.reviewer, decision=r.decision.value, reason=str(reason))
    if voided or resolution:
        _void_resolution(session, req, str(resolution or ""))
        session.flush()
        session.expire(req, ["reviews", "voided_reviews"])
        back = ExportState.IN_REVIEW if voided else ExportState.CONFLICTED
        if req.state in (ExportState.CONFLICTED, ExportState.APPROVED) and req.state != back:
            _move(session, req, back, "system", voided=[r.reviewer for r, _ in voided] + [x for x in [resolution] if x])


def recounted(request_id: int) -> None:
    """`recount` in a transaction of its own, after a refused step was rolled back: the refusal keeps it.

    A conflict whose approving reviewer joined the project goes back to review whatever the resolver
    then does; the resolver's refusal ("not conflicted") rolls back the step's own recount, so it is made
    again here, once the step's transaction (and any lock it held) is gone.
    """
    try:
        with session_scope() as s, contextlib.suppress(NotFound):
            recount(s, get_request(s, request_id, lock=True))
    except Exception:  # the step recounts again under its own lock; the record of the void may wait for it
        log.exception("could not recount the reviews of request %s", request_id)


def _void_resolution(session: Session, req: ExportRequest, reason: str) -> None:
    """A resolution stops counting with the review it settled, or when its resolver is no longer independent."""
    if not req.resolved_by:
        return
    audit.record(session, "system", AuditAction.EXPORT_RESOLUTION_VOIDED, project=req.project,
                 target=f"request:{req.id}", resolver=req.resolved_by, resolution=req.resolution,
                 files=req.resolution_votes, reason=reason or "a review it settled no longer counts")
    req.resolution, req.resolved_by, req.resolution_votes = "", "", {}


def visible_request(session: Session, username: str, request_id: int, *, lock: bool = False,
                    by_token: bool = False) -> ExportRequest:
    """The request if `username` may see it (`rules.check_can_see`); otherwise "no such request"."""
    req = get_request(session, request_id, lock=lock)
    try:
        user, project = parties(session, username, req)
    except NotFound:
        raise NotFound("no export request {request_id}", request_id=request_id) from None
    rules.check_can_see(req, user, project, by_token=by_token)
    return req


def viewable(session: Session, username: str, request_id: int, *, by_token: bool = False) -> ExportRequest:
    """`visible_request` for a page or API view; a refused look is audited (`export.view.refused`).

    Probing request numbers, or a removed member coming back for her requests, is what an auditor looks for.
    """
    with refusals_audited(session, username, AuditAction.EXPORT_VIEW_REFUSED, request_id):
        return visible_request(session, username, request_id, by_token=by_token)


@contextlib.contextmanager
def refusals_audited(session: Session, actor: str, action: AuditAction, request_id: int,
                     **details: Any) -> Iterator[None]:
    """A refused review, resolution, download or file view is recorded, in a transaction of its own.

    The reviews are recounted there too (`recounted`): a void the refused step found is kept.

    The refused step's own transaction is rolled back (on SQLite it may hold the write lock, and
    nothing of a refused step is kept); the refusal is then recorded and raised again.
    """
    try:
        yield
    except EnclaveError as exc:
        session.rollback()
        recounted(request_id)
        _audit_refusal(actor, action, request_id, str(exc), details)
        raise


def _audit_refusal(actor: str, action: AuditAction, request_id: int, reason: str, details: dict[str, Any]) -> None:
    try:
        with session_scope() as s:
            req = s.get(ExportRequest, request_id)
            audit.record(s, actor, action, project=req.project if req else None, target=f"request:{request_id}",
                         reason=reason, **details)
    except Exception:  # the refusal itself stands; the database may be the reason
        log.exception("could not audit a refused %s", action.value)


def visible_file(session: Session, username: str, request_id: int, file_id: str, *,
                 by_token: bool = False) -> tuple[ExportRequest, ExportFile]:
    """A file whose stored copy `username` may read now (`rules.check_can_read_files`); refusals are audited."""
    with refusals_audited(session, username, AuditAction.EXPORT_INSPECT_REFUSED, request_id, file=file_id):
        req = visible_request(session, username, request_id, by_token=by_token)
        rules.check_can_read_files(req, *parties(session, username, req), by_token=by_token)
        f = next((f for f in req.files if str(f.id) == file_id), None)
        if f is None:
            raise NotFound("request {request_id} has no file {file_id}", request_id=request_id, file_id=file_id)
        return req, f


def decidable(session: Session, username: str, request_id: int, *, resolving: bool = False,
              by_token: bool = False) -> ExportRequest:
    """The request `username` may review (or resolve) now; a refusal is audited as a recorded decision's is.

    The service asks this before its confirmation page, so a refused attempt (one's own request, a party
    resolving her own conflict, a member of the project) is on the record even if never confirmed.
    """
    action = AuditAction.EXPORT_RESOLVE_REFUSED if resolving else AuditAction.EXPORT_REVIEW_REFUSED
    with refusals_audited(session, username, action, request_id, step="preview"):
        req = visible_request(session, username, request_id, by_token=by_token)
        check = rules.check_can_resolve if resolving else rules.check_can_review
        check(req, *parties(session, username, req))
        return req


def downloadable(session: Session, username: str, request_id: int) -> ExportRequest:
    """A released request its requester may download from now (`rules.check_can_download`); refusals are audited."""
    with refusals_audited(session, username, AuditAction.EXPORT_DOWNLOAD_REFUSED, request_id):
        req = visible_request(session, username, request_id)
        rules.check_can_download(req, *parties(session, username, req))
        return req


def downloadable_file(session: Session, username: str, request_id: int,
                      file_id: str) -> tuple[ExportRequest, ExportFile]:
    """A released file of a request its requester may download from now; a withheld one is refused, audited.

    Released means listed as released by the record and still allowed (`rules.check_can_release_file`).
    """
    with refusals_audited(session, username, AuditAction.EXPORT_DOWNLOAD_REFUSED, request_id, file=file_id):
        req = visible_request(session, username, request_id)
        rules.check_can_download(req, *parties(session, username, req))
        f = next((f for f in req.files if str(f.id) == file_id), None)
        if f is None:
            raise NotFound("request {request_id} has no file {file_id}", request_id=request_id, file_id=file_id)
        if f not in release_files(req):
            raise NotAllowed(rules.why_not(lambda: rules.check_can_release_file(req, f))
                             or Text("file '{name}' was not released", name=f.name))
        return req, f


def own_requests(session: Session, username: str) -> list[ExportRequest]:
    """The user's requests in the projects she may still see them in (`rules.can_see`): newest first."""
    user = get_user(session, username)
    reqs = session.execute(select(ExportRequest).where(ExportRequest.requester == username)
                           .order_by(ExportRequest.id.desc())).scalars().all()
    projects: dict[str, Project] = {}
    for r in reqs:
        if r.project not in projects:
            projects[r.project] = get_project(session, r.project)
    return [r for r in reqs if rules.can_see(r, user, projects[r.project])]


def check_submitter(session: Session, username: str, project_slug: str) -> None:
    """`rules.check_can_submit` for this user and project as the database has them now."""
    rules.check_can_submit(get_user(session, username), get_project(session, project_slug))


def revisable(session: Session, requester: str, request_id: int, project_slug: str) -> ExportRequest:
    """The returned request `requester` may revise now from `project_slug` (`rules.check_can_revise`)."""
    prev = visible_request(session, requester, request_id, lock=True)
    user, project = parties(session, requester, prev)
    if prev.project != project_slug:
        raise NotAllowed("request {request_id} belongs to project '{project}': revise it from "
                         "that project's workspace", request_id=request_id, project=prev.project)
    rules.check_can_revise(prev, user, project)
    return prev


def submit(session: Session, requester: str, project_slug: str, files: Sequence[tuple[str, bytes]], justification: str,
           store: Path, policy: EgressPolicy, own: OwnDataIndex | None = None,
           model: dict[str, Any] | None = None, revises: int | None = None) -> ExportRequest:
    """Copies and checks every file in one transaction: a request exists whole or not at all.

    `model` names training (and held-out) data for pickled models, for the membership-inference test.
    `revises` names a returned request this one replaces as its next version; it becomes `revised`.
    """
    check_submitter(session, requester, project_slug)
    prev = revisable(session, requester, revises, project_slug) if revises is not None else None
    rules.check_justification(justification)
    if not files:
        raise EnclaveError("no files in the request")
    req = ExportRequest(project=project_slug, requester=requester, justification=justification,
                        version=prev.version + 1 if prev else 1, revision_of=prev.id if prev else None)
    session.add(req)
    results = [scan_bytes(name, data, policy, own=own) for name, data in files]
    across_files(results, policy)  # tables that disclose only together, e.g. with and without one category
    for (name, data), result in zip(files, results, strict=True):
        if model and result.type == "pickle":
            result.findings.extend(membership.findings(data, model, policy.model_attack_auc, result.findings))
        kept = result.rebuilt if result.rebuilt is not None else b""  # the rebuilt form; nothing of a refused file
        req.files.append(ExportFile(name=name, sha256=store_blob(store, kept), size=len(kept),
                                    scan={**result.to_dict(FINDINGS_PER_KIND), "rules": rules_used(policy)}))
    session.flush()
    audit.record(session, requester, AuditAction.EXPORT_SUBMIT, project=project_slug, target=f"request:{req.id}",
                 files=[{"name": f.name, "sha256": f.sha256, "original_sha256": f.scan.get("original_sha256"),
                         "verdict": f.verdict} for f in req.files], revises=revises)
    if prev is not None:
        _move(session, prev, ExportState.REVISED, requester, by=f"request:{req.id}")
        audit.record(session, requester, AuditAction.EXPORT_REVISE, project=project_slug, target=f"request:{prev.id}",
                     revision=f"request:{req.id}", version=req.version)
    return req


def review(session: Session, reviewer: str, request_id: int, decision: Decision, file_votes: dict[str, dict[str, str]],
           comment_to_requester: str = "", private_comment: str = "") -> ExportRequest:
    """A reviewer's decision; a request the reviewer may not see is "no such request" (its state is not told)."""
    with refusals_audited(session, reviewer, AuditAction.EXPORT_REVIEW_REFUSED, request_id,
                          decision=decision.value):
        req = visible_request(session, reviewer, request_id, lock=True)
        recount(session, req)
        rules.check_can_review(req, *parties(session, reviewer, req))
        rules.check_decision(req, decision, file_votes, comment_to_requester)
    if req.state == ExportState.SUBMITTED:
        _move(session, req, ExportState.IN_REVIEW, reviewer)
    req.reviews.append(Review(reviewer=reviewer, decision=decision, file_votes=file_votes,
                              comment_to_requester=comment_to_requester, private_comment=private_comment))
    session.flush()
    audit.record(session, reviewer, AuditAction.EXPORT_REVIEW, project=req.project, target=f"request:{req.id}",
                 decision=decision.value, files={k: v.get("decision") for k, v in file_votes.items()})
    if len(req.reviews) == rules.REVIEWERS_NEEDED:
        outcome = OUTCOME[req.reviews[0].decision] if rules.agreed(req) else ExportState.CONFLICTED
        _move(session, req, outcome, "system", reviewers=[r.reviewer for r in req.reviews],
              files={str(k): v.value for k, v in rules.file_outcomes(req).items()})
    return req


def resolve(session: Session, actor: str, request_id: int, decision: Decision, file_votes: dict[str, dict[str, str]],
            reason: str) -> ExportRequest:
    """A conflicted request is resolved by a third reviewer, voting on every file as a reviewer does."""
    with refusals_audited(session, actor, AuditAction.EXPORT_RESOLVE_REFUSED, request_id, decision=decision.value):
        req = visible_request(session, actor, request_id, lock=True)
        recount(session, req)
        rules.check_can_resolve(req, *parties(session, actor, req))
        rules.check_decision(req, decision, file_votes, reason, resolving=True)
    req.resolution, req.resolved_by, req.resolution_votes = reason, actor, file_votes
    _move(session, req, OUTCOME[decision], actor, reason=reason, decision=decision.value,
          files={k: v.get("decision") for k, v in file_votes.items()})
    return req


def withdraw(session: Session, requester: str, request_id: int) -> ExportRequest:
    with refusals_audited(session, requester, AuditAction.EXPORT_WITHDRAW_REFUSED, request_id):
        req = visible_request(session, requester, request_id, lock=True)
        rules.check_can_withdraw(req, get_user(session, requester))
    _move(session, req, ExportState.WITHDRAWN, requester)
    return req


def claim(session: Session, reviewer: str, request_id: int) -> ExportRequest:
    """A reviewer takes one of the request's open places (`rules.check_can_claim`); recorded either way."""
    with refusals_audited(session, reviewer, AuditAction.EXPORT_CLAIM_REFUSED, request_id):
        req = visible_request(session, reviewer, request_id, lock=True)
        recount(session, req)
        rules.check_can_claim(req, *parties(session, reviewer, req))
    req.claims = {**(req.claims or {}), reviewer: datetime.now(UTC).isoformat()}
    session.flush()
    audit.record(session, reviewer, AuditAction.EXPORT_CLAIM, project=req.project, target=f"request:{req.id}",
                 claims=rules.open_claims(req))
    return req


def unclaim(session: Session, reviewer: str, request_id: int) -> ExportRequest:
    with refusals_audited(session, reviewer, AuditAction.EXPORT_CLAIM_REFUSED, request_id, unclaim=True):
        req = visible_request(session, reviewer, request_id, lock=True)
        rules.check_can_unclaim(req, get_user(session, reviewer))
    req.claims = {k: v for k, v in (req.claims or {}).items() if k != reviewer}
    session.flush()
    audit.record(session, reviewer, AuditAction.EXPORT_UNCLAIM, project=req.project, target=f"request:{req.id}")
    return req


def versions(session: Session, req: ExportRequest) -> list[ExportRequest]:
    """Every version of the request, first to this one (each revision names the one it revised)."""
    chain = [req]
    while chain[0].revision_of is not None:
        prev = session.get(ExportRequest, chain[0].revision_of)
        if prev is None:
            break
        chain.insert(0, prev)
    return chain


def earlier_requests(session: Session, req: ExportRequest, limit: int = 20) -> list[ExportRequest]:
    """The requester's other requests in the same project, newest first (for a reviewer's context)."""
    return list(session.execute(select(ExportRequest).where(
        ExportRequest.requester == req.requester, ExportRequest.project == req.project, ExportRequest.id != req.id)
        .order_by(ExportRequest.id.desc()).limit(limit)).scalars())


def settle(session: Session, request_id: int) -> Release | None:
    """An approved request is released at once: the decision of two reviewers is the release decision."""
    req = get_request(session, request_id, lock=True)
    recount(session, req)  # an approval whose reviewer stopped being independent goes back to review
    return release(session, "system", request_id) if req.state == ExportState.APPROVED else None


def release(session: Session, actor: str, request_id: int) -> Release:
    """The approved files become downloadable by the requester; results.json records everything.

    Only files `rules.check_can_release_file` allows go out (approved by two people, never blocked);
    the others are listed as withheld with their outcome, and nothing of them is released.
    """
    req = get_request(session, request_id, lock=True)
    recount(session, req)
    if req.state != ExportState.APPROVED:
        raise InvalidTransition("request {id} is {state}, not approved", id=req.id, state=req.state.value)
    if req.release is not None:
        raise InvalidTransition("request {id} is already released", id=req.id)
    outcomes = rules.file_outcomes(req)
    out = [f for f in req.files if rules.can_release_file(req, f)]
    if not out:
        raise InvalidTransition("request {id} has no approved file to release", id=req.id)
    record = {
        "request": req.id, "project": req.project, "requester": req.requester, "justification": req.justification,
        "submitted_at": req.created_at.isoformat(), "released_at": datetime.now(UTC).isoformat(),
        "version": req.version, "revision_of": req.revision_of,
        "files": [{"id": f.id, "name": f.name, "sha256": f.sha256, "bytes": f.size, "verdict": f.verdict,
                   "findings": f.scan.get("findings", [])} for f in out],
        "withheld": [{"id": f.id, "name": f.name, "sha256": f.sha256, "verdict": f.verdict,
                      "outcome": outcomes[f.id].value} for f in req.files if f not in out],
        "checks_run": ["file-type", "personal-data", "own-data", "row-level", "disclosure-control", "model"],
        "rules": req.files[0].scan.get("rules", {}) if req.files else {},
        "reviews": [{"reviewer": r.reviewer, "decision": r.decision.value, "files": r.file_votes,
                     "at": r.created_at.isoformat()} for r in req.reviews],
        "voided_reviews": [{"reviewer": r.reviewer, "decision": r.decision.value, "reason": r.void_reason,
                            "at": r.created_at.isoformat()} for r in req.voided_reviews],
        "resolution": req.resolution or None,
        "resolved_by": req.resolved_by or None,
        "resolution_files": req.resolution_votes or None,
        "tool_versions": {"enclave": __version__, **_versions()},
        "jobs": _job_provenance(session, req.project, out),
    }
    rel = Release(request=req, released_by=actor, record=record)
    session.add(rel)
    _move(session, req, ExportState.RELEASED, actor, files=[f.sha256 for f in out],
          withheld=[f.sha256 for f in req.files if f not in out])
    return rel


def _job_provenance(session: Session, project: str, files: list[ExportFile]) -> list[dict[str, Any]]:
    """Released files that a blind-mode job made carry its provenance record (code, image, data versions)."""
    digests = {f.sha256 for f in files} | {str(f.scan.get("original_sha256")) for f in files}
    return provenance_of_outputs(session, project, digests)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("polars", "phonenumbers", "presidio-analyzer", "scikit-learn"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out
