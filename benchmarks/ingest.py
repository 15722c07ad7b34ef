"""Ingest + full checks of a synthetic cohort (default 10 million rows, 12 columns).

Same run, same machine: the baseline is a plain polars CSV → Parquet conversion of the same file
(what any ingestion must do at least); the enclave figure adds the identifier scan, k-anonymity, the
keyed index, the dummy, manifest and audit. Each runs in its own process so peak memory (max RSS) is
measured per step, with its CPU time (all threads) beside the wall time: on a machine shared with
other work the wall times stretch with the load, the CPU ratio much less.
Results: benchmarks/results/ingest.json. Usage: python benchmarks/ingest.py [ROWS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write  # noqa: E402

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
import polars as pl
step, path, home = sys.argv[1], sys.argv[2], sys.argv[3]
def cpu():
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime
t0, cpu0 = time.perf_counter(), cpu()
extra = {{}}
if step == "baseline":
    pl.read_csv(path, infer_schema_length=10_000).write_parquet(os.path.join(home, "baseline.parquet"))
elif step == "kanon":
    from datasets_mount.checks import k_anonymity
    df = pl.read_parquet(os.path.join(home, "baseline.parquet"))
    t0, cpu0 = time.perf_counter(), cpu()
    k = k_anonymity(df, ["age_band", "sex", "region", "admission_year"], 5)
    extra = {{"smallest_class": k.smallest_class, "classes": k.classes, "records_below_k": k.records_below_k}}
else:
    os.environ["ENCLAVE_HOME"] = home
    from pathlib import Path
    from enclave.db import session_scope, upgrade
    from enclave.settings import get_settings
    from datasets_mount.ingest import ingest
    from policies import load_policies
    upgrade()
    s = get_settings()
    policies = load_policies(s.policy_dir)
    t0, cpu0 = time.perf_counter(), cpu()
    with session_scope() as ses:
        rep = ingest(ses, "bench", s, policies, Path(path), name="cohort",
                     version="v1", tier=2, quasi=["sex", "region"])
    extra = {{"problems": rep["problems"], "identifier_columns": [i["column"] for f in rep["files"]
             for i in f["identifiers"]]}}
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": time.perf_counter() - t0, "cpu_s": use.ru_utime + use.ru_stime - cpu0,
                  "max_rss_mib": use.ru_maxrss / 1024, **extra}}))
"""


def run(step: str, path: Path, home: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), step, str(path), str(home)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    from datasets_mount.synthetic import cohort

    with tempfile.TemporaryDirectory(dir=ROOT / "var" if (ROOT / "var").exists() else None) as tmp:
        home = Path(tmp)
        src = home / "import" / "cohort.csv"
        src.parent.mkdir()
        df = cohort(rows)
        df = df.with_columns((df["hba1c"] * 10).alias("glucose"), (df["systolic_bp"] - 40).alias("diastolic_bp"))
        assert df.width == 12
        df.write_csv(src)
        size_mb = src.stat().st_size / 1e6
        del df
        base = run("baseline", src, home)
        kanon = run("kanon", src, home)
        enclave = run("ingest", src, home)
    result = {
        "rows": rows, "columns": 12, "csv_mb": round(size_mb, 1), "cpus": os.cpu_count(),
        "baseline_csv_to_parquet": {"seconds": round(base["seconds"], 2), "rows_per_s": round(rows / base["seconds"]),
                                    "cpu_s": round(base["cpu_s"], 2), "max_rss_mib": round(base["max_rss_mib"])},
        "enclave_ingest_with_checks": {"seconds": round(enclave["seconds"], 2),
                                       "rows_per_s": round(rows / enclave["seconds"]),
                                       "cpu_s": round(enclave["cpu_s"], 2),
                                       "max_rss_mib": round(enclave["max_rss_mib"]),
                                       "problems_found": enclave["problems"]},
        "k_anonymity_pass_alone": {"seconds": round(kanon["seconds"], 3), "cpu_s": round(kanon["cpu_s"], 2),
                                   "rows_per_s": round(rows / kanon["seconds"]),
                                   "smallest_class": kanon["smallest_class"], "classes": kanon["classes"]},
        "ratio_enclave_vs_baseline_time": round(enclave["seconds"] / base["seconds"], 2),
        "ratio_enclave_vs_baseline_cpu": round(enclave["cpu_s"] / base["cpu_s"], 2),
    }
    write("ingest", result)


if __name__ == "__main__":
    main()
