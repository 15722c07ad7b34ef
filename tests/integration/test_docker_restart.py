"""The Docker engine goes away and comes back: starting a workspace says why it cannot, then works again.

Runs last: stopping the engine stops every container.
"""

from __future__ import annotations

import subprocess
import time

from enclave.demo import DEMO_PROJECT
from enclave.settings import REPO_ROOT
from tests.integration.conftest import Enclave


def _docker_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def test_docker_engine_restart(enclave: Enclave):
    alice = enclave.login("alice")
    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=True)
    for _ in range(90):  # gone for good, not just busy shutting down
        if not _docker_up() and subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode:
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
