"""Infrastructure faults give one clear message and change nothing; work resumes when they are gone."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress_review import workflow
from enclave.db import session_scope
from enclave.errors import Unavailable
from enclave.models import ExportRequest
from enclave.settings import REPO_ROOT
from enclave_ops.cli import main
from policies import load_policies
from tests.conftest import _reset_caches

POLICY = load_policies(REPO_ROOT / "policies").egress


def test_database_down_is_one_clear_line(enclave_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENCLAVE_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    _reset_caches()
    res = CliRunner().invoke(main, ["project", "list", "--json"])
    assert res.exit_code == 2 and "database is unavailable" in json.loads(res.output)["error"]
    res = CliRunner().invoke(main, ["user", "add", "zed", "--role", "researcher"])
    assert res.exit_code == 2 and "nothing was changed" in res.output


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_real_database_that_refuses_connections_then_comes_back(enclave_home: Path, db_url: str):
    """The production database stops taking connections mid-life: clear error, nothing written, then it works."""
    import os

    from sqlalchemy import create_engine, text

    name = db_url.rsplit("/", 1)[1]
    admin = create_engine(os.environ["ENCLAVE_TEST_PG_URL"], isolation_level="AUTOCOMMIT")
    runner = CliRunner()
    assert runner.invoke(main, ["user", "add", "yan", "--role", "researcher"]).exit_code == 0
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
    try:
        _reset_caches()
        res = runner.invoke(main, ["user", "add", "zed", "--role", "researcher", "--json"])
        assert res.exit_code == 2, res.output
        error = json.loads(res.output)["error"]
        assert "database is unavailable" in error and "nothing was changed" in error
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    _reset_caches()
    users = json.loads(runner.invoke(main, ["user", "list", "--json"]).output)
    assert "zed" not in {u["username"] for u in users}
    assert runner.invoke(main, ["user", "add", "zed", "--role", "researcher"]).exit_code == 0
    assert json.loads(runner.invoke(main, ["audit", "verify", "--json"]).output)["ok"]


def test_a_full_store_refuses_the_request_whole(world: Path, monkeypatch: pytest.MonkeyPatch):
    def full(self: Path, data: bytes) -> int:
        self.open("wb").write(data[:10])  # a partial copy, as a real full disk leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(Unavailable, match="export store is full"), session_scope() as s:
        workflow.submit(s, "alice", "study", [("t.csv", b"g,n\na,120\n")], "table", world, POLICY)
    monkeypatch.undo()
    with session_scope() as s:
        assert s.query(ExportRequest).count() == 0
    assert not list(world.rglob("*.tmp"))
    with session_scope() as s:  # the fault is gone: it works
        assert workflow.submit(s, "alice", "study", [("t.csv", b"g,n\na,120\n")], "table", world, POLICY).id
