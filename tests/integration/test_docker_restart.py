"""The Docker engine goes away and comes back: starting a workspace says why it cannot, then works again.

Stopping an engine stops every container on it, so this test stops only the engine the suite's own
`scripts/ensure_docker.sh` started (its pid is recorded in a pid file), and only when nothing but this
suite's enclave has containers on it; otherwise it is skipped with the reason. It is marked
`restarts_docker`, which tests/integration/conftest.py runs after every other test.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import docker
import pytest

from enclave.settings import REPO_ROOT
from enclave_demo.data import DEMO_PROJECT
from tests.integration.conftest import Enclave

OWNED_PIDFILE = Path(os.environ.get("ENCLAVE_DOCKERD_PIDFILE", "/run/enclave/dockerd.pid"))


def _docker_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def owned_engine(instance: str) -> int:
    """The pid of the engine this suite may restart, or a skip saying why there is none."""
    try:
        pid = int(OWNED_PIDFILE.read_text().strip())
    except (OSError, ValueError):
        pytest.skip(f"the Docker engine was not started by scripts/ensure_docker.sh (no {OWNED_PIDFILE}): "
                    "restarting it would stop containers this suite does not own")
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] if _alive(pid) else b""
    if Path(cmd.decode()).name != "dockerd":
        pytest.skip(f"pid {pid} in {OWNED_PIDFILE} is not a running dockerd: the engine that answers is not ours")
    others = [c.name for c in docker.from_env().containers.list()
              if c.labels.get("org.enclave.instance") != instance]
    if others:
        pytest.skip(f"other containers run on this engine ({', '.join(sorted(others)[:5])}): restarting it "
                    "would stop them")
    return pid


@pytest.mark.restarts_docker
def test_docker_engine_restart(enclave: Enclave):
    pid = owned_engine(enclave.settings.instance)
    alice = enclave.login("alice")
    os.kill(pid, 15)
    for _ in range(90):  # gone for good, not just busy shutting down
        if not _docker_up() and not _alive(pid):
            break
        time.sleep(1)
    try:
        r = alice.start(DEMO_PROJECT, wait=False)
        message = r.text if r.status_code >= 400 else ""
        if r.status_code < 400:  # accepted, then failed while starting: the hub keeps the reason
            for _ in range(60):
                if not alice.server():
                    break
                time.sleep(1)
            message = alice.http.get(f"{enclave.url}/hub/spawn-pending/alice", timeout=30).content.decode()
        assert "container engine does not answer" in message, message[-2000:]
    finally:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "ensure_docker.sh")], check=True)
    r = alice.start(DEMO_PROJECT)
    assert r.status_code in (201, 202) and alice.server().get("ready")
    alice.stop()
