"""The audit chain's exact contract: what is hashed, what each problem tells the admin, how records are stored
and read back, and what re-anchoring checks. Known answers are written out by hand here (and hashed with the
standard library's HMAC), never taken from the functions under test."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, event, insert, select, text, update

from enclave import audit, db
from enclave.db import session_scope
from enclave.errors import EnclaveError
from enclave.models import AuditEvent, AuditHead
from enclave.settings import get_settings

KEY = b"k" * 32
PREV = "ab" * 32


def _fill(n: int = 5) -> None:
    """n records by user0/user1 alternately, projects p2, p1, p2, ... (records 1, 3, 5 in p2), one commit each."""
    for i in range(n):
        with session_scope() as s:
            audit.record(s, f"user{i % 2}", "login", project="p1" if i % 2 else "p2", target=f"t{i}", i=i)


def _problems(report: audit.VerifyReport) -> list[tuple[int, str, str]]:
    return [(p.seq, p.kind, p.message) for p in report.problems]


def _verify() -> audit.VerifyReport:
    with session_scope() as s:
        return audit.verify(s)


def _cut_tail(from_seq: int) -> None:
    """Delete records from `from_seq` on and rewind the head row, as a careful attacker would."""
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= from_seq))
        last = s.get(AuditEvent, from_seq - 1)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=last.seq, hash=last.hash))


def _event(**changes: object) -> AuditEvent:
    fields: dict[str, object] = dict(seq=7, ts="2026-01-02T03:04:05.000006+00:00", actor="张三", action="export.claim",
                                     project="study", target="req/9", details='{"b": 2, "a": {"y": "é", "x": [1, 2]}}',
                                     prev_hash=PREV, hash="")
    fields.update(changes)
    return AuditEvent(**fields)


# Written out by hand: keys sorted at every level, no spaces, non-ASCII kept as UTF-8, details as an object.
CANONICAL = ('{"action":"export.claim","actor":"张三","details":{"a":{"x":[1,2],"y":"é"},"b":2},'
             '"project":"study","seq":7,"target":"req/9","ts":"2026-01-02T03:04:05.000006+00:00"}').encode()


def test_the_canonical_form_is_sorted_compact_utf8_json_of_every_field():
    ev = _event()
    assert audit.canonical(ev.seq, ev.ts, ev.actor, ev.action, ev.project, ev.target, ev.details) == CANONICAL


def test_the_chain_hash_is_hmac_sha256_over_the_previous_hash_a_newline_and_the_canonical_form():
    expected = hmac.new(KEY, PREV.encode() + b"\n" + CANONICAL, hashlib.sha256).hexdigest()
    assert audit.chain_hash(KEY, PREV, _event()) == expected


@pytest.mark.parametrize("field, value", [("seq", 8), ("ts", "2026-01-02T03:04:05.000007+00:00"),
                                          ("actor", "李四"), ("action", "export.unclaim"), ("project", None),
                                          ("target", "req/10"), ("details", '{"b": 3, "a": {"y": "é", "x": [1, 2]}}')])
def test_a_hash_over_a_different_value_of_any_field_differs(field, value):
    assert audit.chain_hash(KEY, PREV, _event(**{field: value})) != audit.chain_hash(KEY, PREV, _event())


def test_a_hash_under_another_key_or_after_another_record_differs():
    assert audit.chain_hash(b"x" * 32, PREV, _event()) != audit.chain_hash(KEY, PREV, _event())
    assert audit.chain_hash(KEY, "cd" * 32, _event()) != audit.chain_hash(KEY, PREV, _event())


def test_a_record_whose_details_change_only_in_key_order_and_spacing_still_verifies(enclave_home):
    with session_scope() as s:
        audit.record(s, "alice", "login", b=2, a={"y": 1, "x": 0})
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(details='{ "a" : {"x":0,"y":1}, "b" : 2 }'))
    assert _verify().ok


@pytest.mark.parametrize("field, value", [("ts", "2020-01-01T00:00:00.000000+00:00"), ("actor", "mallory"),
                                          ("action", "export.released"), ("project", "p9"), ("target", "elsewhere"),
                                          ("details", '{"i": 2, "extra": 1}')])
def test_editing_any_one_field_of_a_stored_record_is_named(enclave_home, field, value):
    _fill()
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(**{field: value}))
    assert [(seq, kind) for seq, kind, _ in _problems(_verify())] == [(3, "edited")]


def test_each_problem_tells_the_admin_which_records_and_what_happened(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq.in_([2, 3])))
        s.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(actor="mallory"))
    assert _problems(_verify()) == [
        (4, "deleted", "records 2..3 are missing before record 4"),
        (4, "broken-link", "record 4 does not follow record 1 (a record was inserted, deleted or reordered before it)"),
        (5, "edited", "record 5 (login by mallory) does not match its hash: it was edited or forged"),
    ]


def test_a_head_row_that_does_not_name_the_last_record_is_named(enclave_home):
    _fill()
    with session_scope() as s:
        third = s.get(AuditEvent, 3)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=3, hash=third.hash))
    assert _problems(_verify()) == [(5, "head-mismatch", "the chain ends at record 5 but the head row says 3")]


def test_a_cut_tail_is_reported_with_the_records_it_lost(enclave_home):
    _fill()
    _cut_tail(4)
    report = _verify()
    message = "records 4..5 were deleted from the end of the trail"
    assert _problems(report) == [(5, "truncated", message)]
    assert report.to_dict() == {"ok": False, "records": 3,
                                "problems": [{"seq": 5, "kind": "truncated", "message": message}]}


def test_an_anchor_whose_hash_is_not_the_anchored_records_is_named(enclave_home):
    _fill()
    get_settings().audit_anchor.write_text(json.dumps({"seq": 5, "hash": "0" * 64}))
    assert _problems(_verify()) == [
        (5, "anchor-mismatch", "record 5 differs from the copy of the head kept outside the database")]


def test_an_anchor_on_a_record_that_is_gone_is_named(enclave_home):
    _fill()
    with session_scope() as s:
        third = s.get(AuditEvent, 3)
    get_settings().audit_anchor.write_text(json.dumps({"seq": 3, "hash": third.hash}))
    with session_scope() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    assert (3, "anchor-mismatch", "record 3 differs from the copy of the head kept outside the database") in \
        _problems(_verify())


def test_a_missing_anchor_names_its_path_and_the_way_out(enclave_home):
    _fill()
    path = get_settings().audit_anchor
    path.unlink()
    assert _problems(_verify()) == [(5, "anchor-missing", (
        f"the copy of the head kept outside the database ({path}) is missing, so records cut off the end cannot be "
        "ruled out; find out why, then an admin runs `enclave audit reanchor --reason ...`"))]


def test_an_unreadable_anchor_names_its_path_and_why(enclave_home):
    _fill()
    path = get_settings().audit_anchor
    path.write_text("not json")
    [(seq, kind, message)] = _problems(_verify())
    assert (seq, kind) == (5, "anchor-unreadable")
    assert message.startswith(f"the audit anchor {path} cannot be read (") and message.endswith(")")
    assert "Expecting value" in message  # the parser's own reason


def test_a_refused_record_says_why_and_what_the_admin_must_do(enclave_home):
    _fill()
    _cut_tail(4)
    with pytest.raises(audit.TamperedTrail) as refused, session_scope() as s:
        audit.record(s, "someone", "login")
    assert str(refused.value) == (
        "the audit trail ends at record 3 but its anchor is at record 5: the audit trail was tampered with, so "
        "nothing can be recorded; an administrator must run `enclave audit verify`")


# --- how records are stored ---------------------------------------------------------------------------------

def test_details_are_stored_as_sorted_json_with_non_ascii_kept_and_other_values_as_text(enclave_home):
    with session_scope() as s:
        ev = audit.record(s, "alice", "login", b=2, a="é", when=datetime(2026, 1, 2, tzinfo=UTC),
                          where=Path("/srv/x"))
    with session_scope() as s:
        stored = s.get(AuditEvent, ev.seq)
    assert stored.details == '{"a": "é", "b": 2, "when": "2026-01-02 00:00:00+00:00", "where": "/srv/x"}'
    assert stored.target == "" and stored.project is None
    assert _verify().ok


def test_a_record_without_an_actor_is_recorded_as_the_system(enclave_home):
    with session_scope() as s:
        audit.record(s, "", "login")
    with session_scope() as s:
        assert s.get(AuditEvent, 1).actor == "system"


def test_a_records_time_is_now_in_utc_with_its_offset(enclave_home):
    before = datetime.now(UTC)
    with session_scope() as s:
        ev = audit.record(s, "alice", "login")
    ts = datetime.fromisoformat(ev.ts)
    assert ts.utcoffset() == timedelta(0) and ev.ts.endswith("+00:00")
    assert before <= ts <= datetime.now(UTC)


def test_an_append_locks_the_head_row_before_reading_it(enclave_home):
    """On PostgreSQL the UPDATE's row lock is what queues concurrent writers: it must hit the head row."""
    _fill(1)
    seen: list[tuple[str, int]] = []

    def after(_conn, cursor, statement, *_args) -> None:  # noqa: ANN001
        if "audit_head" in statement:
            seen.append((statement.split()[0].upper(), cursor.rowcount))

    engine = db.get_engine()
    event.listen(engine, "after_cursor_execute", after)
    try:
        with session_scope() as s:
            audit.record(s, "alice", "login")
    finally:
        event.remove(engine, "after_cursor_execute", after)
    assert seen[0] == ("UPDATE", 1)
    assert seen[1][0] == "SELECT"


