"""Export checks on long logs: our text scan against a bare vectorised pass, same run.

Two files, each scanned in its own process as `enclave egress scan FILE` scans it (`scan_path`, then
`across_files` and the result as the CLI prints it; the size limit lifted, imports timed apart):
- a realistic training / pipeline log (default 16 MB): a time stamp on every line, step counters,
  losses, six-digit batch ids and timings, warnings in English and Chinese, a few `print(df)` lines,
  and a few planted lines with personal data (Faker's mobile numbers, e-mails, resident IDs, and
  names with no cue word). Recall is the share of planted lines flagged;
- a hostile log of nothing but six-digit numbers separated by single spaces (default 4 MB), every
  run of which libphonenumber and the digit recognisers would read: the scan must end within the file's
  CPU budget (the policy's `max_check_seconds`) with a verdict, never run for many minutes.
The bare pass reads the file with polars (lines as a one-column frame) and runs one regex per
identifier kind: the practical limit of any scanner that reads every line.
Results (with the commit measured): benchmarks/results/egress_text_scan.json.

Usage: python benchmarks/egress_text_scan.py [--mb 16] [--hostile-mb 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.report import write  # noqa: E402

PLANT_EVERY = 2000  # one line in this many carries personal data
WARNINGS = ["WARNING clipping gradient norm {x:.2f}", "警告：第 {s} 批数据缺失值比例 {x:.1%}",
            "INFO checkpoint saved to /home/jovyan/work/ckpt_{s}.pt", "INFO eval auc={x:.4f} n=12840",
            "DEBUG cache hit ratio {x:.3f} for shard {s}", "INFO 随访数据已合并，共 {s} 条记录"]


def realistic_log(path: Path, mb: int, seed: int = 11) -> list[int]:
    """Writes the log; returns the line numbers with planted personal data."""
    rng, zh, en = random.Random(seed), Faker("zh_CN"), Faker("en_US")
    Faker.seed(seed)
    planted, lines, size, step = [], [], 0, 0
    while size < mb * 1_000_000:
        step += 1
        stamp = f"2026-11-{1 + step // 40000:02d} {step // 1600 % 24:02d}:{step // 60 % 60:02d}:{step % 60:02d}"
        if step % PLANT_EVERY == 0:
            kind = step // PLANT_EVERY % 4
            line = (f"{stamp} INFO contact {zh.phone_number()}" if kind == 0 else
                    f"{stamp} INFO mail sent to {en.email()}" if kind == 1 else
                    f"{stamp} DEBUG row id {zh.ssn()}" if kind == 2 else f"{stamp} INFO reviewed by {en.name()} today")
            planted.append(len(lines) + 1)
        elif step % 97 == 0:
            line = f"{stamp} " + rng.choice(WARNINGS).format(x=rng.random(), s=rng.randint(1, 99999))
        else:
            line = (f"{stamp} INFO step {step} loss={rng.random():.4f} lr=3.0e-04 batch {rng.randint(100000, 999999)}"
                    f" took {rng.randint(100000, 999999)} us")
        lines.append(line)
        size += len(line.encode()) + 1
    path.write_text("\n".join(lines) + "\n")
    return planted


def hostile_log(path: Path, mb: int, seed: int = 12) -> None:
    rng = random.Random(seed)
    lines, size = [], 0
    while size < mb * 1_000_000:
        line = " ".join(str(rng.randint(100000, 999999)) for _ in range(rng.randint(1, 8)))
        lines.append(line)
        size += len(line) + 1
    path.write_text("\n".join(lines) + "\n")


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
which, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
lines = set()
verdict = None
extra = {{}}
if which == "ours":
    t0 = time.perf_counter()
    from pathlib import Path
    from egress_review.scan import scan_path
    from egress_review.tables import across_files
    from policies import load_policies
    extra["import_seconds"] = time.perf_counter() - t0
    policy = load_policies(Path({root!r}) / "policies").egress.model_copy(update={{"max_file_bytes": 10**12}})
    t0, c0 = time.perf_counter(), time.process_time()
    res = scan_path(Path(path), policy)
    across_files([res], policy)
    printed = json.dumps(res.to_dict(), default=str)
    verdict = res.verdict.value if hasattr(res.verdict, "value") else str(res.verdict)
    lines = {{f.location["line"] for f in res.findings if f.check == "personal-data" and "line" in f.location}}
    rules = sorted({{f.rule for f in res.findings if f.verdict.value == "block"}})
else:
    import polars as pl
    KINDS = [r"\\d{{17}}[\\dXx]", r"1[3-9]\\d{{9}}", r"\\+?86[ -]?1[3-9]\\d{{9}}", r"[\\w.+-]+@[\\w-]+\\.[\\w.]+",
             r"\\d{{3}}-\\d{{2}}-\\d{{4}}", r"[A-Z][a-z]+ [A-Z][a-z]+"]
    t0, c0 = time.perf_counter(), time.process_time()
    df = pl.DataFrame({{"line": data.decode("utf-8").splitlines()}}).with_row_index("n", offset=1)
    for rx in KINDS:
        lines |= set(df.filter(pl.col("line").str.contains(rx))["n"].to_list())
    rules = []
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "bytes": len(data), "mb_per_s": len(data) / 1e6 / seconds,
                  "mb_per_cpu_s": len(data) / 1e6 / cpu, **extra,
                  "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "verdict": verdict,
                  "block_rules": rules, "lines": sorted(lines)}}))
"""


def run(which: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), which, str(path)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout)


def _figures(res: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items() if k != "lines"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=16)
    ap.add_argument("--hostile-mb", type=int, default=4)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log, hostile = Path(tmp) / "train.log", Path(tmp) / "numbers.log"
        t = time.perf_counter()
        planted = set(realistic_log(log, a.mb))
        hostile_log(hostile, a.hostile_mb)
        print(f"made {log.stat().st_size / 1e6:.1f} MB and {hostile.stat().st_size / 1e6:.1f} MB in "
              f"{time.perf_counter() - t:.1f}s", flush=True)
        results = {}
        for which, target in (("ours", log), ("bare", log), ("ours_hostile", hostile)):
            results[which] = run(which.split("_")[0], target)
            print(f"{which}: {results[which]['mb_per_s']:.3f} MB/s", flush=True)
    def recall(res: dict) -> float:
        return round(len(planted & set(res["lines"])) / len(planted), 4)

    result = {
        "log_mb": round(results["ours"]["bytes"] / 1e6, 1), "planted_lines": len(planted),
        "ours": {**_figures(results["ours"]), "recall": recall(results["ours"]),
                 "flagged_unplanted_lines": len(set(results["ours"]["lines"]) - planted)},
        "bare_vectorised": {**_figures(results["bare"]), "recall": recall(results["bare"]),
                            "config": "polars: lines as a one-column frame, one str.contains regex per kind"},
        "throughput_share_of_bare_pass": round(results["ours"]["mb_per_s"] / results["bare"]["mb_per_s"], 3),
        "cpu_share_of_bare_pass": round(results["ours"]["mb_per_cpu_s"] / results["bare"]["mb_per_cpu_s"], 3),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "hostile_numbers_log": {**_figures(results["ours_hostile"]),
                                "file": "six-digit numbers separated by single spaces, nothing else"},
    }
    write("egress_text_scan", result)


if __name__ == "__main__":
    main()
