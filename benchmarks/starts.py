"""Timing workspace starts through the real hub: shared by the start-time and the load benchmarks."""

from __future__ import annotations

import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from enclave_demo.data import DEMO_PROJECT
from enclave_demo.harness import Enclave, HubSession

FAILED: list[str] = []  # why starts failed, in the order they failed (a benchmark reports how many and why)
# How long the hub (the policy's start_timeout_seconds, deployed 120 s) and the client wait for a start in a
# benchmark: on a machine shared with other work (load 20+ on 2 cores) many starts at once outlast the deployed
# limits and every one is given up; a benchmark measures the time starts take, not the give-up time.
START_WAIT_S = 600


def patient_policies(tmp: Path) -> Path:
    """A copy of the repository's policies whose start timeout is START_WAIT_S (the caller points
    ENCLAVE_POLICY_DIR at it); a benchmark may change more in its copy."""
    copy = tmp / "policies"
    shutil.copytree(Path(__file__).resolve().parent.parent / "policies", copy)
    workspace = yaml.safe_load((copy / "workspace.yaml").read_text())
    workspace.update(start_timeout_seconds=START_WAIT_S)
    (copy / "workspace.yaml").write_text(yaml.safe_dump(workspace, allow_unicode=True))
    return copy


def timed_start(session: HubSession) -> float:
    """From "start" to a usable JupyterLab page (through the server's own OAuth); NaN if it failed.

    A start the hub gives up on (the server goes away while starting) is a failed start to count, not
    the end of the benchmark: the others' times are kept.
    """
    t0 = time.perf_counter()
    try:
        r = session.start(DEMO_PROJECT, wait=False)
        if r.status_code in (201, 202):
            session.wait_ready(timeout=START_WAIT_S)
        if r.status_code not in (201, 202) or session.open_lab().status_code != 200:
            FAILED.append(f"{session.username}: start answered {r.status_code}")
            return float("nan")
    except AssertionError as exc:  # HubSession.wait_ready: the server went away or never became ready
        FAILED.append(f"{session.username}: {exc}")
        return float("nan")
    return time.perf_counter() - t0


def succeeded(times: list[float]) -> list[float]:
    return [t for t in times if not math.isnan(t)]


def alone_then_together(enclave: Enclave, usernames: list[str],
                        runs: int) -> tuple[list[float], list[float], float, list[HubSession]]:
    """`runs` starts of the first user's workspace, stopped in between, then every user's at once.

    Returns both lists of times, the wall time of the concurrent starts and the (still running) sessions.
    """
    alone = enclave.login(usernames[0])
    single = []
    for _ in range(runs):
        single.append(timed_start(alone))
        alone.stop()
    sessions = [enclave.login(u) for u in usernames]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(sessions)) as pool:
        together = list(pool.map(timed_start, sessions))
    return single, together, time.perf_counter() - t0, sessions
