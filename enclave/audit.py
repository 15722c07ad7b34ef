"""Append-only, HMAC-chained audit trail.

Each record carries the hash of the previous one; the hash is keyed with a secret kept outside the
database, so someone who can edit the database cannot forge a consistent chain. A copy of the
chain's head is also kept outside the database (the anchor, a root-only file) so that cutting records
off the end is detected too. A trail with records and no anchor does not verify: deleting the anchor
would otherwise hide a truncation. When an anchor is really lost (a disk, a restore without it), an
admin re-anchors with `enclave audit reanchor --reason ...`, which first verifies the chain and is
itself a record in it.
"""

from __future__ import annotations

import enum
import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from enclave.errors import EnclaveError, Unavailable
from enclave.models import AuditEvent, AuditHead
from enclave.settings import get_settings

GENESIS = "0" * 64
# Problems that concern only the copy of the head outside the database, which re-anchoring replaces.
ANCHOR_PROBLEMS = frozenset({"anchor-missing", "anchor-unreadable", "anchor-mismatch", "truncated"})


class AuditAction(enum.StrEnum):
    """Typed audit actions: the trail's own, and refusals recorded outside the refused change's transaction."""

    REANCHOR = "audit.reanchor"
    # people, projects, memberships and dataset approvals (enclave.projects)
    USER_CREATE = "user.create"
    USER_ROLES = "user.roles"
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    PROJECT_TRANSITION = "project.transition"
    MEMBER_ADD = "member.add"
    MEMBER_ROLE = "member.role"
    MEMBER_REMOVE = "member.remove"
    DATASET_APPROVE = "dataset.approve"  # a dataset version approved for a project
    DATASET_REVOKE = "dataset.revoke"
    # datasets in (datasets_mount)
    DATASET_INGEST = "dataset.ingest"
    DATASET_STORE = "dataset.store"
    DATASET_REFUSED = "dataset.refused"  # the ingestion checks refused it
    DATASET_OVERRIDE = "dataset.override"  # a steward overrode refusing checks, with a reason
    # workspaces (hub spawner, enclave.workspaces)
    WORKSPACE_START = "workspace.start"
    WORKSPACE_STOP = "workspace.stop"
    WORKSPACE_STOPPED_BY_POLICY = "workspace.stopped-by-policy"  # suspension, expiry or a mode change stopped it
    # export requests: submitted, reviewed, each state it reaches (`export_transition`), downloaded
    EXPORT_SUBMIT = "export.submit"
    EXPORT_REVIEW = "export.review"
    EXPORT_DOWNLOAD = "export.download"
    EXPORT_SUBMITTED = "export.submitted"
    EXPORT_IN_REVIEW = "export.in_review"
    EXPORT_APPROVED = "export.approved"
    EXPORT_RETURNED = "export.returned"
    EXPORT_REJECTED = "export.rejected"
    EXPORT_CONFLICTED = "export.conflicted"
    EXPORT_RELEASED = "export.released"
    EXPORT_WITHDRAWN = "export.withdrawn"
    EXPORT_REVISED = "export.revised"
    EXPORT_REFUSED = "export.refused"
    EXPORT_INSPECT = "export.inspect"  # a reviewer read a stored file (page or image bytes)
    EXPORT_INSPECT_REFUSED = "export.inspect.refused"
    EXPORT_VIEW_REFUSED = "export.view.refused"  # a request page or API view refused: probing request numbers
    EXPORT_REVIEW_REFUSED = "export.review.refused"
    EXPORT_RESOLVE_REFUSED = "export.resolve.refused"
    EXPORT_DOWNLOAD_REFUSED = "export.download.refused"
    EXPORT_CLAIM = "export.claim"  # a reviewer took a request to work on (the queue shows it to the others)
    EXPORT_UNCLAIM = "export.unclaim"
    EXPORT_CLAIM_REFUSED = "export.claim.refused"
    EXPORT_REVIEW_VOIDED = "export.review.voided"  # its reviewer stopped being independent before the decision
    EXPORT_RESOLUTION_VOIDED = "export.resolution.voided"  # likewise its resolver, before the release
    EXPORT_REVISE = "export.revise"  # a returned request replaced by its requester's next version
    EXPORT_WITHDRAW_REFUSED = "export.withdraw.refused"
    EGRESS_SHOW = "egress.show"  # the operator's CLI read a request (`enclave egress show`)
    EGRESS_LIST = "egress.list"
    WORKSPACE_DENIED = "workspace.denied"
    WORKSPACE_ARCHIVE = "workspace.archive"
    WORKSPACE_PURGE = "workspace.purge"
    LOGIN = "login"
    LOGIN_DENIED = "login.denied"
    IDP_LOGIN_FAILED = "idp.login.failed"  # a wrong password (or unknown name) at the demo identity provider
    IDP_LOCKOUT = "idp.lockout"  # too many failures: the name is refused for a while, right password or not
    ACCESS_DENIED = "hub.access.denied"  # someone tried another user's server, tokens or spawn page
    BACKUP_CREATE = "backup.create"
    BACKUP_DRILL = "backup.drill"
    BACKUP_RESTORE = "backup.restore"  # a backup restored into the enclave's own home (a rebuilt host)
    # governance (the governance service): applications, approvals, catalogue, accreditation, supervision
    APPLICATION_SAVE = "application.save"  # a draft saved
    APPLICATION_SUBMIT = "application.submit"  # a version submitted (an amendment carries its diff)
    APPLICATION_WITHDRAW = "application.withdraw"
    APPLICATION_DECIDE = "application.decide"  # one party's approve / changes / reject on a step
    APPLICATION_APPROVED = "application.approved"  # every party agreed: the project was made or amended
    APPLICATION_REJECTED = "application.rejected"
    APPLICATION_ESCALATE = "application.escalate"  # a step past its time limit, escalated
    GOVERNANCE_REFUSED = "governance.refused"  # a refused governance action (who, what, why)
    DATASET_DOC_EDIT = "dataset.doc.edit"  # a steward changed a dataset version's description or column notes
    ACCREDITATION_SET = "accreditation.set"
    AUDIT_EXPORT = "audit.export"  # an auditor downloaded part of the trail (CSV or JSON)
    NOTIFY_SENT = "notify.sent"  # a notification went out (ids and states only, never data)
    NOTIFY_FAILED = "notify.failed"
    PROJECT_MODE = "project.mode"  # a project set interactive or blind (enclave.modes)
    JOB_SUBMIT = "job.submit"  # code snapshotted and queued to run on the real data
    JOB_REFUSED = "job.refused"
    JOB_START = "job.start"
    JOB_END = "job.end"  # finished or failed, with exit code, resources and output hashes
    JOB_CANCEL = "job.cancel"
    JOB_INTERRUPTED = "job.interrupted"  # its container was lost while the runner was away
    JOB_CHECKED = "job.checked"  # the export checks' verdict on its log and outputs
    JOB_DELIVER = "job.deliver"  # log and outputs copied into the workspace (checks passed or released)
    JOB_RELEASE = "job.release"  # an output checker released (or withheld) held outputs
    JOB_SHOW = "job.show"
    JOB_INSPECT = "job.inspect"  # an output checker viewed a job's held (checked) files in the browser
    # approved packages (packages/): requests, stewards' decisions, the wheelhouse fetched on the host
    PACKAGE_REQUEST = "package.request"
    PACKAGE_REQUEST_REFUSED = "package.request.refused"  # refused at the door (refused name, typosquat, ...)
    PACKAGE_APPROVE = "package.approve"
    PACKAGE_REFUSE = "package.refuse"
    PACKAGE_DECIDE_REFUSED = "package.decide.refused"  # someone not allowed to decide tried
    PACKAGE_FETCH = "package.fetch"  # files fetched into the wheelhouse, with their sha256
    PACKAGE_FETCH_FAILED = "package.fetch.failed"
    # executed code on the record (activity/): one record per accepted batch of cells and terminal commands,
    # holding the batch's sha256 and count; a gap the workspace's recorder reports; a call refused at the door
    CODE_RECORD = "code.record"
    CODE_RECORD_GAP = "code.record_gap"
    CODE_RECORD_REFUSED = "code.record.refused"
    # the import airlock (imports/): files brought in from outside, their checks, stewards' reviews, delivery
    IMPORT_SUBMIT = "import.submit"  # uploaded: name, size, sha256, purpose and the checks' outcome
    IMPORT_REFUSED = "import.refused"  # refused at the door (not a member, no purpose, no file)
    IMPORT_BLOCKED = "import.blocked"  # the checks blocked it (malware, type, size, unreadable, no scan)
    IMPORT_HELD = "import.held"  # waits for a steward (personal data, or policy reviews every import)
    IMPORT_APPROVE = "import.approve"
    IMPORT_REFUSE = "import.refuse"
    IMPORT_DECIDE_REFUSED = "import.decide.refused"  # someone not allowed to review tried
    IMPORT_DELIVER = "import.deliver"  # the file entered the project's workspace: name, size, sha256
    IMPORT_LAB_UPLOAD_REFUSED = "import.lab-upload.refused"  # JupyterLab's upload refused (the airlock is the way in)