def test_a_writer_that_read_the_head_earlier_appends_after_what_others_wrote_meanwhile(enclave_home):
    _fill(2)
    with session_scope() as s:
        head = s.get(AuditHead, 1)  # this session now holds a copy of the head (kept alive in its identity map)
        assert head.seq == 2
        with session_scope() as other:
            audit.record(other, "bob", "login")
        ev = audit.record(s, "alice", "login")
        assert ev.seq == head.seq == 4
    assert _verify().ok


@pytest.fixture
def reversed_unordered_selects(enclave_home: Path) -> Iterator[None]:
    """SQLite hands rows back in reverse wherever a query leaves the order open (PostgreSQL may use any order)."""
    if db.get_engine().dialect.name != "sqlite":
        pytest.skip("PRAGMA reverse_unordered_selects is SQLite's")
    engine = db.get_engine()

    def on(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.execute("PRAGMA reverse_unordered_selects = ON")

    engine.dispose()
    event.listen(engine, "connect", on)
    yield
    event.remove(engine, "connect", on)
    engine.dispose()


def test_the_chain_is_walked_in_record_order_whatever_order_the_database_returns(enclave_home,
                                                                                reversed_unordered_selects):
    _fill()
    with session_scope() as s:
        # really reversed
        assert [n for (n, _) in s.execute(text("SELECT seq, hash FROM audit_events"))] == [5, 4, 3, 2, 1]
        assert audit.verify(s).ok
        assert [r["seq"] for r in audit.query(s)] == [1, 2, 3, 4, 5]


# --- re-anchoring -------------------------------------------------------------------------------------------

def test_reanchoring_checks_the_anchor_it_is_given_and_records_it_as_the_target(enclave_home, tmp_path):
    _fill()
    restored = tmp_path / "restored" / "anchor.json"  # this enclave's own anchor is fine; the restored one is missing
    with session_scope() as s:
        result = audit.reanchor(s, "steward", "  restore drill  ", anchor_path=restored)
    missing = (f"the copy of the head kept outside the database ({restored}) is missing, so records cut off the end "
               "cannot be ruled out; find out why, then an admin runs `enclave audit reanchor --reason ...`")
    assert result == {"anchored": 6, "previous": None, "replaced_problems": [missing]}
    with session_scope() as s:
        ev = s.get(AuditEvent, 6)
    assert (ev.action, ev.actor, ev.target) == (audit.AuditAction.REANCHOR, "steward", str(restored))
    assert json.loads(ev.details) == {"reason": "restore drill", "previous_anchor": None,
                                      "replaced_problems": [{"seq": 5, "kind": "anchor-missing", "message": missing}]}
    assert audit.read_anchor(restored) == (6, ev.hash)


def test_reanchoring_over_an_unreadable_anchor_reports_no_previous_anchor(enclave_home):
    _fill()
    get_settings().audit_anchor.write_text("not json")
    with session_scope() as s:
        result = audit.reanchor(s, "steward", "anchor file corrupted")
    assert result["anchored"] == 6 and result["previous"] is None
    assert [m.split(" cannot be read")[0] for m in result["replaced_problems"]] == [
        f"the audit anchor {get_settings().audit_anchor}"]
    with session_scope() as s:
        assert json.loads(s.get(AuditEvent, 6).details)["previous_anchor"] is None
    assert _verify().ok


def test_reanchoring_returns_the_anchor_it_replaced(enclave_home):
    _fill()
    with session_scope() as s:
        fifth = s.get(AuditEvent, 5).hash
    _cut_tail(4)
    with session_scope() as s:
        result = audit.reanchor(s, "steward", "restored from backup")
    assert result == {"anchored": 4, "previous": (5, fifth),
                      "replaced_problems": ["records 4..5 were deleted from the end of the trail"]}


def test_a_refused_reanchor_lists_every_record_that_does_not_verify(enclave_home):
    _fill()
    with session_scope() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq.in_([2, 4])).values(target="changed"))
    with pytest.raises(EnclaveError) as refused, session_scope() as s:
        audit.reanchor(s, "steward", "covering my tracks")
    assert str(refused.value) == ("the audit chain itself does not verify, so it cannot be re-anchored: "
                                  "record 2: edited; record 4: edited")


