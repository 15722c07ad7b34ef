"""Shared fixtures: an isolated enclave home and database (SQLite and PostgreSQL) per test."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from enclave import db
from enclave.settings import REPO_ROOT, get_settings


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Parameter ids without backslashes: pytest writes a non-ASCII or unprintable value escaped
    ('[\\u8054...]', '[\\x80...]'), and an id with a backslash cannot be selected again by its node id, which
    is how the mutation benchmark's mutmut runs each mutant's tests (every mutant of a function with a Chinese
    test case came back a "timeout"). The escape is kept, its backslashes dropped ('[u8054...]')."""
    if isinstance(val, bytes):
        text = val.decode("latin-1").encode("unicode_escape").decode("ascii")
    elif isinstance(val, str):
        text = val.encode("unicode_escape").decode("ascii")
    else:
        return None
    return text.replace("\\", "") if "\\" in text else None


def _reset_caches() -> None:
    get_settings.cache_clear()
    for engine in list(db._ENGINES.values()):
        engine.dispose()
    db._ENGINES.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'enclave.sqlite'}"
        return
    admin_url = os.environ.get("ENCLAVE_TEST_PG_URL")
    if not admin_url:
        pytest.skip("ENCLAVE_TEST_PG_URL is not set (make test starts PostgreSQL and sets it)")
    name = f"enclave_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    _reset_caches()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def enclave_home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh enclave home with the schema migrated, on the parametrised database."""
    home = tmp_path / "home"
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    monkeypatch.setenv("ENCLAVE_DB_URL", db_url)
    monkeypatch.setenv("ENCLAVE_POLICY_DIR", str(REPO_ROOT / "policies"))
    monkeypatch.setenv("ENCLAVE_ACTOR", "steward")
    _reset_caches()
    db.upgrade()
    yield home
    _reset_caches()


# A hostile workspace process: swaps a folder and a symbolic link (renameat2 RENAME_EXCHANGE) as fast as it
# can for a while (or until SIGTERM), then prints how many swaps it made, always an even number (the folder
# is back in place). Standard library only, so it also runs inside a workspace container
# (`python3 -c FLIP_SCRIPT A B SECONDS`).
FLIP_SCRIPT = r"""
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, seconds = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2]), float(sys.argv[3])
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
end, n = time.monotonic() + seconds, 0
while time.monotonic() < end and not stop:
    for _ in range(100):
        if libc.renameat2(-100, a, -100, b, 2) != 0:
            raise SystemExit("renameat2: " + os.strerror(ctypes.get_errno()))
    n += 100
print(n, flush=True)
"""


@contextmanager
def flipping(a: Path, b: Path, seconds: float) -> Iterator[list[int]]:
    """Runs FLIP_SCRIPT on the host while the body runs (at most `seconds`); the list gets the number of
    swaps made."""
    proc = subprocess.Popen([sys.executable, "-c", FLIP_SCRIPT, str(a), str(b), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    swaps: list[int] = []
    try:
        yield swaps
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=seconds + 30)
        assert proc.returncode == 0, err
        swaps.append(int(out.split()[-1]))
