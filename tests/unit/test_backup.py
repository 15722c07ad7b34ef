"""Backup -> destroy -> restore -> verify, on SQLite and PostgreSQL; damaged backups are refused."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from egress_review import workflow
from enclave.cli import main
from enclave.db import session_scope
from enclave.settings import REPO_ROOT, get_settings
from policies import load_policies
from tests.unit.test_egress_workflow import world  # noqa: F401  (fixture)

POLICY = load_policies(REPO_ROOT / "policies").egress


@pytest.fixture
def restore_db(db_url: str):  # type: ignore[no-untyped-def]
    """Where a restore goes: a new SQLite file, or a new empty PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield None
        return
    admin_url = os.environ["ENCLAVE_TEST_PG_URL"]
    name = f"enclave_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _cli(*args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(main, [*args, "--json"])
    return res.exit_code, json.loads(res.output)


def test_round_trip_and_corruption(world: Path, tmp_path: Path, restore_db: str | None):  # noqa: F811
    settings = get_settings()
    with session_scope() as s:
        workflow.submit(s, "alice", "study", [("t.csv", b"g,n\na,120\n")], "table", settings.egress_store, POLICY)
    code, made = _cli("backup", str(tmp_path / "bk"))
    assert code == 0 and made["files"] >= 4
    assert oct((tmp_path / "bk").stat().st_mode & 0o777) == "0o700"

    # destroy the source (files; the database too when it is SQLite), then restore elsewhere
    shutil.rmtree(settings.home)
    args = ["restore", str(tmp_path / "bk"), "--target", str(tmp_path / "restored")]
    code, got = _cli(*args, *(["--db-url", restore_db] if restore_db else []))
    assert code == 0 and got["ok"], got
    assert got["checked"]["audit_records"] > 5 and got["checked"]["store_blobs"] == 1

    # a damaged backup is refused, naming the file, and nothing is restored
    blob = next(p for p in (tmp_path / "bk" / "egress" / "store").rglob("*") if p.is_file())
    os.chmod(blob, 0o600)
    blob.write_bytes(b"tampered")
    code, bad = _cli("restore", str(tmp_path / "bk"), "--target", str(tmp_path / "again"))
    assert code == 1 and not bad["ok"] and bad["restored"] is None
    assert any("corrupted" in p and blob.name in p for p in bad["problems"])
    assert not (tmp_path / "again").exists()


def test_a_restored_trail_that_was_edited_is_caught(world: Path, tmp_path: Path, db_url: str):  # noqa: F811
    if not db_url.startswith("sqlite"):
        pytest.skip("edits the restored SQLite file directly")
    assert _cli("backup", str(tmp_path / "bk"))[0] == 0
    code, got = _cli("restore", str(tmp_path / "bk"), "--target", str(tmp_path / "r"), "--no-verify")
    assert code == 0
    eng = create_engine(got["db_url"])
    with eng.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    eng.dispose()
    from enclave.backup import verify_home

    report = verify_home(tmp_path / "r", got["db_url"])
    assert not report["ok"] and any("record 2" in p and "edited" in p for p in report["problems"])


def test_backup_refuses_a_non_empty_destination(world: Path, tmp_path: Path):  # noqa: F811
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, err = _cli("backup", str(tmp_path / "full"))
    assert code == 2 and "not empty" in err["error"]
