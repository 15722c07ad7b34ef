"""One real enclave for the whole integration suite: demo IdP, hub, proxy and Docker workspaces.

It runs on its own ports, home and instance name, so it never touches an enclave started by `make up`.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from enclave import db
from enclave.settings import REPO_ROOT, Settings, get_settings

PORTS = {"ENCLAVE_PUBLIC_PORT": "18000", "ENCLAVE_HUB_API_PORT": "18081", "ENCLAVE_IDP_PORT": "19000",
         "ENCLAVE_PROXY_API_PORT": "18001"}
EXTRA_USERS = [
    {"username": "dave", "name": "Dave Zhou 周大伟", "groups": ["researcher"], "password": "dave-it-pw"},
    {"username": "eve", "name": "Eve Sun 孙伊", "groups": ["researcher"], "password": "eve-it-pw"},
]
OTHER_PROJECT = "other-study"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@dataclass
class Enclave:
    settings: Settings
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.settings.public_url

    def login(self, username: str, lang: str = "en") -> HubSession:
        return HubSession(self, username, lang)

    def container(self, username: str) -> Any:
        client = docker.from_env()
        found = client.containers.list(filters={"label": [f"org.enclave.user={username}",
                                                          f"org.enclave.instance={self.settings.instance}"]})
        assert found, f"no running workspace container for {username}"
        return found[0]


class HubSession:
    """A user's browser-like session: logged in through the real OIDC provider."""

    def __init__(self, enclave: Enclave, username: str, lang: str = "en"):
        self.enclave, self.username = enclave, username
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = lang
        r = self.http.get(f"{enclave.url}/hub/oauth_login?next=", timeout=30)
        assert "/authorize" in r.url, f"expected the IdP login page, got {r.url}"
        fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', r.text)}
        fields.update(username=username, password=enclave.passwords[username])
        self.last = self.http.post(r.url.split("?")[0], data=fields, timeout=60)
        self.xsrf = self.http.cookies.get("_xsrf", path="/hub/") or self.http.cookies.get("_xsrf") or ""

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"X-XSRFToken": self.xsrf, **kw.pop("headers", {})}
        return self.http.request(method, f"{self.enclave.url}/hub/api{path}", headers=headers, timeout=60, **kw)

    def start(self, project: str | None, wait: bool = True) -> requests.Response:
        body = {"project": project} if project else {}
        r = self.api("POST", f"/users/{self.username}/server", json=body)
        if wait and r.status_code in (201, 202):
            self.wait_ready()
        return r

    def server(self) -> dict[str, Any]:
        return self.api("GET", f"/users/{self.username}").json().get("servers", {}).get("", {})

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            srv = self.server()
            if srv.get("ready"):
                return
            if not srv:
                raise AssertionError(f"{self.username}'s server went away while starting")
            time.sleep(0.5)
        raise AssertionError(f"{self.username}'s server not ready after {timeout}s")

    def stop(self) -> None:
        r = self.api("DELETE", f"/users/{self.username}/server")
        assert r.status_code in (202, 204, 400), r.text
        deadline = time.monotonic() + 60
        while self.server() and time.monotonic() < deadline:
            time.sleep(0.5)


def run_in(container: Any, code: str) -> Any:
    """Run Python inside the workspace as its own user; the code prints one JSON document."""
    res = container.exec_run(["python", "-c", code], demux=True)
    out, err = res.output
    assert res.exit_code == 0, (err or b"").decode()
    return json.loads(out.decode())


@pytest.fixture(scope="session")
def enclave(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enclave]:
    from enclave import demo
    from enclave.models import MemberRole, ProjectState
    from enclave.projects import add_member, approve_dataset, create_project, today, transition, upsert_user
    from enclave.runner import start_all, stop_all
    from policies import load_policies

    client = docker.from_env()
    client.ping()
    image = os.environ.get("ENCLAVE_IMAGE", "enclave-workspace:latest")
    client.images.get(image)  # built by `make test` (scripts/setup.sh); fail loudly if missing
    home = tmp_path_factory.mktemp("enclave-it")
    saved = dict(os.environ)
    os.environ.update(PORTS, ENCLAVE_HOME=str(home), ENCLAVE_INSTANCE="enclavetest",
                      ENCLAVE_POLICY_DIR=str(REPO_ROOT / "policies"), ENCLAVE_IMAGE=image)
    os.environ.pop("ENCLAVE_DB_URL", None)
    get_settings.cache_clear()
    db._ENGINES.clear()
    settings = get_settings()
    stop_all(settings)  # leftovers of an interrupted earlier run
    policies = load_policies(settings.policy_dir)
    db.upgrade()
    demo.seed(settings, policies)
    with db.session_scope() as s:
        for u in EXTRA_USERS:
            upsert_user(s, "test", u["username"], display_name=u["name"], roles=u["groups"])
        create_project(s, "test", slug=OTHER_PROJECT, title="Other study", approval_ref="ETH-2", purpose="isolation",
                       pi="dave", start=today(), expiry=today() + timedelta(days=30))
        transition(s, "test", OTHER_PROJECT, ProjectState.APPROVED, "ok")
        transition(s, "test", OTHER_PROJECT, ProjectState.ACTIVE, "ok")
    from datasets_mount.catalog import store_version
    from datasets_mount.synthetic import write_cohort

    with db.session_scope() as s:
        src = home / "registry-src"
        write_cohort(src, rows=500, seed=11)
        store_version(s, "test", policies, settings.datasets_dir, src, name="registry", version="v1", tier=2)
        approve_dataset(s, "test", OTHER_PROJECT, "registry", "v1", {0, 1, 2, 3})
        add_member(s, "test", OTHER_PROJECT, "dave", MemberRole.PI)
    demo.write_idp_config(settings, extra_users=EXTRA_USERS)
    passwords = {**demo.demo_logins(settings), **{u["username"]: u["password"] for u in EXTRA_USERS}}
    try:
        start_all(settings, demo.idp_config_path(settings))
        yield Enclave(settings, passwords)
    finally:
        print("\n--- hub log tail ---\n" + (settings.log_dir / "hub.log").read_text(errors="replace")[-4000:])
        stop_all(settings)
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        db._ENGINES.clear()


@pytest.fixture(scope="session")
def logs_dir(enclave: Enclave) -> Path:
    return enclave.settings.log_dir