def test_a_reanchor_without_a_reason_says_what_is_needed(enclave_home):
    _fill(1)
    with pytest.raises(EnclaveError) as refused, session_scope() as s:
        audit.reanchor(s, "steward", " \t")
    assert str(refused.value) == "--reason is required: say why the anchor is being replaced (it is recorded)"


# --- reading the trail --------------------------------------------------------------------------------------

def test_a_query_row_carries_every_field_of_the_record(enclave_home):
    with session_scope() as s:
        audit.record(s, "alice", "login", project="p1", target="t", n=1, name="张三")
    with session_scope() as s:
        ev = s.get(AuditEvent, 1)
        rows = audit.query(s)
    assert rows == [{"seq": 1, "ts": ev.ts, "actor": "alice", "action": "login", "project": "p1",
                     "target": "t", "details": {"n": 1, "name": "张三"}, "hash": ev.hash}]


def test_a_project_filter_returns_exactly_that_projects_records(enclave_home):
    _fill()
    with session_scope() as s:
        assert [r["seq"] for r in audit.query(s, project="p1")] == [2, 4]
        assert [r["seq"] for r in audit.query(s, project="p2")] == [1, 3, 5]
        assert [r["seq"] for r in audit.query(s, user="user0")] == [1, 3, 5]


def test_since_includes_a_record_made_at_that_very_instant(enclave_home):
    _fill()
    with session_scope() as s:
        third = datetime.fromisoformat(s.get(AuditEvent, 3).ts)
        assert [r["seq"] for r in audit.query(s, since=third)] == [3, 4, 5]
        assert [r["seq"] for r in audit.query(s, since=third - timedelta(days=1))] == [1, 2, 3, 4, 5]


