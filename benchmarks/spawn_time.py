"""Workspace start time: from "start" to a usable JupyterLab page, against a bare-container baseline.

Measured in one run on this machine:
- baseline: `docker run` of the same image (ENCLAVE_IMAGE, the one the hub spawns) with a plain `jupyter lab`
  until its page answers (no hub, no network creation, no mounts, no hardening) - what a plain spawner
  cannot beat;
- enclave, sequential: 10 starts of one researcher's workspace through the real hub (API call, spawn,
  proxy route, then the Lab page through the server's own OAuth handshake), stopped between runs;
- enclave, concurrent: 10 researchers of the same project starting at once.
The hub and the client wait START_WAIT_S for a start (benchmarks/starts.py): the starts are measured, not
the policy's give-up time. Results go to benchmarks/results/spawn_time.json; nothing here is asserted.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import summary, write  # noqa: E402
from benchmarks.starts import FAILED, START_WAIT_S, alone_then_together, patient_policies, succeeded  # noqa: E402
from enclave_demo.data import DEMO_PROJECT  # noqa: E402
from enclave_demo.harness import instance  # noqa: E402

RUNS = 10
CONCURRENT = 10
PORTS = {"ENCLAVE_PUBLIC_PORT": "28000", "ENCLAVE_HUB_API_PORT": "28081", "ENCLAVE_IDP_PORT": "29000",
         "ENCLAVE_PROXY_API_PORT": "28001", "ENCLAVE_EGRESS_PORT": "28082",
         "ENCLAVE_JOBS_PORT": "28084"}
USERS = [{"username": f"bench{i:02d}", "name": f"Bench {i}", "groups": ["researcher"], "password": f"bench-{i}"}
         for i in range(CONCURRENT)]


def baseline(image: str) -> list[float]:
    client = docker.from_env()
    times = []
    for i in range(RUNS):
        name = f"enclave-bench-baseline-{i}"
        t0 = time.perf_counter()
        c = client.containers.run(image, ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--ServerApp.token="],
                                  name=name, detach=True, user="1000:1000", environment={"HOME": "/tmp"},
                                  read_only=False)
        try:
            c.reload()
            ip = c.attrs["NetworkSettings"]["IPAddress"]
            deadline = time.monotonic() + 120
            while True:
                c.reload()
                if c.status != "running" or time.monotonic() > deadline:
                    raise RuntimeError(f"baseline container {c.status}: {c.logs()[-2000:].decode(errors='replace')}")
                try:
                    with urllib.request.urlopen(f"http://{ip}:8888/lab", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.1)
            times.append(time.perf_counter() - t0)
        finally:
            c.remove(force=True)
    return times


def add_bench_users(settings, policies) -> None:  # type: ignore[no-untyped-def]
    from enclave.db import session_scope
    from enclave.projects import add_member, upsert_user

    with session_scope() as s:
        for u in USERS:
            upsert_user(s, "bench", u["username"], roles=u["groups"])
            add_member(s, "bench", DEMO_PROJECT, u["username"])


def main() -> None:
    image = os.environ.get("ENCLAVE_IMAGE", "enclave-workspace:latest")  # the image the hub spawns (settings)
    base = baseline(image)
    policy_tmp = tempfile.TemporaryDirectory()
    os.environ["ENCLAVE_POLICY_DIR"] = str(patient_policies(Path(policy_tmp.name)))
    with tempfile.TemporaryDirectory() as tmp, instance(Path(tmp), name="enclavebench", ports=PORTS,
                                                        setup=add_bench_users, extra_users=USERS) as e:
        seq, conc, wall, sessions = alone_then_together(e, [u["username"] for u in USERS], RUNS)
        for s in sessions:
            s.stop()
    result = {
        "image": image, "start_wait_seconds": START_WAIT_S,
        "baseline_bare_container": summary(base),
        "enclave_sequential": summary(succeeded(seq)),
        "enclave_concurrent": {**summary(succeeded(conc)), "wall_s": round(wall, 3),
                               "all_succeeded": len(succeeded(conc)) == CONCURRENT,
                               "succeeded": len(succeeded(conc)), "of": CONCURRENT},
        "failed_starts": FAILED[:10],
        "ratio_p50_enclave_vs_baseline": round(statistics.median(succeeded(seq)) / statistics.median(base), 2),
    }
    write("spawn_time", result)


if __name__ == "__main__":
    main()
