"""Load on one 2-core machine: 20 concurrent workspace starts, 200 concurrent export submissions,
50 concurrent reviewers in the web UI. Nothing is asserted; figures go to benchmarks/results/load.json.

Baselines from the same run:
- starts: one researcher's start, alone (p50 of 3), against the 20 concurrent ones;
- submissions: the same 200 files checked in-process one after another (`scan_bytes`: the checks'
  own cost) against end-to-end requests from inside the workspaces (hub token check, copy, checks,
  database, audit), 10 at a time from each of the 20 workspaces;
- reviewer pages: 50 concurrent requests for the service's unauthenticated health page against 50
  reviewers each loading queue, request and file pages at once.
Usage: python benchmarks/load.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.starts import alone_then_together, pct, succeeded, summary  # noqa: E402
from egress_review.scan import scan_bytes  # noqa: E402
from enclave.demo import DEMO_PROJECT  # noqa: E402
from enclave.harness import instance, run_in  # noqa: E402
from policies import load_policies  # noqa: E402

STARTS, SUBMISSIONS, REVIEWERS = 20, 200, 50
PORTS = {"ENCLAVE_PUBLIC_PORT": "48000", "ENCLAVE_HUB_API_PORT": "48081", "ENCLAVE_IDP_PORT": "49000",
         "ENCLAVE_PROXY_API_PORT": "48001", "ENCLAVE_EGRESS_PORT": "48082"}
RESEARCHERS = [{"username": f"r{i:02d}", "name": f"Researcher {i}", "groups": ["researcher"], "password": f"r-{i}"}
               for i in range(STARTS)]
REVIEWER_USERS = [{"username": f"v{i:02d}", "name": f"Reviewer {i}", "groups": ["reviewer"], "password": f"v-{i}"}
                  for i in range(REVIEWERS)]

FILES = {  # mixed outputs: clean and small-count tables, identifiers in text, a notebook, an image
    "load/table.csv": "sex,n\nF,9800\nM,10200\n",
    "load/small.csv": "region,n\neast,3\nwest,120\n",
    "load/ids.txt": "patient 11010519491231002X called 13812345678\n",
    "load/report.md": "# Results\nMean length of stay 5.1 days (SD 2.3), n = 20000.\n",
    "load/nb.ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "df.describe()",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "count 20000\nmean 54.2\n"}]}]}),
}

SUBMIT = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from enclave_export import request_export
files = json.loads(sys.argv[1])
def one(i):
    t0 = time.perf_counter()
    try:
        r = request_export([files[i % len(files)]], "load test %d" % i)
        return {"s": time.perf_counter() - t0, "id": r["id"], "ok": True}
    except Exception as e:
        return {"s": time.perf_counter() - t0, "ok": False, "error": str(e)[:200]}
with ThreadPoolExecutor(10) as pool:
    print(json.dumps(list(pool.map(one, range(int(sys.argv[2]))))))
"""


def setup(settings, policies) -> None:  # type: ignore[no-untyped-def]
    from enclave.db import session_scope
    from enclave.projects import add_member, upsert_user

    with session_scope() as s:
        for u in RESEARCHERS + REVIEWER_USERS:
            upsert_user(s, "load", u["username"], roles=u["groups"])
        for u in RESEARCHERS:
            add_member(s, "load", DEMO_PROJECT, u["username"])


def main() -> None:
    out = Path(__file__).resolve().parent / "results" / "load.json"
    result: dict[str, object] = {"machine": {"cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory() as tmp, instance(Path(tmp), name="enclaveload", ports=PORTS, setup=setup,
                                                        extra_users=RESEARCHERS + REVIEWER_USERS) as e:
        # 1. starts
        single, starts, wall, sessions = alone_then_together(e, [u["username"] for u in RESEARCHERS], 3)
        ok = succeeded(starts)
        result["starts"] = {"baseline_single": summary(single), "concurrent": {
            **summary(ok), "wall_s": round(wall, 2), "succeeded": len(ok), "of": STARTS},
            "ratio_p50_concurrent_vs_single": round(statistics.median(ok) / statistics.median(single), 2)}
        print(json.dumps(result["starts"]), flush=True)

        # 2. submissions: 10 at a time from each of the 20 workspaces
        first = e.container(RESEARCHERS[0]["username"])
        code = "import json, os\nos.makedirs('/workspace/load', exist_ok=True)\n" + "".join(
            f"open('/workspace/{k}', 'w').write({v!r})\n" for k, v in FILES.items()) + "print('{}')"
        run_in(first, code)
        policy = load_policies(e.settings.policy_dir).egress
        names = list(FILES)
        t0 = time.perf_counter()
        for i in range(SUBMISSIONS):
            name = names[i % len(names)]
            scan_bytes(name, FILES[name].encode(), policy)
        base_total = time.perf_counter() - t0
        per = SUBMISSIONS // STARTS

        def submit(user: str) -> list[dict]:
            res = e.container(user).exec_run(["python", "-c", SUBMIT, json.dumps(names), str(per)], demux=True)
            return json.loads(res.output[0].decode())

        t0 = time.perf_counter()
        with ThreadPoolExecutor(STARTS) as pool:
            rows = [r for batch in pool.map(submit, [u["username"] for u in RESEARCHERS]) for r in batch]
        wall = time.perf_counter() - t0
        from enclave.db import session_scope
        from enclave.models import ExportRequest

        ids = {r["id"] for r in rows if r["ok"]}
        with session_scope() as s:
            file_of = {r.id: r.files[0].id for r in
                       s.query(ExportRequest).filter(ExportRequest.justification.like("load test %")) if r.files}
        stored = set(file_of)
        result["submissions"] = {
            "baseline_checks_only": {"total_s": round(base_total, 3), "per_file_ms": round(base_total / SUBMISSIONS
                                                                                          * 1000, 2)},
            "end_to_end": {**summary([r["s"] for r in rows]), "wall_s": round(wall, 2),
                           "throughput_per_s": round(len(rows) / wall, 1), "ok": len(ids), "of": SUBMISSIONS,
                           "failed": [r["error"] for r in rows if not r["ok"]][:5]},
            "none_lost": ids == stored and len(ids) == SUBMISSIONS,
        }
        print(json.dumps(result["submissions"]), flush=True)
        for s in sessions:
            s.stop()

        # 3. reviewers
        svc = f"{e.url}/services/egress-review/"
        reviewers = [e.login(u["username"]) for u in REVIEWER_USERS]
        for r in reviewers:
            r.http.get(svc, timeout=60)  # complete the service's OAuth once
        some = sorted(ids)[:REVIEWERS]

        def health(_i: int) -> float:
            t0 = time.perf_counter()
            requests.get(svc + "health", timeout=60)
            return time.perf_counter() - t0

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
            base = list(pool.map(health, range(REVIEWERS)))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(REVIEWERS) as pool:
            pages = [t for ts in pool.map(review_pages, range(REVIEWERS)) for t in ts]
        wall = time.perf_counter() - t0
        result["reviewers"] = {"baseline_health_page": summary(base),
                               "ui_pages": {**summary(pages), "wall_s": round(wall, 2), "reviewers": REVIEWERS,
                                            "pages": len(pages), "failed": len(failed_pages),
                                            "failed_examples": failed_pages[:5]},
                               "ratio_p95_ui_vs_health": round(pct(pages, 0.95) / pct(base, 0.95), 1)}
        print(json.dumps(result["reviewers"]), flush=True)
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
