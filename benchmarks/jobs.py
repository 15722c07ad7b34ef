"""Blind-mode jobs: start-to-finish overhead against a bare `docker run` of the same command, and a queue of
20 jobs that must all complete.

The job path is everything a researcher waits for: the code snapshot, the queue, the sealed container,
the export checks on the log and outputs, and delivery into the workspace. The baseline is the same
image and command with `docker run --rm --network none` and the dataset mounted, measured in the same
run, so the ratio compares like with like on a loaded machine.

    sudo .venv/bin/python benchmarks/jobs.py [--runs 5] [--queue 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import summary, tail, write  # noqa: E402

COMMAND = "python analysis/count.py"
CODE = """
import pathlib, polars as pl
df = pl.read_parquet("/data/cohort/cohort.parquet")
pathlib.Path("results").mkdir(exist_ok=True)
df.group_by("region").agg(pl.len().alias("patients")).sort("region").write_csv("results/by_region.csv")
print("rows read:", df.height)
"""


def _setup(home: Path) -> None:
    os.environ.update({"ENCLAVE_HOME": str(home), "ENCLAVE_DB_URL": f"sqlite:///{home / 'enclave.sqlite'}",
                       "ENCLAVE_INSTANCE": "enclavebench"})
    from datasets_mount.ingest import ingest
    from datasets_mount.synthetic import write_cohort
    from enclave import db
    from enclave.db import session_scope
    from enclave.models import Accreditation, ProjectState
    from enclave.projects import approve_dataset, create_project, today, transition, upsert_user
    from enclave.settings import get_settings
    from enclave.workspace_fs import ensure_workspace
    from policies import load_policies

    db.upgrade()
    settings = get_settings()
    policies = load_policies(settings.policy_dir)
    src = home / "import" / "cohort"
    write_cohort(src, rows=20000)
    with session_scope() as s:
        upsert_user(s, "bench", "rose", roles=["researcher"])
        s.add(Accreditation(username="rose", level=3, training_completed=today(), expires=today() + timedelta(days=9)))
        create_project(s, "bench", slug="bench", title="Bench", approval_ref="B", purpose="bench", pi="rose",
                       start=today(), expiry=today() + timedelta(days=9))
        transition(s, "bench", "bench", ProjectState.APPROVED, "ok")
        ingest(s, "bench", settings, policies, src, name="cohort", version="v1", tier=3, quasi=["sex", "region"])
        approve_dataset(s, "bench", "bench", "cohort", "v1", {0, 1, 2, 3})
        transition(s, "bench", "bench", ProjectState.ACTIVE, "ok")
    code = ensure_workspace(settings, "bench", 256 * 1024**2) / "analysis"
    code.mkdir(exist_ok=True)
    (code / "count.py").write_text(CODE)


def _bare(settings: object, location: str, code: Path) -> float:
    """The same command in the same image, no snapshot, queue, checks or delivery."""
    t0 = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "1000:1000", "-w", "/workspace",
                    "-v", f"{code}:/workspace/analysis:ro", "-v", f"{location}:/data/cohort:ro", "--tmpfs",
                    "/workspace/results:uid=1000", settings.image, "sh", "-c", COMMAND],  # type: ignore[attr-defined]
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def _jobs(n: int, timeout: float) -> tuple[float, list[int]]:
    from enclave.db import session_scope
    from enclave.settings import get_settings
    from jobs.runner import Runner
    from jobs.workflow import submit
    from policies import load_policies

    settings = get_settings()
    policies = load_policies(settings.policy_dir)
    t0 = time.perf_counter()
    ids = []
    for _ in range(n):
        with session_scope() as s:
            ids.append(submit(s, settings, policies, "rose", "bench", COMMAND).id)
    Runner(settings, policies).run_until_idle(timeout)
    return time.perf_counter() - t0, ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--queue", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="enclave-bench-jobs-") as tmp:
        home = Path(tmp) / "home"
        _setup(home)
        from enclave.db import session_scope
        from enclave.models import Job, JobRelease, JobState
        from enclave.projects import active_datasets, get_project
        from enclave.settings import get_settings
        from enclave.workspace_fs import release_workspace
        from policies import load_policies

        settings = get_settings()
        try:
            with session_scope() as s:
                location = active_datasets(get_project(s, "bench"))[0].location
            code = settings.workspace_dir("bench") / "analysis"
            bare, job = [], []
            for _ in range(args.runs):  # interleaved, so both see the same load
                bare.append(_bare(settings, location, code))
                job.append(_jobs(1, 300)[0])
            queue_wall, ids = _jobs(args.queue, 60 * args.queue)
            with session_scope() as s:
                done = [s.get(Job, i) for i in ids]
                ok = [j for j in done if j and j.state == JobState.FINISHED and j.exit_code == 0
                      and j.release == JobRelease.DELIVERED]
            jp = load_policies(settings.policy_dir).workspace.jobs
            b, j = summary(bare), summary(job)
            write("jobs", {
                "what": "one job start to finish (submit, snapshot, queue, sealed container, export checks on log "
                        "and outputs, delivery into the workspace) vs a bare `docker run --rm --network none` of the "
                        "same command and image; then a queue of jobs that must all complete",
                "command": COMMAND, "rows": 20000, "bare_docker_run": b, "job": j,
                "overhead_ratio_p50": round(j["p50_s"] / b["p50_s"], 2),
                "overhead_ratio_tail": round(tail(j) / tail(b), 2),
                "overhead_seconds_p50": round(j["p50_s"] - b["p50_s"], 3),
                "queue": {"jobs": args.queue, "completed_delivered": len(ok), "lost": args.queue - len(ok),
                          "wall_s": round(queue_wall, 1), "per_job_s": round(queue_wall / args.queue, 2),
                          "max_running": jp.max_running, "max_running_per_project": jp.max_running_per_project},
            })
        finally:
            release_workspace(settings, "bench")


if __name__ == "__main__":
    main()