@pytest.fixture
def local_time_new_york() -> Iterator[None]:
    """The host's local time zone is not UTC (and not the caller's): a comparison must not depend on it."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_since_in_another_time_zone_selects_by_the_instant(enclave_home, local_time_new_york):
    _fill()
    with session_scope() as s:
        third = datetime.fromisoformat(s.get(AuditEvent, 3).ts).astimezone(timezone(timedelta(hours=8)))
        assert [r["seq"] for r in audit.query(s, since=third)] == [3, 4, 5]


def test_a_query_returns_at_most_its_limit_and_1000_by_default(enclave_home):
    with session_scope() as s:
        s.execute(insert(AuditEvent), [
            {"seq": n, "ts": f"2026-01-01T00:00:{n % 60:02d}.000000+00:00", "actor": "a", "action": "bulk",
             "project": None, "target": "", "details": "{}", "prev_hash": "0" * 64, "hash": "0" * 64}
            for n in range(1, 1002)])
    with session_scope() as s:
        assert [r["seq"] for r in audit.query(s, limit=2)] == [1, 2]
        rows = audit.query(s)
        assert len(rows) == 1000 and rows[-1]["seq"] == 1000
        assert len(s.execute(select(AuditEvent.seq)).all()) == 1001


# --- the anchor file ----------------------------------------------------------------------------------------

def test_the_anchor_never_moves_back_or_sideways_unless_an_admin_reanchors(tmp_path):
    path = tmp_path / "audit" / "anchor.json"
    audit.write_anchor(path, 5, "a" * 64)
    audit.write_anchor(path, 3, "b" * 64)  # a late writer of an older record
    assert json.loads(path.read_text()) == {"seq": 5, "hash": "a" * 64}
    audit.write_anchor(path, 5, "c" * 64)  # the same record number with another hash
    assert json.loads(path.read_text()) == {"seq": 5, "hash": "a" * 64}
    audit.write_anchor(path, 6, "d" * 64)
    assert json.loads(path.read_text()) == {"seq": 6, "hash": "d" * 64}
    audit.write_anchor(path, 2, "e" * 64, replace=True)
    assert json.loads(path.read_text()) == {"seq": 2, "hash": "e" * 64}


def test_an_unreadable_anchor_is_replaced_by_the_next_good_one(tmp_path):
    path = tmp_path / "audit" / "anchor.json"
    path.parent.mkdir()
    path.write_text("not json")
    audit.write_anchor(path, 1, "a" * 64)
    assert audit.read_anchor(path) == (1, "a" * 64)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_anchor_folder_is_made_with_its_parents_root_only_with_nothing_else_left_in_it(tmp_path, umask_022):
    path = tmp_path / "restored" / "var" / "audit" / "anchor.json"
    audit.write_anchor(path, 1, "a" * 64)
    assert sorted(p.name for p in path.parent.iterdir()) == ["anchor.json", "anchor.lock"]
    for p in (path, path.with_suffix(".lock")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_loose_anchor_folder_is_made_root_only_and_a_crashed_writes_leftover_is_cleared(tmp_path, umask_022):
    folder = tmp_path / "audit"
    folder.mkdir(mode=0o755)
    (folder / "anchor.tmp").write_text('{"seq": 99, "hash": "half-written')
    audit.write_anchor(folder / "anchor.json", 1, "a" * 64)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["anchor.json", "anchor.lock"]
    assert audit.read_anchor(folder / "anchor.json") == (1, "a" * 64)


@pytest.mark.parametrize("content", ["not json", "{}", '{"seq": "five", "hash": "x"}', "[1, 2]", '{"seq": 1}'])
def test_an_anchor_that_is_not_an_anchor_is_an_anchor_error_naming_the_file(tmp_path, content):
    path = tmp_path / "anchor.json"
    path.write_text(content)
    with pytest.raises(audit.AnchorError) as bad:
        audit.read_anchor(path)
    assert str(bad.value).startswith(f"the audit anchor {path} cannot be read (")


def test_a_missing_anchor_reads_as_none_and_a_folder_in_its_place_as_an_error(tmp_path):
    assert audit.read_anchor(tmp_path / "anchor.json") is None
    (tmp_path / "anchor.json").mkdir()
    with pytest.raises(audit.AnchorError):
        audit.read_anchor(tmp_path / "anchor.json")


def _literal_actions(root: Path) -> list[str]:
    """`audit.record(session, actor, "some.action", ...)` with a string literal (or f-string) as the action."""
    import ast

    found = []
    for package in ("enclave", "policies", "egress_review", "datasets_mount", "governance", "jobs", "packages", "hub",
                    "enclave_ops", "enclave_demo"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
                        and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant | ast.JoinedStr)):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_every_audit_record_names_its_action_from_the_typed_vocabulary() -> None:
    assert _literal_actions(Path(__file__).resolve().parents[2]) == []


def test_the_vocabulary_rule_notices_a_literal_action(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "x.py").write_text('from enclave import audit\naudit.record(s, "a", "job.sneaky")\n')
    assert _literal_actions(tmp_path) == ["jobs/x.py:2"]


def test_an_action_outside_the_vocabulary_is_refused_and_leaves_no_record(enclave_home) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError), session_scope() as s:
        audit.record(s, "alice", "export.sneaked_out", target="request:1")
    with session_scope() as s:
        assert audit.query(s) == [] and audit.verify(s).ok
