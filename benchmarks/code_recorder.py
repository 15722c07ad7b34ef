"""What recording executed code costs a notebook: the same notebook run with and without the recorder.

In one container of the workspace image (no network), a notebook of CELLS small cells is executed through
a real kernel (nbclient) REPS times with the recorder loaded (as every workspace kernel loads it) and REPS
times without it (a profile that loads no extension), alternately, against a stand-in code recorder on
127.0.0.1 in the same container that accepts every batch (so the sender really sends while the cells run).
The per-cell overhead is (median with - median without) / CELLS, beside the ratio of the medians; the
target is under 5 ms per cell. On a loaded machine the run-to-run spread of a notebook is larger than the
recorder's cost, so the time the pre_run_cell hook itself takes (what a cell waits for) is measured too.
The records the stand-in received are counted, so a run whose recorder
recorded nothing cannot pass for a cheap one. Results: benchmarks/results/code_recorder.json; nothing
here is asserted.

    python benchmarks/code_recorder.py [--cells 200] [--reps 7] [--image enclave-workspace:latest]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import write  # noqa: E402

INSIDE = r'''
import copy, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import nbformat
from nbclient import NotebookClient

cells, reps = int(sys.argv[1]), int(sys.argv[2])
received = {"records": 0, "calls": 0}

class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received["records"] += len(body.get("records", []))
        received["calls"] += 1
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ.update(ENCLAVE_RECORD_URL=f"http://127.0.0.1:{server.server_port}/", JUPYTERHUB_API_TOKEN="bench")
bare = "/tmp/bench-ipython"
os.makedirs(bare + "/profile_default", exist_ok=True)
with open(bare + "/profile_default/ipython_config.py", "w") as fh:
    fh.write("c.InteractiveShellApp.extensions = []\n")
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x{i} = {i} * 2") for i in range(cells)])

def run(recorded):
    if recorded:
        os.environ.pop("IPYTHONDIR", None)
    else:
        os.environ["IPYTHONDIR"] = bare
    before = received["records"]
    client = NotebookClient(copy.deepcopy(nb), kernel_name="python3", timeout=120)
    with client.setup_kernel():
        client.execute_cell(nbformat.v4.new_code_cell("1"), 0)  # warm-up: the kernel is up and answering
        start = time.perf_counter()
        for i, cell in enumerate(client.nb.cells):
            client.execute_cell(cell, i)
        seconds = time.perf_counter() - start
        time.sleep(1.0)  # the sender's last batch
    return seconds, received["records"] - before

out = {"with": [], "without": [], "recorded_with": [], "recorded_without": []}
for rep in range(reps):
    for recorded in ((True, False) if rep % 2 == 0 else (False, True)):  # neither always goes first
        seconds, got = run(recorded)
        out["with" if recorded else "without"].append(seconds)
        out["recorded_with" if recorded else "recorded_without"].append(got)
out["calls"] = received["calls"]
# the hook's own time, which is all a cell waits for: the real recorder, sending to the stand-in meanwhile
from types import SimpleNamespace
import enclave_record
rec = enclave_record.Recorder(enclave_record.http_post(os.environ["ENCLAVE_RECORD_URL"], "bench"))
hook = enclave_record.cell_hook(rec, SimpleNamespace(execution_count=1))
info = SimpleNamespace(raw_cell="x = 1 * 2", store_history=True)
out["hook_us"] = []
for _ in range(5):
    start = time.perf_counter()
    for _ in range(2000):
        hook(info)
    out["hook_us"].append((time.perf_counter() - start) / 2000 * 1e6)
rec.close(timeout=30)
print(json.dumps(out))
'''


def measure(image: str, cells: int, reps: int) -> dict[str, list[float]]:
    argv = ["docker", "run", "--rm", "-i", "--network", "none", "--user", "1000:1000", "-e", "HOME=/tmp",
            image, "python", "-", str(cells), str(reps)]
    done = subprocess.run(argv, input=INSIDE, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the benchmark container failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--image", default=os.environ.get("ENCLAVE_IMAGE", "enclave-workspace:latest"))
    args = ap.parse_args()
    raw = measure(args.image, args.cells, args.reps)
    with_s, without_s = statistics.median(raw["with"]), statistics.median(raw["without"])
    per_cell_ms = (with_s - without_s) / args.cells * 1000
    result = {
        "what": "the same notebook executed through a real kernel with and without the code recorder",
        "image": args.image, "cells": args.cells, "reps": args.reps,
        "median_seconds": {"with_recorder": round(with_s, 4), "without_recorder": round(without_s, 4)},
        "runs_seconds": {"with_recorder": [round(x, 4) for x in raw["with"]],
                         "without_recorder": [round(x, 4) for x in raw["without"]]},
        "baseline_ms_per_cell": round(without_s / args.cells * 1000, 3),
        "overhead_ms_per_cell": round(per_cell_ms, 3),
        "ratio_with_to_without": round(with_s / without_s, 4),
        "target_ms_per_cell": 5.0, "under_target": per_cell_ms < 5.0,
        # what the pre_run_cell hook itself takes per cell (median of 5 rounds of 2000 calls), in microseconds:
        # the part of the overhead a cell waits for; the rest is the sender thread's share of the interpreter
        "hook_us_per_cell": round(statistics.median(raw["hook_us"]), 2),
        "hook_us_rounds": [round(x, 2) for x in raw["hook_us"]],
        # every recorded run's cells reached the stand-in service (plus the warm-up cell); none without
        "records_received": {"with_recorder": raw["recorded_with"], "without_recorder": raw["recorded_without"],
                             "calls": raw["calls"]},
    }
    print(f"written to {write('code_recorder', result)}")


if __name__ == "__main__":
    main()
