"""Unit-test helpers shared by the export tests: two projects, each with its own indexed dataset."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from jupyterhub.services.auth import HubAuth, HubOAuth
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from datasets_mount.synthetic import cohort
from enclave.db import session_scope
from enclave.models import ProjectState
from enclave.projects import add_member, approve_dataset, create_project, today, transition, upsert_user
from enclave.settings import REPO_ROOT
from enclave_ops.cli import main


def _ingest(home: Path, name: str, df: pl.DataFrame) -> None:
    imports = home / "import"
    imports.mkdir(parents=True, exist_ok=True)
    df.write_csv(imports / f"{name}.csv")
    res = CliRunner().invoke(main, ["dataset", "ingest", str(imports / f"{name}.csv"), "--name", name,
                                    "--version", "v1", "--tier", "2", "--quasi", "sex,region",
                                    "--override-reason", "test data", "--json"])
    assert res.exit_code == 0, res.output


@pytest.fixture
def two_projects(enclave_home: Path) -> Path:
    """`study` (alice) has cohort@v1: ids S…, phones 139…; `clinic` (eve) has clinic@v1: ids C…, phones 137….

    The PIs are the projects' members; reviewers bob and carol are in neither. Returns the export store.
    """
    n = 400
    _ingest(enclave_home, "cohort", cohort(n).with_columns(pl.Series("phone", [f"139{i:08d}" for i in range(n)])))
    _ingest(enclave_home, "clinic", cohort(n, seed=3).with_columns(
        pl.Series("study_id", [f"C{i:08d}" for i in range(n)]), pl.Series("phone", [f"137{i:08d}" for i in range(n)])))
    with session_scope() as s:
        for name, roles in [("alice", ["researcher"]), ("eve", ["researcher"]), ("bob", ["reviewer"]),
                            ("carol", ["reviewer"])]:
            upsert_user(s, "admin", name, roles=roles)
        for slug, pi, dataset in [("study", "alice", "cohort"), ("clinic", "eve", "clinic")]:
            create_project(s, "admin", slug=slug, title=slug, approval_ref="E", purpose="p", pi=pi,
                           start=today(), expiry=today() + timedelta(days=9))
            transition(s, "admin", slug, ProjectState.APPROVED, "ok")
            transition(s, "admin", slug, ProjectState.ACTIVE, "ok")
            approve_dataset(s, "admin", slug, dataset, "v1", {2})
    return enclave_home / "store"


@pytest.fixture
def world(enclave_home: Path) -> Path:
    """Project `study`, active: alice (researcher, PI) and dave (researcher *and* reviewer) are members.

    bob, carol and rita are reviewers in no project; eve is a researcher in no project. Returns the
    export store.
    """
    with session_scope() as s:
        for name, roles in [("alice", ["researcher"]), ("dave", ["researcher", "reviewer"]), ("bob", ["reviewer"]),
                            ("carol", ["reviewer"]), ("rita", ["reviewer"]), ("eve", ["researcher"])]:
            upsert_user(s, "admin", name, roles=roles)
        create_project(s, "admin", slug="study", title="S", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        add_member(s, "admin", "study", "dave")
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
    return enclave_home / "store"


@pytest.fixture
def off_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone eight hours east of UTC (a POSIX rule, no tz database needed), so a time
    taken from the local clock instead of UTC shows; the zone is put back afterwards."""
    monkeypatch.setenv("TZ", "ENC-8")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def own_hub_auth() -> Iterator[None]:
    """A fresh hub-auth object for a service started in the test process, and none left behind.

    JupyterHub's handlers take `HubOAuth.instance()`, a process-wide singleton built from the environment of
    the first service that asks. In production every service is its own process; in one test process a
    service started after another would inherit the first one's cookie name and OAuth client and send every
    signed-in request back to the hub's login (302).
    """
    HubOAuth.clear_instance()
    yield
    HubOAuth.clear_instance()


@contextmanager
def loopback_service(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A fake HTTP service on 127.0.0.1 answering with `handler` (GET and POST alike, no access log), in a
    thread, for the in-workspace clients' tests: yields its port, and shuts it down afterwards."""

    class Quiet(handler):  # type: ignore[misc,valid-type]
        do_GET = do_POST = handler._reply  # type: ignore[attr-defined]

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


WORKSPACE_IMAGE = REPO_ROOT / "images" / "workspace"


def image_module(name: str) -> ModuleType:
    """A module of the workspace image, loaded from its file beside the image's other modules (enclave_messages)
    as it runs there, with nothing of the enclave beside it; a fresh copy on every call."""
    if str(WORKSPACE_IMAGE) not in sys.path:
        sys.path.insert(0, str(WORKSPACE_IMAGE))
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", WORKSPACE_IMAGE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeService:
    """What a fake service was asked, and what it answers next: (status, JSON body, or bytes sent as they are)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer: tuple[int, Any] = (200, [])


@contextmanager
def fake_workspace_service(monkeypatch: pytest.MonkeyPatch, url_variable: str, path: str) -> Iterator[FakeService]:
    """A fake hub service on 127.0.0.1 for an in-workspace client: it records each call and answers with
    `FakeService.answer`; the client finds it at `url_variable` (= http://127.0.0.1:PORT/PATH) with the
    workspace's token, speaking English unless a test says otherwise."""
    state = FakeService()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.calls.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                "body": json.loads(body) if body else None})
            status, payload = state.answer
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()  # bytes: as they are
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with loopback_service(Handler) as port:
        monkeypatch.setenv(url_variable, f"http://127.0.0.1:{port}/{path}")
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-workspace-token")
        monkeypatch.setenv("ENCLAVE_LANG", "en")
        yield state


@contextmanager
def hub_service(service: ModuleType, monkeypatch: pytest.MonkeyPatch,
                tokens: dict[str, dict[str, Any]]) -> Iterator[int]:
    """A hub service (`service.make_app`) served in this process on 127.0.0.1, in a thread, with the
    environment the hub gives it and the hub's token check answered from `tokens` (token -> the hub's model).
    Yields the port; stops the service afterwards."""
    from enclave.settings import get_settings

    settings = get_settings()
    for key, value in service.hub_env(settings).items():
        monkeypatch.setenv(key, value)

    async def hub_says(_self: HubAuth, url: str, api_token: str, cache_key: Any = None,
                       use_cache: bool = True) -> dict[str, Any] | None:
        return tokens.get(api_token)

    monkeypatch.setattr(HubAuth, "_check_hub_authorization", hub_says)
    loop = asyncio.new_event_loop()
    sockets = bind_sockets(0, "127.0.0.1")

    def serve() -> None:
        asyncio.set_event_loop(loop)
        HTTPServer(service.make_app(service.Context(settings))).add_sockets(sockets)
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def workspace_api(service: ModuleType, monkeypatch: pytest.MonkeyPatch, tokens: dict[str, dict[str, Any]],
                  lookup: Any) -> Iterator[int]:
    """A hub service that workspaces call with their token (jobs, packages, the code recorder): `hub_service`
    with `service.workspace_of` answered by `lookup` (settings, username -> RunningWorkspace | None)."""
    monkeypatch.setattr(service, "workspace_of", lookup)
    with hub_service(service, monkeypatch, tokens) as port:
        yield port
