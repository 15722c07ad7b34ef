"""What happens to an import: uploaded, checked, held or blocked or released, reviewed, delivered; all audited.

An uploaded file waits in a root-only staging folder (`Settings.imports_staging`) and is never mounted there.
Delivery copies it into the project's imports folder (`Settings.imports_dir`), read-only, which every
workspace of the project mounts read-only at /workspace/imports: a released file appears in running
workspaces at once. A blocked or refused file is discarded; its name, size and sha256 stay in the trail.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, NotAllowed, NotFound
from enclave.projects import get_project, get_user
from enclave.settings import Settings
from imports import checks, rules
from imports.models import ImportRequest, ImportState
from policies.schema import ImportPolicy

NAME_MAX = 120
_UNSAFE = re.compile(r"[^\w.+-]")


def safe_name(filename: str) -> str:
    """The name the file has in the workspace: its last path part, letters (any script), digits, `._+-` only,
    never hidden, never empty."""
    base = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    name = _UNSAFE.sub("_", base).lstrip(".")[:NAME_MAX]
    if not name or name.strip("_") == "":
        raise NotAllowed("'{name}' is not a file name that can be imported", name=filename[:80])
    return name


def _refused(actor: str, action: AuditAction, project: str | None, target: str, exc: EnclaveError) -> None:
    """Recorded in its own transaction: the refused change's one is rolled back."""
    with session_scope() as s:
        audit.record(s, actor, action, project=project, target=target, reason=str(exc))


def _target(req: ImportRequest) -> str:
    return f"import:{req.id}"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def staged_path(settings: Settings, req: ImportRequest) -> Path:
    return settings.imports_staging / str(req.id)


def delivered_path(settings: Settings, req: ImportRequest) -> Path:
    return settings.imports_dir(req.project) / str(req.id) / req.filename


def _remove_on_rollback(session: Session, path: Path) -> None:
    """A delivered file whose transaction rolls back is taken away again: nothing enters unrecorded."""
    def undo(_session: Session) -> None:
        path.unlink(missing_ok=True)
        for folder in (path.parent,):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    event.listen(session, "after_rollback", undo, once=True)


def _deliver(session: Session, settings: Settings, req: ImportRequest, actor: str) -> None:
    """Into the project's imports folder, read-only for everyone; recorded with name, size and sha256."""
    source = staged_path(settings, req)
    data = source.read_bytes()
    if checks.sha256_of(data) != req.sha256:  # the staged copy changed under us: never deliver it
        raise EnclaveError("import {id}: the stored file no longer matches its sha256", id=req.id)
    dest = delivered_path(settings, req)
    project_dir = settings.imports_dir(req.project)
    project_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(project_dir, 0o755)
    dest.parent.mkdir(mode=0o755, exist_ok=True)
    tmp = dest.parent / f".{secrets.token_hex(6)}.tmp"
    tmp.write_bytes(data)
    os.chmod(tmp, 0o444)
    os.replace(tmp, dest)
    os.chmod(dest.parent, 0o555)
    _remove_on_rollback(session, dest)
    source.unlink(missing_ok=True)
    req.state, req.delivered_at = ImportState.RELEASED, datetime.now(UTC)
    audit.record(session, actor, AuditAction.IMPORT_DELIVER, project=req.project, target=_target(req),
                 name=req.filename, size=req.size, sha256=req.sha256, requester=req.requester,
                 path=f"{req.id}/{req.filename}")