def _key() -> bytes:
    return get_settings().secret("audit.key").encode()


def canonical(seq: int, ts: str, actor: str, action: str, project: str | None, target: str,
              details: str) -> bytes:
    body = {"seq": seq, "ts": ts, "actor": actor, "action": action, "project": project,
            "target": target, "details": json.loads(details)}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(key: bytes, prev_hash: str, ev: AuditEvent) -> str:
    msg = prev_hash.encode() + b"\n" + canonical(ev.seq, ev.ts, ev.actor, ev.action, ev.project, ev.target,
                                                 ev.details)
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def record(session: Session, actor: str, action: AuditAction | str, *, project: str | None = None,
           target: str = "", **details: Any) -> AuditEvent:
    """Append one record in the caller's transaction: it commits or rolls back with the change it records.

    The action must be one of `AuditAction` (a value outside the vocabulary is a `ValueError`, so a typo
    never makes a record auditors cannot find). Refused (`TamperedTrail`) when the trail no longer reaches
    its anchor.
    """
    return _append(session, actor, AuditAction(action), project, target, details, check_anchor=True)


def export_transition(state: enum.StrEnum) -> AuditAction:
    """The action recording that an export request reached `state` (an `ExportState`)."""
    return AuditAction(f"export.{state.value}")


def _append(session: Session, actor: str, action: str, project: str | None, target: str,
            details: dict[str, Any], *, check_anchor: bool) -> AuditEvent:
    """`record`, and the one record re-anchoring writes on a trail whose anchor is known to be wrong."""
    # Updating the head row first takes the write lock, so concurrent writers queue up here.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one()
    if check_anchor:
        _check_head_reaches_anchor(session, head)
    ev = AuditEvent(
        seq=head.seq + 1,
        ts=datetime.now(UTC).isoformat(timespec="microseconds"),
        actor=actor or "system",
        action=action,
        project=project,
        target=target,
        details=json.dumps(details, sort_keys=True, ensure_ascii=False, default=str),
        prev_hash=head.hash,
        hash="",
    )
    ev.hash = chain_hash(_key(), head.hash, ev)
    head.seq, head.hash = ev.seq, ev.hash
    session.add(ev)
    session.flush()
    anchor = get_settings().audit_anchor
    seq, digest = ev.seq, ev.hash

    if not session.info.get(_PENDING):
        session.info[_PENDING] = True

        @sa_event.listens_for(session, "after_rollback", once=True)
        def _forget(_s: Session) -> None:
            session.info.pop(_PENDING, None)

    @sa_event.listens_for(session, "after_commit", once=True)
    def _write_anchor(_s: Session) -> None:
        session.info.pop(_PENDING, None)
        write_anchor(anchor, seq, digest)

    return ev


