"""What every benchmark result carries: the commit it measured, the machine, and honest statistics.

A result that does not say which code it measured cannot be compared with the next run, so each
file in `benchmarks/results/` records `git rev-parse HEAD` and whether the tree had uncommitted
changes. Percentiles need samples: with fewer than `MIN_FOR_P95` values a "p95" is just the
maximum with a flattering name, so small samples report the maximum and say so.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MIN_FOR_P95 = 20


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def provenance() -> dict[str, Any]:
    """The commit measured (and whether files differed from it), when, and on what machine."""
    return {"commit": _git("rev-parse", "HEAD") or "unknown",
            # the results folder itself is left out: a rerun rewrites it before it is committed
            "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".",
                                             ":!benchmarks/results")),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        # other work on the machine when the run started (1, 5, 15 min): wall times of a
                        # loaded machine are not those of an idle one, ratios from the same run still compare
                        "load_average": [round(x, 2) for x in os.getloadavg()]}}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    """n, median, and p95 only where the sample allows it (else the maximum, named as such)."""
    if not values:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(values), "p50_s": round(statistics.median(values), 3),
                           "min_s": round(min(values), 3), "max_s": round(max(values), 3)}
    if len(values) >= MIN_FOR_P95:
        out["p95_s"] = round(pct(values, 0.95), 3)
    else:
        out["note"] = f"fewer than {MIN_FOR_P95} samples: no p95, see max_s"
    return out


def tail(stats: dict[str, Any]) -> float:
    """The p95 where there is one, else the maximum: what ratios between two samples compare."""
    return float(stats.get("p95_s", stats.get("max_s", float("nan"))))


# taken when a benchmark imports this module, i.e. as its run starts: a commit made while a long run is under
# way (another step of the work going on beside it) must not be recorded as the code it measured
AT_START = provenance()


def write(name: str, result: dict[str, Any]) -> Path:
    """Writes `benchmarks/results/<name>.json` with the provenance of the run's start first, and prints it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    head = {**AT_START, "machine": {**AT_START["machine"],  # how busy the machine was by the end as well
                                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}}
    text = json.dumps({**head, **result}, indent=1, ensure_ascii=False)
    out.write_text(text + "\n")
    print(text)
    return out
