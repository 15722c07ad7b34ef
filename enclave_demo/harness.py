"""Drives a running enclave the way people do: login through the OIDC provider, start and stop servers.

Used by the integration tests and the benchmarks, and handy as a smoke test of a fresh host.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import requests

from enclave import db
from enclave.settings import INSTANCE_LABEL, REPO_ROOT, USER_LABEL, Settings, get_settings


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
        found = client.containers.list(filters={"label": [f"{USER_LABEL}={username}",
                                                          f"{INSTANCE_LABEL}={self.settings.instance}"]})
        assert found, f"no running workspace container for {username}"
        return found[0]


class HubSession:
    """A user's browser-like session, logged in through the real OIDC provider."""

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
        return self.http.request(method, f"{self.enclave.url}/hub/api{path}", headers=headers, timeout=120, **kw)

    def start(self, project: str | None, wait: bool = True) -> requests.Response:
        body = {"project": project} if project else {}
        r = self.api("POST", f"/users/{self.username}/server", json=body)
        if wait and r.status_code in (201, 202):
            self.wait_ready()
        return r

    def server(self) -> dict[str, Any]:
        return self.api("GET", f"/users/{self.username}").json().get("servers", {}).get("", {})

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            srv = self.server()
            if srv.get("ready"):
                return
            if not srv:
                raise AssertionError(f"{self.username}'s server went away while starting")
            time.sleep(0.25)
        raise AssertionError(f"{self.username}'s server not ready after {timeout}s")

    def open_lab(self) -> requests.Response:
        """What the browser does next: JupyterLab's page, through the proxy and the server's own OAuth."""
        return self.http.get(f"{self.enclave.url}/user/{self.username}/lab", timeout=120)

    def stop(self) -> None:
        r = self.api("DELETE", f"/users/{self.username}/server")
        assert r.status_code in (202, 204, 400), r.text
        deadline = time.monotonic() + 90
        while self.server() and time.monotonic() < deadline:
            time.sleep(0.5)


def run_in(container: Any, code: str) -> Any:
    """Run Python inside the workspace as its own user; the code prints one JSON document."""
    res = container.exec_run(["python", "-c", code], demux=True)
    out, err = res.output
    assert res.exit_code == 0, (err or b"").decode()
    return json.loads(out.decode())


@contextmanager
def instance(home: Path, *, name: str, ports: dict[str, str], setup: Any = None,
             extra_users: list[dict[str, Any]] | None = None, job_runner: bool = True) -> Iterator[Enclave]:
    """A whole enclave (demo data, IdP, proxy, hub and its services, job runner) on its own home, ports and
    instance name.

    `setup(settings, policies)` may add projects and datasets before the services start. `job_runner=False`
    starts no job runner, for a test that runs its own on this home (one runner per job store: its lock
    refuses a second).
    The environment is restored and everything is stopped afterwards.
    """
    from enclave_demo import data as demo
    from enclave_demo.runner import start_all, stop_all
    from policies import load_policies

    docker.from_env().images.get(os.environ.get("ENCLAVE_IMAGE", "enclave-workspace:latest"))
    saved = dict(os.environ)
    os.environ.update(ports, ENCLAVE_HOME=str(home), ENCLAVE_INSTANCE=name,
                      ENCLAVE_POLICY_DIR=os.environ.get("ENCLAVE_POLICY_DIR", str(REPO_ROOT / "policies")))
    os.environ.pop("ENCLAVE_DB_URL", None)
    get_settings.cache_clear()
    db._ENGINES.clear()
    settings = get_settings()
    try:
        stop_all(settings)  # leftovers of an interrupted earlier run
        policies = load_policies(settings.policy_dir)
        db.upgrade()
        demo.seed(settings, policies)
        if setup:
            setup(settings, policies)
        demo.write_idp_config(settings, extra_users=extra_users)
        passwords = {**demo.demo_logins(settings), **{u["username"]: u["password"] for u in extra_users or []}}
        start_all(settings, demo.idp_config_path(settings), job_runner=job_runner)
        yield Enclave(settings, passwords)
    finally:
        stop_all(settings)
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        db._ENGINES.clear()
