"""Load on one 2-core machine: 20 concurrent workspace starts, 200 concurrent export submissions,
50 concurrent reviewers in the web UI. Nothing is asserted; figures go to benchmarks/results/load.json.

The hub and the client wait START_WAIT_S for a start (benchmarks/starts.py, recorded in the result): the
starts are measured, not the policy's give-up time. Baselines from the same run:
- starts: one researcher's start, alone (p50 of 3), against the 20 concurrent ones;
- submissions: 200 files of distinct content (each submission its own file: a content-addressed
  store would otherwise store a handful of files and flatter the figure) checked in-process one
  after another (`scan_bytes`: the checks' own cost) against end-to-end requests from inside the
  workspaces (hub token check, copy, checks, database, audit), 10 at a time from each of the 20
  workspaces;
- reviewer pages: 50 concurrent logged-in users loading a real page of the same service (the home
  page of a user with no requests and no review queue: OAuth cookie, database, template) against 50
  reviewers each loading queue, request and file pages at once.
Samples under 20 report their maximum instead of a p95 (benchmarks/report.py).
Usage: python benchmarks/load.py
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import summary, tail, write  # noqa: E402
from benchmarks.starts import FAILED, START_WAIT_S, alone_then_together, patient_policies, succeeded  # noqa: E402
from egress_review.scan import scan_bytes  # noqa: E402
from enclave_demo.data import DEMO_PROJECT  # noqa: E402
from enclave_demo.harness import instance, run_in  # noqa: E402
from policies import load_policies  # noqa: E402

STARTS, SUBMISSIONS, REVIEWERS = 20, 200, 50
PORTS = {"ENCLAVE_PUBLIC_PORT": "48000", "ENCLAVE_HUB_API_PORT": "48081", "ENCLAVE_IDP_PORT": "49000",
         "ENCLAVE_PROXY_API_PORT": "48001", "ENCLAVE_EGRESS_PORT": "48082",
         "ENCLAVE_JOBS_PORT": "48084"}
RESEARCHERS = [{"username": f"r{i:02d}", "name": f"Researcher {i}", "groups": ["researcher"], "password": f"r-{i}"}
               for i in range(STARTS)]
BASELINE_USERS = [{"username": f"b{i:02d}", "name": f"Baseline {i}", "groups": ["researcher"], "password": f"b-{i}"}
                  for i in range(REVIEWERS)]
REVIEWER_USERS = [{"username": f"v{i:02d}", "name": f"Reviewer {i}", "groups": ["reviewer"], "password": f"v-{i}"}
                  for i in range(REVIEWERS)]

KINDS = ("csv", "txt", "md", "ipynb")


def load_policies_dir(tmp: Path) -> Path:
    """The policies with patient starts (benchmarks/starts.py) and the per-project daily export limits
    raised: 200 submissions from one project within minutes is the load being measured, not a project's
    ordinary day."""
    copy = patient_policies(tmp)
    egress = yaml.safe_load((copy / "egress.yaml").read_text())
    egress.update(max_requests_per_day=2 * SUBMISSIONS, max_files_per_day=2 * SUBMISSIONS)
    (copy / "egress.yaml").write_text(yaml.safe_dump(egress, allow_unicode=True))
    return copy


def load_file(i: int) -> tuple[str, str]:
    """Submission i's own file: mixed outputs (clean and small-count tables, identifiers in text, notebooks)."""
    kind = KINDS[i % len(KINDS)]
    if kind == "csv":
        small = 3 + i % 7 if i % 3 == 0 else 120 + i
        return f"load/table-{i}.csv", f"region,n\neast,{small}\nwest,{9800 + i}\nnorth,{4300 + 2 * i}\n"
    if kind == "txt":
        return f"load/note-{i}.txt", f"run {i}: patient 11010519491231002X called 1381234{i:04d}\n"
    if kind == "md":
        stay = f"Mean length of stay {5 + i / 100:.2f} days (SD 2.3), n = {20000 + i}."
        return f"load/report-{i}.md", f"# Results {i}\n{stay}\n"
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": f"df.describe()  # run {i}",
         "outputs": [{"output_type": "stream", "name": "stdout",
                      "text": f"count {20000 + i}\nmean {54 + i / 1000}\n"}]}]}
    return f"load/nb-{i}.ipynb", json.dumps(nb)