def submit(session: Session, settings: Settings, policy: ImportPolicy, requester: str, project: str,
           filename: str, data: bytes, purpose: str) -> ImportRequest:
    """A researcher's upload: refused at the door, or checked and then blocked, held or delivered."""
    try:
        name = safe_name(filename)
        rules.check_can_import(get_user(session, requester), get_project(session, project), purpose)
    except EnclaveError as exc:
        _refused(requester, AuditAction.IMPORT_REFUSED, project, filename[:200], exc)
        raise
    req = ImportRequest(requester=requester, project=project, filename=name, purpose=purpose.strip(),
                        size=len(data), sha256=checks.sha256_of(data), state=ImportState.HELD, findings=[])
    session.add(req)
    session.flush()
    staged = staged_path(settings, req)
    staged.unlink(missing_ok=True)  # a rolled-back attempt may have left one under this id
    _write_private(staged, data)
    result = checks.run(policy, settings.clamav_db_dir, name, staged)
    req.file_type, req.findings = result.file_type, [f.as_dict() for f in result.findings]
    audit.record(session, requester, AuditAction.IMPORT_SUBMIT, project=project, target=_target(req),
                 name=name, size=req.size, sha256=req.sha256, purpose=req.purpose, file_type=req.file_type,
                 outcome=result.outcome.value, findings=req.findings)
    if result.outcome == checks.Outcome.BLOCK:
        staged.unlink(missing_ok=True)
        req.state = ImportState.BLOCKED
        audit.record(session, requester, AuditAction.IMPORT_BLOCKED, project=project, target=_target(req),
                     reasons=[f["reason"] for f in req.findings if f["outcome"] == "block"])
    elif result.outcome == checks.Outcome.REVIEW or policy.review_every_import:
        req.state = ImportState.HELD
        audit.record(session, requester, AuditAction.IMPORT_HELD, project=project, target=_target(req),
                     reasons=[f["reason"] for f in req.findings] or ["imports.yaml: review_every_import"])
    else:
        _deliver(session, settings, req, requester)
    return req


def get_import(session: Session, import_id: int) -> ImportRequest:
    req = session.get(ImportRequest, import_id)
    if req is None:
        raise NotFound("no import {id}", id=import_id)
    return req


def visible_import(session: Session, policy: ImportPolicy, username: str, import_id: int) -> ImportRequest:
    req = get_import(session, import_id)
    rules.check_can_see(get_user(session, username), get_project(session, req.project), req, policy)
    return req


def _reviewable(session: Session, policy: ImportPolicy, decider: str, import_id: int) -> ImportRequest:
    try:
        req = get_import(session, import_id)
        rules.check_can_review(decider, req, policy)
    except EnclaveError as exc:
        _refused(decider, AuditAction.IMPORT_DECIDE_REFUSED, None, f"import:{import_id}", exc)
        raise
    return req


def approve(session: Session, settings: Settings, policy: ImportPolicy, decider: str, import_id: int,
            reason: str) -> ImportRequest:
    """A steward lets a held file in: it is delivered into the project's workspace now."""
    req = _reviewable(session, policy, decider, import_id)
    req.decided_by, req.decision_reason, req.decided_at = decider, reason.strip(), datetime.now(UTC)
    audit.record(session, decider, AuditAction.IMPORT_APPROVE, project=req.project, target=_target(req),
                 name=req.filename, sha256=req.sha256, reason=req.decision_reason)
    _deliver(session, settings, req, decider)
    return req


def refuse(session: Session, settings: Settings, policy: ImportPolicy, decider: str, import_id: int,
           reason: str) -> ImportRequest:
    """A steward keeps a held file out, saying why (the researcher reads it); the file is discarded."""
    req = _reviewable(session, policy, decider, import_id)
    if not reason.strip():
        raise NotAllowed("give a reason: the researcher reads why the import was refused")
    req.state, req.decided_by = ImportState.REFUSED, decider
    req.decision_reason, req.decided_at = reason.strip(), datetime.now(UTC)
    audit.record(session, decider, AuditAction.IMPORT_REFUSE, project=req.project, target=_target(req),
                 name=req.filename, sha256=req.sha256, reason=req.decision_reason)
    staged_path(settings, req).unlink(missing_ok=True)
    return req


def imports_of(session: Session, projects: list[str]) -> list[ImportRequest]:
    q = select(ImportRequest).where(ImportRequest.project.in_(projects)).order_by(ImportRequest.id.desc())
    return list(session.execute(q).scalars())


def held(session: Session) -> list[ImportRequest]:
    q = select(ImportRequest).where(ImportRequest.state == ImportState.HELD).order_by(ImportRequest.id)
    return list(session.execute(q).scalars())
