"""The audit trail detects edited, inserted, reordered and deleted records, and names them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from enclave import audit
from enclave.cli import main
from enclave.db import session_scope
from enclave.models import AuditEvent


def _fill(n: int = 5) -> None:
    for i in range(n):
        with session_scope() as s:
            audit.record(s, f"user{i % 2}", "test.action", project="p1" if i % 2 else "p2", target=f"t{i}", i=i)


def _kinds(report: audit.VerifyReport) -> set[tuple[int, str]]:
    return {(p.seq, p.kind) for p in report.problems}


def test_intact_chain_verifies(enclave_home):
    _fill()
    with session_scope() as s:
        report = audit.verify(s)
    assert report.ok and report.records == 5


def test_edited_record_is_named(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="someone-else"))
    with session_scope() as s:
        report = audit.verify(s)
    assert not report.ok
    assert (3, "edited") in _kinds(report)
    assert all(p.seq == 3 for p in report.problems)


def test_edited_details_are_detected(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(details=json.dumps({"i": 99})))
    with session_scope() as s:
        assert (2, "edited") in _kinds(audit.verify(s))


def test_deleted_middle_record_is_named(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    with session_scope() as s:
        kinds = _kinds(audit.verify(s))
    assert (4, "deleted") in kinds and (4, "broken-link") in kinds


def test_deleted_tail_is_detected_by_the_anchor(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
        # a careful attacker also rewinds the head row
        last = s.get(AuditEvent, 3)
        s.execute(text("UPDATE audit_head SET seq = 3, hash = :h WHERE id = 1"), {"h": last.hash})
    with session_scope() as s:
        report = audit.verify(s)
    assert (5, "truncated") in _kinds(report)


def test_inserted_record_is_named(enclave_home):
    _fill()
    with session_scope() as s:
        last = s.get(AuditEvent, 5)
        s.add(AuditEvent(seq=6, ts=datetime.now(UTC).isoformat(), actor="intruder", action="forged", project=None,
                         target="", details="{}", prev_hash=last.hash, hash="f" * 64))
    with session_scope() as s:
        assert (6, "edited") in _kinds(audit.verify(s))


def test_reordered_records_are_detected(enclave_home):
    _fill()
    with session_scope() as s:
        a, b = s.get(AuditEvent, 2), s.get(AuditEvent, 3)
        fields = ("ts", "actor", "action", "project", "target", "details", "prev_hash", "hash")
        va, vb = ({f: getattr(x, f) for f in fields} for x in (a, b))
        for f in fields:
            setattr(a, f, vb[f])
            setattr(b, f, va[f])
    with session_scope() as s:
        report = audit.verify(s)
    assert {2, 3} <= {p.seq for p in report.problems}


def test_rolled_back_change_leaves_no_record(enclave_home):
    try:
        with session_scope() as s:
            audit.record(s, "u", "will.rollback")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    _fill(1)
    with session_scope() as s:
        assert audit.verify(s).ok
        assert [e.action for e in s.execute(select(AuditEvent)).scalars()] == ["test.action"]


def test_query_filters(enclave_home):
    _fill(6)
    with session_scope() as s:
        assert {r["actor"] for r in audit.query(s, user="user1")} == {"user1"}
        assert len(audit.query(s, project="p1")) == 3
        assert audit.query(s, since=datetime.now(UTC) + timedelta(days=1)) == []
        assert len(audit.query(s, action="test.*")) == 6


def test_cli_verify_and_query(enclave_home):
    _fill()
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(target="changed"))
    bad = runner.invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1 and "record 2" in bad.output and "edited" in bad.output
    q = runner.invoke(main, ["audit", "query", "--user", "user0", "--json"])
    assert q.exit_code == 0 and {r["actor"] for r in json.loads(q.output)} == {"user0"}
    bad_since = runner.invoke(main, ["audit", "query", "--since", "yesterday"])
    assert bad_since.exit_code == 2 and "--since" in bad_since.output
