"""The idle culler this enclave's hub manages: started by the hub, with the policy's timeout, and able to stop
idle workspaces with the role the hub gives it (and nothing more).

Identified through the hub's own API (the service's pid), never by looking for any culler on the host: another
enclave on the same machine runs one too.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import docker

from enclave import audit
from enclave.db import session_scope
from enclave_demo.data import DEMO_PROJECT
from enclave_demo.runner import running_pid
from policies import load_policies
from tests.integration.conftest import Enclave


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])  # field 4, after the parenthesised command name


def _cmdline(pid: int) -> list[str]:
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def _environ(pid: int, *names: str) -> dict[str, str]:
    pairs = (e.decode().split("=", 1) for e in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in e)
    return {k: v for k, v in pairs if k in names}


def managed_culler(enclave: Enclave) -> int:
    """The pid of the culler service of this enclave's hub, as the hub reports it."""
    r = enclave.login("admin").api("GET", "/services/idle-culler")
    assert r.status_code == 200, r.text
    pid = r.json()["pid"]
    assert pid, r.json()
    return pid


def test_the_hub_runs_its_culler_with_the_policy_timeout(enclave: Enclave):
    policy = load_policies(enclave.settings.policy_dir).workspace
    pid = managed_culler(enclave)
    assert _parent(pid) == running_pid(enclave.settings, "hub")  # a child of this enclave's hub
    args = _cmdline(pid)
    assert "jupyterhub_idle_culler" in args, args
    assert f"--timeout={policy.idle_timeout_seconds}" in args and f"--cull-every={policy.cull_every_seconds}" in args
    env = _environ(pid, "JUPYTERHUB_API_URL")
    assert env["JUPYTERHUB_API_URL"] == f"http://127.0.0.1:{enclave.settings.hub_api_port}/hub/api", env


def test_an_idle_server_is_culled_with_the_hub_given_role_and_the_stop_is_audited(enclave: Enclave):
    """The managed culler's own command, URL and token (its hub role), with a timeout of 2 s instead of the policy's
    hour: proves the role's scopes suffice to find and stop an idle server of this hub."""
    admin = enclave.login("admin")
    busy = [u["name"] for u in admin.api("GET", "/users").json() if u.get("servers")]
    assert busy == [], f"servers of other tests still run ({busy}); a 2 s culler would stop them too"
    pid = managed_culler(enclave)
    args = [a for a in _cmdline(pid) if not a.startswith(("--timeout=", "--cull-every="))]
    env = _environ(pid, "JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN")
    alice = enclave.login("alice")
    assert alice.start(DEMO_PROJECT).status_code in (201, 202)
    name = enclave.container("alice").name
    time.sleep(3)  # idle for longer than the timeout below
    culler = subprocess.Popen([*args, "--timeout=2", "--cull-every=2"], env={**env, "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 60
        while alice.server() and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        culler.terminate()
        culler.wait(10)
    assert not alice.server(), "idle server was not culled"
    assert not docker.from_env().containers.list(all=True, filters={"name": name})
    with session_scope() as s:
        stops = audit.query(s, user="alice", action="workspace.stop")
    assert stops and stops[-1]["target"] == name
