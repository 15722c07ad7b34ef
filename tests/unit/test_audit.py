"""The audit trail detects edited, inserted, reordered and deleted records, and names them."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from enclave import audit
from enclave.db import session_scope
from enclave.models import AuditEvent
from enclave.settings import get_settings
from enclave_ops.cli import main


def _fill(n: int = 5) -> None:
    for i in range(n):
        with session_scope() as s:
            audit.record(s, f"user{i % 2}", "login", project="p1" if i % 2 else "p2", target=f"t{i}", i=i)


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
            audit.record(s, "u", "egress.list")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    _fill(1)
    with session_scope() as s:
        assert audit.verify(s).ok
        assert [e.action for e in s.execute(select(AuditEvent)).scalars()] == ["login"]


def test_query_filters(enclave_home):
    _fill(6)
    with session_scope() as s:
        assert {r["actor"] for r in audit.query(s, user="user1")} == {"user1"}
        assert len(audit.query(s, project="p1")) == 3
        assert audit.query(s, since=datetime.now(UTC) + timedelta(days=1)) == []
        assert len(audit.query(s, action="logi*")) == 6


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


def _cut_tail(from_seq: int) -> None:
    """Delete records from `from_seq` on and rewind the head row, as a careful attacker would."""
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= from_seq))
        last = s.get(AuditEvent, from_seq - 1)
        s.execute(text("UPDATE audit_head SET seq = :n, hash = :h WHERE id = 1"), {"n": last.seq, "h": last.hash})


def test_a_deleted_anchor_is_an_error_once_there_are_records(enclave_home):
    _fill()
    _cut_tail(4)
    get_settings().audit_anchor.unlink()  # the truncation's other half: remove the evidence
    with session_scope() as s:
        report = audit.verify(s)
    assert not report.ok and _kinds(report) == {(3, "anchor-missing")}
    bad = CliRunner().invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1 and "anchor-missing" in bad.output


def test_a_new_trail_needs_no_anchor(enclave_home):
    with session_scope() as s:
        report = audit.verify(s)
    assert report.ok and report.records == 0 and not get_settings().audit_anchor.exists()


def test_an_unreadable_anchor_is_named(enclave_home):
    _fill()
    get_settings().audit_anchor.write_text("not json")
    with session_scope() as s:
        assert _kinds(audit.verify(s)) == {(5, "anchor-unreadable")}


def test_the_anchor_is_readable_and_writable_by_root_only(enclave_home):
    os.umask(0o022)
    _fill(1)
    anchor = get_settings().audit_anchor
    assert stat.S_IMODE(anchor.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    assert anchor.stat().st_uid == os.getuid()


def test_losing_only_the_last_record_is_detected(enclave_home):
    _fill()
    _cut_tail(5)
    with session_scope() as s:
        assert _kinds(audit.verify(s)) == {(5, "truncated")}


@pytest.mark.parametrize("gone", [1, 3])
def test_a_gap_of_a_single_record_is_never_accepted(enclave_home, gone):
    _fill()
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == gone))
    with session_scope() as s:
        report = audit.verify(s)
    assert {(gone + 1, "deleted"), (gone + 1, "broken-link")} <= _kinds(report)


def test_records_forged_with_another_key_are_named(enclave_home):
    _fill(3)
    key_file = get_settings().secrets_dir / "audit.key"
    real = key_file.read_text()
    key_file.write_text("f" * 64)  # the forger's key: a chain that links up, but not with ours
    _fill(2)
    key_file.write_text(real)
    with session_scope() as s:
        report = audit.verify(s)
    assert {p.seq for p in report.problems if p.kind == "edited"} == {4, 5}


def _reanchor(reason: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["audit", "reanchor", "--reason", reason, "--json"])
    return res.exit_code, res.output


def test_an_admin_reanchors_a_lost_anchor_and_it_is_recorded(enclave_home):
    _fill()
    get_settings().audit_anchor.unlink()
    code, out = _reanchor("disk with /var/lib/enclave/audit replaced (ticket 42)")
    assert code == 0, out
    assert json.loads(out)["anchored"] == 6
    with session_scope() as s:
        assert audit.verify(s).ok
        last = s.get(AuditEvent, 6)
        details = json.loads(last.details)
    assert last.action == audit.AuditAction.REANCHOR and last.actor == "steward"
    assert details["reason"].startswith("disk with") and details["previous_anchor"] is None
    assert [p["kind"] for p in details["replaced_problems"]] == ["anchor-missing"]
    assert audit.read_anchor(get_settings().audit_anchor) == (6, last.hash)


def test_reanchoring_after_a_truncation_keeps_the_old_anchor_in_the_trail(enclave_home):
    _fill()
    with session_scope() as s:
        old_head = (5, s.get(AuditEvent, 5).hash)
    _cut_tail(4)
    code, out = _reanchor("restored from last night's backup")
    assert code == 0, out
    with session_scope() as s:
        assert audit.verify(s).ok
        details = json.loads(s.get(AuditEvent, 4).details)
    assert tuple(details["previous_anchor"]) == old_head
    assert [p["kind"] for p in details["replaced_problems"]] == ["truncated"]


def test_reanchoring_refuses_a_chain_that_does_not_verify(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    get_settings().audit_anchor.unlink()
    code, out = _reanchor("covering my tracks")
    assert code == 2 and "record 3: edited" in out
    assert not get_settings().audit_anchor.exists()
    with session_scope() as s:
        assert audit.verify(s).records == 5


def test_reanchoring_needs_a_reason(enclave_home):
    _fill()
    code, out = _reanchor("   ")
    assert code == 2 and "--reason" in out


def test_records_are_refused_on_top_of_a_cut_tail_so_the_anchor_never_hides_it(enclave_home):
    """Appending after a cut would reuse the deleted numbers and, past the anchor, move it over the cut."""
    _fill()
    _cut_tail(4)
    for i in range(3):
        with pytest.raises(audit.TamperedTrail, match="enclave audit verify"), session_scope() as s:
            audit.record(s, "someone", "login", target=f"after{i}")
    with session_scope() as s:
        assert _kinds(audit.verify(s)) == {(5, "truncated")}
        assert audit.query(s, action="login")[-1]["seq"] == 3


def test_records_are_refused_when_the_anchored_record_was_replaced(enclave_home):
    _fill()
    _cut_tail(5)
    with session_scope() as s:  # a forged record 5 and head, so the head is level with the anchor again
        s.execute(text("INSERT INTO audit_events (seq, ts, actor, action, project, target, details, prev_hash, hash)"
                       " SELECT 5, ts, actor, action, project, 'forged', details, hash, :h FROM audit_events"
                       " WHERE seq = 4"), {"h": "f" * 64})
        s.execute(text("UPDATE audit_head SET seq = 5, hash = :h WHERE id = 1"), {"h": "f" * 64})
    with pytest.raises(audit.TamperedTrail, match="record 5 differs"), session_scope() as s:
        audit.record(s, "someone", "login")


def test_an_admin_reanchor_lets_the_trail_be_written_again(enclave_home):
    _fill()
    _cut_tail(4)
    assert _reanchor("restored from last night's backup")[0] == 0
    with session_scope() as s:
        audit.record(s, "someone", "login", target="after")
    with session_scope() as s:
        assert audit.verify(s).ok


def test_a_cut_tail_cannot_be_hidden_by_deleting_the_anchor_and_waiting_for_a_record(enclave_home):
    """Delete the last records, rewind the head row, delete the anchor: the next record is refused (it would
    write a fresh anchor over the cut), verify keeps naming the missing anchor, and an admin re-anchors."""
    from enclave.models import AuditHead

    with session_scope() as s:
        for i in range(5):
            audit.record(s, "alice", audit.AuditAction.LOGIN, target=str(i))
    with session_scope() as s:
        s.query(AuditEvent).filter(AuditEvent.seq > 3).delete()
        third = s.get(AuditEvent, 3)
        head = s.get(AuditHead, 1)
        head.seq, head.hash = 3, third.hash
    anchor = get_settings().audit_anchor
    anchor.unlink()
    with pytest.raises(audit.TamperedTrail, match="holds 3 records but the copy of its head"), session_scope() as s:
        audit.record(s, "mallory", audit.AuditAction.LOGIN)
    with session_scope() as s:
        assert [(p.seq, p.kind) for p in audit.verify(s).problems] == [(3, "anchor-missing")]
    anchor.write_text("not an anchor")  # an unreadable anchor is no way round it either
    with pytest.raises(audit.TamperedTrail, match="cannot be read"), session_scope() as s:
        audit.record(s, "mallory", audit.AuditAction.LOGIN)
    anchor.unlink()
    with session_scope() as s:
        audit.reanchor(s, "admin", "anchor lost with the old disk; tail checked against the backup")
    with session_scope() as s:
        audit.record(s, "alice", audit.AuditAction.LOGIN)
        assert audit.verify(s).ok