SUBMIT = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from enclave_export import request_export
files = json.loads(sys.argv[1])
def one(i):
    t0 = time.perf_counter()
    try:
        r = request_export([files[i]], "load test %d" % i)
        return {"s": time.perf_counter() - t0, "id": r["id"], "ok": True}
    except Exception as e:
        return {"s": time.perf_counter() - t0, "ok": False, "error": str(e)[:200]}
with ThreadPoolExecutor(10) as pool:
    print(json.dumps(list(pool.map(one, range(len(files))))))
"""


def setup(settings, policies) -> None:  # type: ignore[no-untyped-def]
    from enclave.db import session_scope
    from enclave.projects import add_member, upsert_user

    with session_scope() as s:
        for u in RESEARCHERS + REVIEWER_USERS + BASELINE_USERS:
            upsert_user(s, "load", u["username"], roles=u["groups"])
        for u in RESEARCHERS:
            add_member(s, "load", DEMO_PROJECT, u["username"])


def _running(e: object, username: str) -> bool:
    try:
        e.container(username)  # type: ignore[attr-defined]
    except AssertionError:
        return False
    return True


def main() -> None:
    result: dict[str, object] = {}
    policy_tmp = tempfile.TemporaryDirectory()
    os.environ["ENCLAVE_POLICY_DIR"] = str(load_policies_dir(Path(policy_tmp.name)))
    with tempfile.TemporaryDirectory() as tmp, instance(Path(tmp), name="enclaveload", ports=PORTS, setup=setup,
                                                        extra_users=RESEARCHERS + REVIEWER_USERS + BASELINE_USERS) as e:
        # 1. starts
        single, starts, wall, sessions = alone_then_together(e, [u["username"] for u in RESEARCHERS], 3)
        ok, alone = succeeded(starts), succeeded(single)
        result["starts"] = {"start_wait_seconds": START_WAIT_S,
                            "baseline_single": {**summary(alone), "succeeded": len(alone), "of": len(single)},
                            "concurrent": {**summary(ok), "wall_s": round(wall, 2), "succeeded": len(ok),
                                           "of": STARTS, "failed": FAILED[:5]},
                            # no ratio when either side has no successful start: a failed run, not a figure
                            "ratio_p50_concurrent_vs_single": round(statistics.median(ok) / statistics.median(alone),
                                                                    2) if ok and alone else None}
        print(json.dumps(result["starts"]), flush=True)

        # 2. submissions: 10 at a time from each of the 20 workspaces
        # a start can fail under load: submit from the workspaces that started and are still running
        up = [k for k in range(STARTS) if not math.isnan(starts[k]) and _running(e, RESEARCHERS[k]["username"])]
        if not up:
            result["not_measured"] = "no workspace started, so no submissions and no reviewer pages"
            write("load", result)
            return
        first = e.container(RESEARCHERS[up[0]]["username"])
        files = dict(load_file(i) for i in range(SUBMISSIONS))
        code = "import json, os\nos.makedirs('/workspace/load', exist_ok=True)\n" + "".join(
            f"open('/workspace/{k}', 'w').write({v!r})\n" for k, v in files.items()) + "print('{}')"
        run_in(first, code)
        policy = load_policies(e.settings.policy_dir).egress
        names = list(files)
        t0 = time.perf_counter()
        for name in names:
            scan_bytes(name, files[name].encode(), policy)
        base_total = time.perf_counter() - t0
        per = SUBMISSIONS // len(up)

        def submit(i: int) -> list[dict]:
            mine = names[i * per:(i + 1) * per]
            res = e.container(RESEARCHERS[up[i]]["username"]).exec_run(["python", "-c", SUBMIT, json.dumps(mine)],
                                                                         demux=True)
            return json.loads(res.output[0].decode())

        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(up)) as pool:
            rows = [r for batch in pool.map(submit, range(len(up))) for r in batch]
        wall = time.perf_counter() - t0
        from enclave.db import session_scope
        from enclave.models import ExportRequest

        ids = {r["id"] for r in rows if r["ok"]}
        with session_scope() as s:
            kept = s.query(ExportRequest).filter(ExportRequest.justification.like("load test %")).all()
            file_of = {r.id: r.files[0].id for r in kept if r.files}
            distinct_blobs = len({f.sha256 for r in kept for f in r.files})
        stored = set(file_of)
        result["submissions"] = {
            "baseline_checks_only": {"total_s": round(base_total, 3), "per_file_ms": round(base_total / SUBMISSIONS
                                                                                          * 1000, 2)},
            "end_to_end": {**summary([r["s"] for r in rows]), "wall_s": round(wall, 2),
                           "throughput_per_s": round(len(rows) / wall, 1), "ok": len(ids), "of": SUBMISSIONS,
                           "failed": [r["error"] for r in rows if not r["ok"]][:5]},
            "none_lost": ids == stored and len(ids) == SUBMISSIONS,
            "distinct_files_stored": distinct_blobs,
        }
        print(json.dumps(result["submissions"]), flush=True)
        for s in sessions:
            s.stop()

        # 3. reviewers
        svc = f"{e.url}/services/egress-review/"
        reviewers = [e.login(u["username"]) for u in REVIEWER_USERS]
        plain = [e.login(u["username"]) for u in BASELINE_USERS]
        for r in reviewers + plain:
            r.http.get(svc, timeout=60)  # complete the service's OAuth once
        some = sorted(ids)[:REVIEWERS]
        baseline_failed: list[str] = []

        def home_page(i: int) -> float:
            """The same service's home page for a user with nothing to review and no requests."""
            t0 = time.perf_counter()
            r = plain[i].http.get(svc, timeout=60)
            took = time.perf_counter() - t0
            if r.status_code != 200 or 'id="who"' not in r.text:  # signed in, not a login page
                baseline_failed.append(str(r.status_code))
            return took

        failed_pages: list[str] = []

        def review_pages(i: int) -> list[float]:
            times = []
            rid = some[i % len(some)]
            pages = (("", 'id="queue"'), (f"requests/{rid}", 'id="state"'),
                     (f"requests/{rid}/files/{file_of[rid]}", 'id="content"'))
            for path, marker in pages:  # a login page answered instead would also be a 200
                t0 = time.perf_counter()
                r = reviewers[i].http.get(svc + path, timeout=60)
                times.append(time.perf_counter() - t0)
                if r.status_code != 200 or marker not in r.text:
                    failed_pages.append(f"{r.status_code} /{path}")
            return times

        with ThreadPoolExecutor(REVIEWERS) as pool:
            base = list(pool.map(home_page, range(REVIEWERS)))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(REVIEWERS) as pool:
            pages = [t for ts in pool.map(review_pages, range(REVIEWERS)) for t in ts]
        wall = time.perf_counter() - t0
        result["reviewers"] = {"baseline_home_page_of_a_user_with_nothing": {**summary(base),
                                                                            "failed": len(baseline_failed)},
                               "ui_pages": {**summary(pages), "wall_s": round(wall, 2), "reviewers": REVIEWERS,
                                            "pages": len(pages), "failed": len(failed_pages),
                                            "failed_examples": failed_pages[:5]},
                               "ratio_tail_ui_vs_baseline": round(tail(summary(pages)) / tail(summary(base)), 1)}
        print(json.dumps(result["reviewers"]), flush=True)
    write("load", result)


if __name__ == "__main__":
    main()
