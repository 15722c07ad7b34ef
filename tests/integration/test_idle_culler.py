"""The idle culler runs with the policy's timeout and stops idle workspaces through the hub API.

Named to run last: it stops servers."""

from __future__ import annotations

import subprocess
import sys
import time

import docker

from enclave import audit
from enclave.db import session_scope
from enclave.demo import DEMO_PROJECT
from policies import load_policies
from tests.integration.conftest import Enclave


def test_hub_runs_the_culler_with_the_policy_timeout(enclave: Enclave):
    policy = load_policies(enclave.settings.policy_dir).workspace
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    lines = [ln for ln in ps.splitlines() if "jupyterhub_idle_culler" in ln and "--timeout" in ln]
    assert any(f"--timeout={policy.idle_timeout_seconds}" in ln and
               f"--cull-every={policy.cull_every_seconds}" in ln for ln in lines), lines


def test_idle_server_is_culled_and_the_stop_is_audited(enclave: Enclave):
    alice = enclave.login("alice")
    assert alice.start(DEMO_PROJECT).status_code in (201, 202)
    name = enclave.container("alice").name
    admin = enclave.login("admin")
    r = admin.api("POST", "/users/admin/tokens", json={
        "note": "culler test", "expires_in": 600,
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})
    assert r.status_code == 201, r.text
    time.sleep(3)  # let the server become idle for longer than the culler's timeout below
    culler = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=2", "--cull-every=2",
         f"--url=http://127.0.0.1:{enclave.settings.hub_api_port}/hub/api"],
        env={"JUPYTERHUB_API_TOKEN": r.json()["token"], "PATH": "/usr/bin:/bin"})
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