# In a session's info while it holds records whose anchor is written at commit: a second record in the same
# transaction finds no anchor yet, and that is not a lost one.
_PENDING = "enclave.audit.anchor_pending"


def _check_head_reaches_anchor(session: Session, head: AuditHead) -> None:
    """Refuse to append to a trail whose end was cut off (one primary-key lookup).

    Someone who can write the database can delete the last records and reset the head row; records
    appended after that would reuse the deleted numbers with valid hashes and, once past the anchor,
    move it forward, hiding the cut. So a head below the anchor, or an anchored record that is gone or
    changed, stops every write until an admin has looked (`enclave audit verify`, then `reanchor`). So does
    a trail with records whose anchor is gone or unreadable: deleting the anchor, cutting the tail and waiting
    for the next record would otherwise leave a trail that verifies.
    """
    if session.info.get(_PENDING):
        return  # this transaction already appended after a check; its anchor is written at commit
    path = get_settings().audit_anchor
    try:
        anchor = read_anchor(path)
    except AnchorError as exc:
        if head.seq:  # a good write would replace it and, with it, the evidence of any cut before it
            raise TamperedTrail(f"the copy of the audit head kept outside the database ({path}) cannot be "
                                f"read ({exc})") from exc
        return
    if anchor is None:
        if head.seq:  # deleting it and waiting for one more record would otherwise hide a cut tail
            raise TamperedTrail(f"the audit trail holds {head.seq} records but the copy of its head kept "
                                f"outside the database ({path}) is gone")
        return  # a new trail: its first record writes the anchor
    a_seq, a_hash = anchor
    if a_seq > head.seq:
        raise TamperedTrail(f"the audit trail ends at record {head.seq} but its anchor is at record {a_seq}")
    at = session.get(AuditEvent, a_seq)
    if at is None or not hmac.compare_digest(at.hash, a_hash):
        raise TamperedTrail(f"record {a_seq} differs from the copy of the audit head kept outside the database")


