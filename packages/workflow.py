"""Package requests from ask to wheelhouse: every step checked by `packages.rules` and audited.

A refused attempt is recorded in its own transaction (the refused change rolls back, its record stays).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, NotAllowed, NotFound
from enclave.projects import get_project, get_user
from enclave.settings import Settings
from packages import rules
from packages.i18n import both
from packages.models import PackageRequest, RequestState
from packages.wheelhouse import (
    Fetched,
    build,
    fetch_one,
    filled_hashes,
    missing_dependencies,
    read_allow_list,
    update_allow_list,
)
from policies.schema import PackagePolicy, PinnedPackage, normalize_package_name

_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*(\S+))?\s*$")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.!+_-]*$")


def parse_spec(spec: str) -> tuple[str, str]:
    """NAME or NAME==VERSION, the name PEP 503 normalised; anything else (ranges, URLs, paths) refused."""
    m = _SPEC.match(spec)
    if not m or not re.match(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$", m.group(1)):
        raise NotAllowed(f"'{spec}' is not a Python package name (give NAME or NAME==VERSION)")
    version = m.group(2) or ""
    if version and not _VERSION.match(version):
        raise NotAllowed(f"'{version}' is not a version such as 2.2.3")
    return normalize_package_name(m.group(1)), version


def _refused(actor: str, action: AuditAction, project: str | None, target: str, exc: EnclaveError) -> None:
    with session_scope() as s:
        audit.record(s, actor, action, project=project, target=target, reason=str(exc))


def refused_call(actor: str, project: str | None, address: str, exc: EnclaveError) -> None:
    """A workspace call the service refused before any rule of the request ran (a token from another
    container, no running workspace): recorded like a refused request, with the address it came from."""
    _refused(actor, AuditAction.PACKAGE_REQUEST_REFUSED, project, f"address:{address}", exc)


def request_dict(r: PackageRequest) -> dict[str, Any]:
    return {"id": r.id, "requester": r.requester, "project": r.project, "name": r.name, "version": r.version,
            "reason": r.reason, "state": r.state.value, "decided_by": r.decided_by,
            "decision_reason": r.decision_reason, "fetch": r.fetch, "fetch_i18n": both(r.fetch) if r.fetch else {},
            "created_at": r.created_at, "decided_at": r.decided_at}


def open_requests(session: Session) -> list[PackageRequest]:
    return list(session.execute(select(PackageRequest).where(PackageRequest.state == RequestState.REQUESTED))
                .scalars())


def list_requests(session: Session, state: RequestState | None = None) -> list[PackageRequest]:
    q = select(PackageRequest).order_by(PackageRequest.id)
    if state is not None:
        q = q.where(PackageRequest.state == state)
    return list(session.execute(q).scalars())


def request_package(session: Session, policy: PackagePolicy, requester: str, project: str, spec: str,
                    reason: str) -> PackageRequest:
    """A researcher asks for a package for a project; refused names and typosquats stop here, recorded."""
    try:
        name, version = parse_spec(spec)
        rules.check_can_request(policy, get_user(session, requester), get_project(session, project), name,
                                reason, open_requests(session))
    except EnclaveError as exc:
        _refused(requester, AuditAction.PACKAGE_REQUEST_REFUSED, project, spec.strip(), exc)
        raise
    req = PackageRequest(requester=requester, project=project, name=name, version=version, reason=reason.strip())
    session.add(req)
    session.flush()
    audit.record(session, requester, AuditAction.PACKAGE_REQUEST, project=project, target=f"package-request:{req.id}",
                 name=name, version=version, reason=req.reason)
    return req


def get_request(session: Session, request_id: int) -> PackageRequest:
    req = session.get(PackageRequest, request_id)
    if req is None:
        raise NotFound(f"no package request {request_id}")
    return req


def _decidable(session: Session, policy: PackagePolicy, decider: str, request_id: int, *, approving: bool,
               ) -> PackageRequest:
    try:
        req = get_request(session, request_id)
        (rules.check_can_approve if approving else rules.check_can_decide)(policy, decider, req)
    except EnclaveError as exc:
        _refused(decider, AuditAction.PACKAGE_DECIDE_REFUSED, None, f"package-request:{request_id}", exc)
        raise
    return req


def _record_fetch(session: Session, actor: str, project: str | None, name: str, fetched: Sequence[Fetched],
                  failure: str) -> None:
    if failure:
        audit.record(session, actor, AuditAction.PACKAGE_FETCH_FAILED, project=project, target=f"package:{name}",
                     reason=failure)
    else:
        audit.record(session, actor, AuditAction.PACKAGE_FETCH, project=project, target=f"package:{name}",
                     files=[f.as_dict() for f in fetched])


def _undo_on_rollback(session: Session, path: Path, name: str) -> None:
    """The allow-list is a file, outside the database transaction that approves: if that transaction rolls
    back (a failed audit record, a lost connection), this package's entry goes back to what it was, so the
    file never lists a package whose approval did not happen. Other entries written meanwhile are kept."""
    previous = read_allow_list(path).python.get(name)

    def restore(_session: Session) -> None:
        event.remove(session, "after_commit", forget)
        update_allow_list(path, {name: previous})

    def forget(_session: Session) -> None:
        event.remove(session, "after_rollback", restore)

    event.listen(session, "after_rollback", restore, once=True)
    event.listen(session, "after_commit", forget, once=True)


def approve(session: Session, settings: Settings, policy: PackagePolicy, decider: str, request_id: int,
            reason: str, version: str = "", index_args: Sequence[str] = ()) -> PackageRequest:
    """A steward approves: the package, pinned, joins the allow-list and its wheels are fetched and checked.

    A failed fetch leaves the request approved with the reason in `fetch`; `enclave packages build` retries.
    """
    req = _decidable(session, policy, decider, request_id, approving=True)
    pinned = version or req.version
    if not pinned or not _VERSION.match(pinned):
        raise NotAllowed(f"package request {req.id} names no version: approve it with --version (a pinned "
                         "version such as 2.2.3)")
    path = settings.policy_dir / "packages.yaml"
    _undo_on_rollback(session, path, req.name)
    updated = update_allow_list(path, {req.name: PinnedPackage(version=pinned)})
    req.state, req.version, req.decided_by = RequestState.APPROVED, pinned, decider
    req.decision_reason, req.decided_at = reason.strip(), datetime.now(UTC)
    audit.record(session, decider, AuditAction.PACKAGE_APPROVE, project=req.project,
                 target=f"package-request:{req.id}", name=req.name, version=pinned, reason=req.decision_reason)
    try:
        fetched = fetch_one(updated, req.name, settings.wheelhouse_dir, index_args)
    except EnclaveError as exc:
        req.fetch = str(exc)
        _record_fetch(session, decider, req.project, req.name, [], req.fetch)
        return req
    update_allow_list(path, filled_hashes(updated, fetched))
    req.fetch = "ok"
    _record_fetch(session, decider, req.project, req.name, fetched, "")
    return req


def refuse(session: Session, policy: PackagePolicy, decider: str, request_id: int, reason: str) -> PackageRequest:
    """A steward refuses, saying why (the researcher reads it)."""
    req = _decidable(session, policy, decider, request_id, approving=False)
    if not reason.strip():
        raise NotAllowed("give a reason: the researcher reads why the package was refused")
    req.state, req.decided_by = RequestState.REFUSED, decider
    req.decision_reason, req.decided_at = reason.strip(), datetime.now(UTC)
    audit.record(session, decider, AuditAction.PACKAGE_REFUSE, project=req.project,
                 target=f"package-request:{req.id}", name=req.name, reason=req.decision_reason)
    return req


def build_wheelhouse(session: Session, settings: Settings, policy: PackagePolicy, actor: str,
                     index_args: Sequence[str] = ()) -> dict[str, Any]:
    """Fetch the whole allow-list into the wheelhouse; hashes the allow-list lacked are filled in."""
    fetched, failed = build(policy, settings.wheelhouse_dir, index_args=index_args)
    fills = filled_hashes(policy, fetched)
    if fills:
        update_allow_list(settings.policy_dir / "packages.yaml", fills)
    for name in sorted(policy.python):
        _record_fetch(session, actor, None, name, [f for f in fetched if f.name == name], failed.get(name, ""))
    return {"wheelhouse": str(settings.wheelhouse_dir), "fetched": [f.as_dict() for f in fetched],
            "failed": {n: both(r) for n, r in failed.items()}, "hashes_filled": sorted(fills),
            "missing_dependencies": missing_dependencies(policy, settings.wheelhouse_dir, fetched)}


def policy_path(settings: Settings) -> Path:
    return settings.policy_dir / "packages.yaml"


def current_policy(settings: Settings) -> PackagePolicy:
    """The allow-list as the file has it now: a long-running service (the governance pages) reads it on every
    request, since approvals rewrite it while the service runs."""
    return read_allow_list(policy_path(settings))


def requests_in(session: Session, projects: Sequence[str]) -> list[PackageRequest]:
    """The requests of these projects, newest first (what a researcher's page lists)."""
    if not projects:
        return []
    return list(session.execute(select(PackageRequest).where(PackageRequest.project.in_(list(projects)))
                                .order_by(PackageRequest.id.desc())).scalars())


def check_version(version: str) -> None:
    """A pinned version as `parse_spec` and `approve` accept it (a form checks its version field with this)."""
    if not _VERSION.match(version):
        raise NotAllowed(f"'{version}' is not a version such as 2.2.3")
