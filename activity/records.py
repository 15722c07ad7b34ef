"""The record of executed code: accept a workspace's batch, note a gap, answer auditors, find edits.

Append-only by construction: this module has no function that changes or removes a record, and neither
has the service. Each record's `sha256` covers all its fields; each accepted batch is one `code.record`
audit record holding the count and the sha256 of its records' hashes in order, so the HMAC-chained trail
(`enclave audit verify`) vouches for the batch, and `verify` here finds a record that was edited, added
or deleted in the database since.

Who, which project and which workspace are an `Identity` the service builds from the caller's token and
its own container; nothing in a batch can name them (`check_entry` refuses a body that tries).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from activity.models import CodeKind, CodeRecord
from enclave import audit
from enclave.audit import AuditAction
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import AuditHead
from enclave.workspaces import RunningWorkspace

MAX_CODE = 100_000  # characters kept of one cell or command (its full length is recorded beside it)
MAX_BATCH = 500  # records in one call; the client sends more in several
ENTRY_FIELDS = {"kind", "code", "kernel", "session", "execution_count", "at"}
GAP_FIELDS = {"since", "until", "dropped", "delayed", "reason"}


class BadRecord(EnclaveError):
    """A batch the service cannot store as sent (the workspace's recorder is out of date or was tampered with)."""


@dataclass(frozen=True)
class Identity:
    """Whose record it is, from the token (user) and the container (project, workspace), never the body."""

    user: str
    project: str
    workspace: str


def check_from_own_workspace(ws: RunningWorkspace | None, address: str, user: str, name: str) -> Identity:
    """A workspace token counts only from its owner's running workspace; the project is the container's label."""
    if ws is None:
        raise NotAllowed("code is recorded from your running workspace; none runs")
    if not ws.is_at(address):
        raise NotAllowed("code records are accepted only from your own workspace")
    return Identity(user, ws.project, name)


def _iso(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BadRecord("'{field}' must be a time (ISO 8601)", field=field)
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRecord("'{field}' must be a time (ISO 8601)", field=field) from exc
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def check_entry(raw: Any) -> dict[str, Any]:
    """One cell or command as the workspace sent it, checked; a field naming who or where is refused."""
    if not isinstance(raw, dict):
        raise BadRecord("each record must be a JSON object")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise BadRecord("unknown field(s): {fields}", fields=", ".join(unknown))
    try:
        kind = CodeKind(raw.get("kind"))
    except ValueError as exc:
        raise BadRecord("'kind' must be 'cell' or 'terminal'") from exc
    code = raw.get("code")
    if not isinstance(code, str):
        raise BadRecord("'code' must be text")
    for key in ("kernel", "session"):
        if not isinstance(raw.get(key, ""), str):
            raise BadRecord("'{field}' must be text", field=key)
    count = raw.get("execution_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise BadRecord("'execution_count' must be a whole number")
    return {"kind": kind, "code": code[:MAX_CODE], "code_length": len(code), "kernel": str(raw.get("kernel", ""))[:200],
            "session": str(raw.get("session", ""))[:200], "execution_count": count,
            "executed_at": _iso(raw.get("at"), "at")}


def record_hash(r: CodeRecord) -> str:
    """sha256 over every field a record holds but its id and its own hash."""
    body = {"kind": CodeKind(r.kind).value, "user": r.user, "project": r.project, "workspace": r.workspace,
            "kernel": r.kernel, "session": r.session, "execution_count": r.execution_count, "code": r.code,
            "code_length": r.code_length, "executed_at": r.executed_at, "received_at": r.received_at,
            "audit_seq": r.audit_seq}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def batch_hash(hashes: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def accept(session: Session, who: Identity, entries: list[Any]) -> dict[str, Any]:
    """Store a batch and tie it into the audit trail; all of it or nothing (one transaction)."""
    if not isinstance(entries, list) or not entries:
        raise BadRecord("'records' must be a non-empty list")
    if len(entries) > MAX_BATCH:
        raise BadRecord("at most {n} records in one call", n=MAX_BATCH)
    checked = [check_entry(e) for e in entries]
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    # each record's hash covers the seq of the audit record that vouches for its batch: read it (the trail's
    # head row locked for this transaction), hash the records, then append that audit record with their hash
    rows = [CodeRecord(user=who.user, project=who.project, workspace=who.workspace, received_at=now, audit_seq=0,
                       sha256="", **c) for c in checked]
    seq = _next_seq(session)
    for r in rows:
        r.audit_seq = seq
        r.sha256 = record_hash(r)
    digest = batch_hash(r.sha256 for r in rows)
    ev = audit.record(session, who.user, AuditAction.CODE_RECORD, project=who.project, target=who.workspace,
                      count=len(rows), sha256=digest, kinds=sorted({c["kind"].value for c in checked}))
    if ev.seq != seq:  # another writer took the number between the two reads: the head row's lock prevents it
        raise EnclaveError("the audit trail moved while recording; try again")
    session.add_all(rows)
    session.flush()
    return {"accepted": len(rows), "audit_seq": seq, "sha256": digest}


def _next_seq(session: Session) -> int:
    """The seq the next audit record gets, with the trail's head row locked for this transaction."""
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)
                           .execution_options(populate_existing=True)).scalar_one()
    return head.seq + 1


def note_gap(session: Session, who: Identity, raw: Any) -> dict[str, Any]:
    """What the workspace's recorder reports it could not send in time (delayed) or at all (dropped)."""
    if not isinstance(raw, dict):
        raise BadRecord("'gap' must be a JSON object")
    unknown = sorted(set(raw) - GAP_FIELDS)
    if unknown:
        raise BadRecord("unknown field(s): {fields}", fields=", ".join(unknown))
    counts = {}
    for key in ("dropped", "delayed"):
        value = raw.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadRecord("'{field}' must be a whole number, 0 or more", field=key)
        counts[key] = value
    ev = audit.record(session, who.user, AuditAction.CODE_RECORD_GAP, project=who.project, target=who.workspace,
                      since=_iso(raw.get("since"), "since"), until=_iso(raw.get("until"), "until"),
                      reason=str(raw.get("reason", ""))[:500], **counts)
    return {"audit_seq": ev.seq}


def query(session: Session, *, project: str | None = None, user: str | None = None,
          since: datetime | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
    """Records in the order they were stored, each with whether it still matches its hash."""
    stmt = select(CodeRecord).order_by(CodeRecord.id)
    if project:
        stmt = stmt.where(CodeRecord.project == project)
    if user:
        stmt = stmt.where(CodeRecord.user == user)
    if since:
        stmt = stmt.where(CodeRecord.received_at >= since.astimezone(UTC).isoformat(timespec="microseconds"))
    return [view(r) for r in session.execute(stmt.limit(limit)).scalars()]


def view(r: CodeRecord) -> dict[str, Any]:
    return {"id": r.id, "kind": CodeKind(r.kind).value, "user": r.user, "project": r.project,
            "workspace": r.workspace, "kernel": r.kernel, "session": r.session,
            "execution_count": r.execution_count, "code": r.code, "code_length": r.code_length,
            "executed_at": r.executed_at, "received_at": r.received_at, "audit_seq": r.audit_seq,
            "sha256": r.sha256, "intact": record_hash(r) == r.sha256}


def gaps(session: Session, *, project: str | None = None, user: str | None = None,
         since: datetime | None = None) -> list[dict[str, Any]]:
    """The gaps the recorders reported (audit records code.record_gap)."""
    return audit.query(session, project=project, user=user, since=since, action=AuditAction.CODE_RECORD_GAP.value)


def verify(session: Session) -> list[str]:
    """Every record edited since it was stored, and every batch whose records no longer match its audit record
    (a record added, changed or deleted); empty when the record is whole. The trail itself: `audit.verify`."""
    problems: list[str] = []
    by_batch: dict[int, list[CodeRecord]] = {}
    for r in session.execute(select(CodeRecord).order_by(CodeRecord.id)).scalars():
        if record_hash(r) != r.sha256:
            problems.append(f"code record {r.id}: changed since it was stored (its hash no longer matches)")
        by_batch.setdefault(r.audit_seq, []).append(r)
    for ev in audit.query(session, action=AuditAction.CODE_RECORD.value, limit=10**9):
        rows = by_batch.pop(ev["seq"], [])
        d = ev["details"]
        if len(rows) != d["count"] or batch_hash(r.sha256 for r in rows) != d["sha256"]:
            problems.append(f"audit record {ev['seq']}: its batch of {d['count']} code records does not match "
                            f"the {len(rows)} stored (records added, changed or deleted)")
    for seq, rows in sorted(by_batch.items()):
        problems.append(f"code records {', '.join(str(r.id) for r in rows)}: no audit record {seq} vouches for them")
    return problems


def report(session: Session, *, project: str | None = None, user: str | None = None,
           since: datetime | None = None) -> dict[str, Any]:
    """What an auditor asks for (`enclave audit code`): the matching records, the gaps the recorders reported,
    and every place where the stored record no longer matches its hashes and the audit trail."""
    return {"records": query(session, project=project, user=user, since=since),
            "gaps": [{"seq": g["seq"], "ts": g["ts"], "user": g["actor"], "project": g["project"],
                      "workspace": g["target"], **g["details"]}
                     for g in gaps(session, project=project, user=user, since=since)],
            "problems": verify(session)}