def write_anchor(path: Path, seq: int, digest: str, *, replace: bool = False) -> None:
    """Move the anchor forward to (seq, digest); never back, unless an admin re-anchors (`replace`).

    The folder and file are root-only: the database (and anyone who can only write to it) cannot
    rewrite the anchor, and other local users cannot read or change it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    lock_fd = os.open(path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(lock_fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not replace:
            try:
                current = read_anchor(path)
            except AnchorError:
                current = None  # an unreadable anchor is replaced by a good one; verify reports it until then
            if current and current[0] >= seq:
                return
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"seq": seq, "hash": digest}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


class AnchorError(EnclaveError):
    """The anchor file exists but cannot be read as an anchor."""


class TamperedTrail(Unavailable):
    """The database's trail no longer reaches its anchor: nothing more is recorded (so nothing more is done)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: the audit trail was tampered with, so nothing can be recorded; "
                         "an administrator must run `enclave audit verify`")


def read_anchor(path: Path) -> tuple[int, str] | None:
    """The anchored (seq, hash), or None when there is no anchor file."""
    try:
        data = json.loads(path.read_text())
        return int(data["seq"]), str(data["hash"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnchorError(f"the audit anchor {path} cannot be read ({exc})") from exc


@dataclass
class Problem:
    seq: int
    kind: str
    message: str


@dataclass
class VerifyReport:
    records: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "problems": [asdict(p) for p in self.problems]}


def verify(session: Session, anchor_path: Path | None = None, key: bytes | None = None) -> VerifyReport:
    """Walk the chain and name every record that was edited, inserted, reordered or deleted, and
    check its end against the anchor (a missing anchor is a problem once there are records).

    `key` and `anchor_path` default to this enclave's; a restore drill passes the restored ones.
    """
    key = key or _key()
    report = VerifyReport()
    prev_seq, prev_hash = 0, GENESIS
    for ev in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
        report.records += 1
        if ev.seq > prev_seq + 1:
            report.problems.append(Problem(ev.seq, "deleted",
                f"records {prev_seq + 1}..{ev.seq - 1} are missing before record {ev.seq}"))
        if ev.prev_hash != prev_hash:
            report.problems.append(Problem(ev.seq, "broken-link",
                f"record {ev.seq} does not follow record {prev_seq} "
                "(a record was inserted, deleted or reordered before it)"))
        if not hmac.compare_digest(chain_hash(key, ev.prev_hash, ev), ev.hash):
            report.problems.append(Problem(ev.seq, "edited",
                f"record {ev.seq} ({ev.action} by {ev.actor}) does not match its hash: it was edited or forged"))
        prev_seq, prev_hash = ev.seq, ev.hash
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (prev_seq, prev_hash):
        report.problems.append(Problem(prev_seq, "head-mismatch",
            f"the chain ends at record {prev_seq} but the head row says {head.seq}"))
    report.problems += _anchor_problems(session, anchor_path or get_settings().audit_anchor, prev_seq,
                                        report.records)
    return report


def _anchor_problems(session: Session, path: Path, last_seq: int, records: int) -> list[Problem]:
    """The chain's end against the copy of its head kept outside the database."""
    try:
        anchor = read_anchor(path)
    except AnchorError as exc:
        return [Problem(last_seq, "anchor-unreadable", str(exc))]
    if anchor is None:
        if not records:
            return []  # a new enclave: nothing recorded, nothing anchored
        return [Problem(last_seq, "anchor-missing",
                        f"the copy of the head kept outside the database ({path}) is missing, so records cut off "
                        "the end cannot be ruled out; find out why, then an admin runs "
                        "`enclave audit reanchor --reason ...`")]
    a_seq, a_hash = anchor
    if a_seq > last_seq:
        return [Problem(a_seq, "truncated", f"records {last_seq + 1}..{a_seq} were deleted from the end of the trail")]
    at = session.get(AuditEvent, a_seq)
    if at is None or at.hash != a_hash:
        return [Problem(a_seq, "anchor-mismatch",
                        f"record {a_seq} differs from the copy of the head kept outside the database")]
    return []


def reanchor(session: Session, actor: str, reason: str, anchor_path: Path | None = None) -> dict[str, Any]:
    """Anchor the trail at its current end, after a verified chain; recorded as its own action.

    Only the anchor may be wrong: an edited, inserted or deleted record refuses re-anchoring, so it
    cannot be used to bless a tampered trail. What the old anchor said stays in the new record.
    """
    if not reason.strip():
        raise EnclaveError("--reason is required: say why the anchor is being replaced (it is recorded)")
    path = anchor_path or get_settings().audit_anchor
    report = verify(session, path)
    chain = [p for p in report.problems if p.kind not in ANCHOR_PROBLEMS]
    if chain:
        raise EnclaveError("the audit chain itself does not verify, so it cannot be re-anchored: "
                           + "; ".join(f"record {p.seq}: {p.kind}" for p in chain))
    try:
        previous = read_anchor(path)
    except AnchorError:
        previous = None
    ev = _append(session, actor, AuditAction.REANCHOR, None, str(path),
                 {"reason": reason.strip(), "previous_anchor": list(previous) if previous else None,
                  "replaced_problems": [asdict(p) for p in report.problems]}, check_anchor=False)
    seq, digest = ev.seq, ev.hash

    @sa_event.listens_for(session, "after_commit", once=True)
    def _replace_anchor(_s: Session) -> None:
        write_anchor(path, seq, digest, replace=True)

    return {"anchored": seq, "previous": previous, "replaced_problems": [p.message for p in report.problems]}


def query(session: Session, *, user: str | None = None, project: str | None = None,
          since: datetime | None = None, action: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    if user:
        stmt = stmt.where(AuditEvent.actor == user)
    if project:
        stmt = stmt.where(AuditEvent.project == project)
    if action:
        stmt = stmt.where(AuditEvent.action.like(action.replace("*", "%")))
    if since:
        stmt = stmt.where(AuditEvent.ts >= since.astimezone(UTC).isoformat(timespec="microseconds"))
    rows = session.execute(stmt.limit(limit)).scalars()
    return [
        {"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "project": e.project,
         "target": e.target, "details": json.loads(e.details), "hash": e.hash}
        for e in rows
    ]
