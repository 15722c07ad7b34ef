"""Infrastructure faults give one clear message and change nothing; work resumes when they are gone."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress_review import workflow
from enclave.cli import main
from enclave.db import session_scope
from enclave.errors import Unavailable
from enclave.models import ExportRequest
from enclave.settings import REPO_ROOT
from policies import load_policies
from tests.conftest import _reset_caches
from tests.unit.test_egress_workflow import world  # noqa: F401  (fixture)

POLICY = load_policies(REPO_ROOT / "policies").egress


def test_database_down_is_one_clear_line(enclave_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENCLAVE_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    _reset_caches()
    res = CliRunner().invoke(main, ["project", "list", "--json"])
    assert res.exit_code == 2 and "database is unavailable" in json.loads(res.output)["error"]
    res = CliRunner().invoke(main, ["user", "add", "zed", "--role", "researcher"])
    assert res.exit_code == 2 and "nothing was changed" in res.output


def test_a_full_store_refuses_the_request_whole(world: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
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
