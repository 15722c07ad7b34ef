"""Append-only, HMAC-chained audit trail.

Each record carries the hash of the previous one; the hash is keyed with a secret kept outside the
database, so someone who can edit the database cannot forge a consistent chain. A copy of the
chain's head is also kept outside the database (the anchor) so that cutting records off the end is
detected too.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from enclave.models import AuditEvent, AuditHead
from enclave.settings import get_settings

GENESIS = "0" * 64


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


def record(session: Session, actor: str, action: str, *, project: str | None = None, target: str = "",
           **details: Any) -> AuditEvent:
    """Append one record in the caller's transaction: it commits or rolls back with the change it records."""
    # Updating the head row first takes the write lock, so concurrent writers queue up here.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one()
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

    from sqlalchemy import event as sa_event

    @sa_event.listens_for(session, "after_commit", once=True)
    def _write_anchor(_s: Session) -> None:
        write_anchor(anchor, seq, digest)

    return ev


def write_anchor(path: Path, seq: int, digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_anchor(path)
        if current and current[0] >= seq:
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": digest}))
        os.replace(tmp, path)


def read_anchor(path: Path) -> tuple[int, str] | None:
    try:
        data = json.loads(path.read_text())
        return int(data["seq"]), str(data["hash"])
    except FileNotFoundError:
        return None


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
    """Walk the chain and name every record that was edited, inserted, reordered or deleted.

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
    anchor = read_anchor(anchor_path or get_settings().audit_anchor)
    if anchor is not None:
        a_seq, a_hash = anchor
        if a_seq > prev_seq:
            report.problems.append(Problem(a_seq, "truncated",
                f"records {prev_seq + 1}..{a_seq} were deleted from the end of the trail"))
        else:
            at = session.get(AuditEvent, a_seq)
            if at is not None and at.hash != a_hash:
                report.problems.append(Problem(a_seq, "anchor-mismatch",
                    f"record {a_seq} differs from the copy of the head kept outside the database"))
    return report


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
