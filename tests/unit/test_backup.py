"""Backup -> destroy -> restore -> verify, on SQLite and PostgreSQL; damaged backups are refused."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from joserfc import jws
from joserfc.jwk import OKPKey
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from egress_review import workflow
from enclave import audit, backup
from enclave.backup import MANIFEST, SIGNATURE
from enclave.checksums import sha256_file
from enclave.db import session_scope
from enclave.models import AuditEvent, AuditHead
from enclave.settings import REPO_ROOT, get_settings
from enclave_ops.cli import main
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


@contextlib.contextmanager
def _new_pg_database(prefix: str) -> Iterator[str]:
    """A new empty PostgreSQL database on the test server, dropped afterwards."""
    admin_url = os.environ["ENCLAVE_TEST_PG_URL"]
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def restore_db(db_url: str) -> Iterator[str | None]:
    """Where a restore goes: a new SQLite file, or a new empty PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield None
        return
    with _new_pg_database("enclave_restore") as url:
        yield url


@pytest.fixture
def hub_db(world: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The hub's own database, on the same kind of database as the enclave's, as a hub that ran leaves it:
    JupyterHub's schema and one user."""
    from jupyterhub import orm

    with contextlib.ExitStack() as stack:
        if db_url.startswith("postgresql"):
            monkeypatch.setenv("ENCLAVE_HUB_DB_URL", stack.enter_context(_new_pg_database("hub_source")))
            get_settings.cache_clear()
        url = get_settings().hub_db_url
        session = orm.new_session_factory(url)()
        session.add(orm.User(name="alice"))
        session.commit()
        session.close()
        yield url


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    res = CliRunner().invoke(main, [*args, "--json"], env=env)
    return res.exit_code, json.loads(res.output)


def _public_half(key_file: Path) -> dict:
    return {k: v for k, v in json.loads(key_file.read_text()).items() if k != "d"}


def _reseal(backup: Path) -> None:
    """What someone who can write the backup does after changing it: make every checksum match again."""
    manifest = json.loads((backup / MANIFEST).read_text())
    for name, entry in manifest["files"].items():
        entry.update(sha256=sha256_file(backup / name), bytes=(backup / name).stat().st_size)
    (backup / MANIFEST).write_text(json.dumps(manifest, indent=1))


def test_round_trip_and_corruption(world: Path, tmp_path: Path, restore_db: str | None):
    settings = get_settings()
    with session_scope() as s:
        workflow.submit(s, "alice", "study", [("t.csv", b"g,n\na,120\n")], "table", settings.egress_store, POLICY)
    code, made = _cli("backup", str(tmp_path / "bk"))
    assert code == 0 and made["files"] >= 4
    assert oct((tmp_path / "bk").stat().st_mode & 0o777) == "0o700"

    # the operator keeps the public half of the signing key away from the host (and from the backup)
    offline = tmp_path / "offline-backup-key.jwk"
    offline.write_text(json.dumps(_public_half(settings.backup_signing_key)))

    # destroy the source (files; the database too when it is SQLite), then restore elsewhere
    shutil.rmtree(settings.home)
    args = ["restore", str(tmp_path / "bk"), "--target", str(tmp_path / "restored")]
    code, err = _cli(*args)
    assert code == 2 and "signing key" in err["error"] and "--key" in err["error"]
    code, got = _cli(*args, "--key", str(offline), *(["--db-url", restore_db] if restore_db else []))
    assert code == 0 and got["ok"], got
    assert got["checked"]["audit_records"] > 5 and got["checked"]["store_blobs"] == 1

    # a damaged backup is refused, naming the file, and nothing is restored
    blob = next(p for p in (tmp_path / "bk" / "egress" / "store").rglob("*") if p.is_file())
    os.chmod(blob, 0o600)
    blob.write_bytes(b"tampered")
    code, bad = _cli("restore", str(tmp_path / "bk"), "--target", str(tmp_path / "again"), "--key", str(offline))
    assert code == 1 and not bad["ok"] and bad["restored"] is None
    assert any("corrupted" in p and blob.name in p for p in bad["problems"])
    assert not (tmp_path / "again").exists()


def test_a_restored_trail_that_was_edited_is_caught(world: Path, tmp_path: Path, restore_db: str | None):
    """On either database: the restored trail, edited afterwards, fails verification with its own key and anchor."""
    assert _cli("backup", str(tmp_path / "bk"))[0] == 0
    into = ["--db-url", restore_db] if restore_db else []
    code, got = _cli("restore", str(tmp_path / "bk"), "--target", str(tmp_path / "r"), "--no-verify", *into)
    assert code == 0, got
    restored_url = restore_db or got["db_url"]
    eng = create_engine(restored_url)
    with eng.begin() as conn:
        assert conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")).rowcount == 1
    eng.dispose()
    from enclave.backup import verify_home

    report = verify_home(tmp_path / "r", restored_url)
    assert not report["ok"] and any("record 2" in p and "edited" in p for p in report["problems"])


def test_the_hubs_database_is_backed_up_and_restored_beside_the_enclaves(
        hub_db: str, tmp_path: Path, restore_db: str | None):
    """A restored host keeps the hub's users, tokens and servers: its database is in every backup, and a
    PostgreSQL one is restored only into a database the operator names, asked for before anything is copied."""
    code, made = _cli("backup", str(tmp_path / "bk"))
    kind = "postgresql" if hub_db.startswith("postgresql") else "sqlite"
    assert code == 0 and made["hub_database"] == kind, made
    into = ["--db-url", restore_db] if restore_db else []
    with contextlib.ExitStack() as stack:
        if kind == "postgresql":
            code, err = _cli("restore", str(tmp_path / "bk"), "--target", str(tmp_path / "r"), *into)
            assert code == 2 and "--hub-db-url" in err["error"] and not (tmp_path / "r").exists(), err
            into += ["--hub-db-url", stack.enter_context(_new_pg_database("hub_restore"))]
        code, got = _cli("restore", str(tmp_path / "bk"), "--target", str(tmp_path / "r"), *into)
        assert code == 0 and got["ok"] and got["checked"]["hub_users"] == 1, got
        restored = into[-1] if kind == "postgresql" else f"sqlite:///{tmp_path / 'r' / 'jupyterhub.sqlite'}"
        engine = create_engine(restored)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM users")).scalars().all() == ["alice"]
        engine.dispose()


def test_a_backup_of_an_enclave_whose_hub_never_ran_has_no_hub_database(world: Path, tmp_path: Path,
                                                                         db_url: str):
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite default: no file until the hub first starts")
    code, made = _cli("backup", str(tmp_path / "bk"))
    assert code == 0 and made["hub_database"] is None
    assert not (tmp_path / "bk" / "jupyterhub.sqlite").exists()


def test_backup_refuses_a_non_empty_destination(world: Path, tmp_path: Path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, err = _cli("backup", str(tmp_path / "full"))
    assert code == 2 and "not empty" in err["error"]


def _rewrite_trail(backup_dir: Path) -> None:
    """Edit record 2 in the backup's database and re-chain every record with the backup's own audit key,
    then move its anchor: a trail that verifies, with the same key, but says something else."""
    key = (backup_dir / "secrets" / "audit.key").read_text().strip().encode()
    engine = create_engine(f"sqlite:///{backup_dir / 'enclave.sqlite'}")
    with Session(engine) as s, s.begin():
        prev = audit.GENESIS
        for ev in s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
            if ev.seq == 2:
                ev.actor = "mallory"
            ev.prev_hash, ev.hash = prev, audit.chain_hash(key, prev, ev)
            prev = ev.hash
        head = s.get(AuditHead, 1)
        head.hash = prev
        last = head.seq
    engine.dispose()
    (backup_dir / "audit" / "head.json").write_text(json.dumps({"seq": last, "hash": prev}))


def test_a_backup_rewritten_with_its_manifest_is_refused(world: Path, tmp_path: Path, db_url: str):
    if not db_url.startswith("sqlite"):
        pytest.skip("rewrites the backup's SQLite file")
    bk = tmp_path / "bk"
    assert _cli("backup", str(bk))[0] == 0
    _rewrite_trail(bk)
    _reseal(bk)
    code, bad = _cli("restore", str(bk), "--target", str(tmp_path / "r"))
    assert code == 1 and bad["restored"] is None and not (tmp_path / "r").exists()
    assert bad["problems"] == [bad["problems"][0]] and "signature does not verify" in bad["problems"][0]

    # nor does signing it again with a key of one's own help
    forger = OKPKey.generate_key("Ed25519")
    token = jws.serialize_compact({"alg": "Ed25519"}, (bk / MANIFEST).read_bytes(), forger, algorithms=["Ed25519"])
    (bk / SIGNATURE).write_text(jws.detach_content(token))
    code, bad = _cli("restore", str(bk), "--target", str(tmp_path / "r"))
    assert code == 1 and "signature does not verify" in bad["problems"][0]

    # an unsigned backup is refused too
    (bk / SIGNATURE).unlink()
    code, bad = _cli("restore", str(bk), "--target", str(tmp_path / "r"))
    assert code == 1 and any("unsigned" in p for p in bad["problems"])


def test_the_signing_key_never_goes_into_the_backup(world: Path, tmp_path: Path):
    code, made = _cli("backup", str(tmp_path / "bk"))
    assert code == 0
    key_file = get_settings().backup_signing_key
    private = json.loads(key_file.read_text())["d"].encode()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert made["signed_by"] == OKPKey.import_key(_public_half(key_file)).thumbprint()
    files = [p for p in (tmp_path / "bk").rglob("*") if p.is_file()]
    assert (tmp_path / "bk" / "secrets" / "audit.key").exists()  # the other secrets are there
    assert all(private not in p.read_bytes() for p in files)


def test_postgres_tools_get_no_password_on_their_command_line():
    url = "postgresql+psycopg://enclave:pw:with%5Cspecial@db.internal:5433/enclave?sslmode=require"
    with backup.pg_connection(url) as (conninfo, env):
        passfile = Path(env["PGPASSFILE"])
        assert "pw" not in conninfo and conninfo == "postgresql://enclave@db.internal:5433/enclave?sslmode=require"
        assert passfile.read_text() == "*:*:*:*:pw\\:with\\\\special\n"
        assert oct(passfile.stat().st_mode & 0o777) == "0o600" and "PGPASSWORD" not in env
    assert not passfile.exists()


def test_pg_dump_runs_without_the_password_in_argv(world: Path, tmp_path: Path, db_url: str,
                                                   monkeypatch: pytest.MonkeyPatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("needs pg_dump against PostgreSQL")
    secret = "s3cret-Pw"
    with_password = db_url.replace("postgres@", f"postgres:{secret}@", 1)  # the test server trusts, ignores it
    seen: list[tuple[list[str], str]] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):  # type: ignore[no-untyped-def]
        passfile = kwargs.get("env", {}).get("PGPASSFILE")
        seen.append((list(argv), Path(passfile).read_text() if passfile else ""))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(backup.subprocess, "run", recording_run)
    made = backup.backup(dataclasses.replace(get_settings(), db_url=with_password), tmp_path / "bk")
    assert made["database"] == "postgresql" and (tmp_path / "bk" / "enclave.pgdump").stat().st_size > 0
    assert [argv[0] for argv, _ in seen] == ["pg_dump"]
    assert all(secret not in arg for argv, _ in seen for arg in argv)
    assert secret in seen[0][1]


def test_a_restore_url_with_a_password_is_refused_on_the_command_line(world: Path, tmp_path: Path):
    assert _cli("backup", str(tmp_path / "bk"))[0] == 0
    args = ["restore", str(tmp_path / "bk"), "--target", str(tmp_path / "r")]
    code, err = _cli(*args, "--db-url", "postgresql://enclave:hunter2@db/enclave")
    assert code == 2 and "ENCLAVE_RESTORE_DB_URL" in err["error"] and "hunter2" not in err["error"]
    assert not (tmp_path / "r").exists()


def test_a_dump_that_cannot_be_loaded_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """pg_restore failing (a database that is not empty, a server gone) names the dump and the way out."""
    dump = tmp_path / "enclave.pgdump"
    dump.write_bytes(b"not a dump")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_restore").write_text("#!/bin/sh\necho 'pg_restore: error: relation already exists' >&2\nexit 1\n")
    (fake / "pg_restore").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(backup.BackupError, match=r"enclave.pgdump could not be loaded .*relation already exists"):
        backup._pg_restore("postgresql+psycopg://enclave@db.internal/enclave", dump)
