"""Mutation testing of the modules that hold rules: does the suite notice when a rule is broken?

mutmut (3.x) changes one thing at a time in a module (`<` for `<=`, a swapped constant, a dropped `not`, ...)
and runs the unit tests that cover the module against each change. A mutant the tests do not notice
"survives": either a test is missing, or the change does not alter behaviour (an equivalent mutant), which a
person explains in benchmarks/mutation_explanations.yaml; explanations are merged into the report.

Each module runs in its own copy of the tree under var/mutation/ (the working tree is never touched), with
only the fast unit tests named for it below, on SQLite (PostgreSQL variants deselected), under `nice`.

Results: benchmarks/results/mutation.json — per module killed / survived / total (and timeouts, mutants no
test reaches), the commit measured, and for each survivor its function, line, diff and explanation if any.

Usage: python benchmarks/mutation.py [--module PATH ...] [--function GLOB ...] [--worktree | --commit REV]
                                     [--jobs N] [--output FILE]
  --worktree  measure the working tree as it is (uncommitted changes included; recorded as dirty) instead
              of the committed HEAD
  --module    only these modules (the report keeps earlier results for the others)
  --function  only mutants of the functions matching these globs (e.g. `check_*`), for a big module whose
              decisions live in a few functions; the report records the filter
  --survivors rerun only the mutants the last run left alive (and those a stopped run never reached),
              against the tests as they are now: after adding tests, without testing every mutant again
              (refused if the module itself changed)
  --collect   report the last run of a module as it stands (e.g. one stopped for lack of time)

Each module's entry keeps `before`: the first measurement on record (commit and counts), so a rerun
after new tests shows before and after side by side.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import glob
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "mutation.json"
EXPLANATIONS = ROOT / "benchmarks" / "mutation_explanations.yaml"
WORK = ROOT / "var" / "mutation"
PACKAGES = ["enclave", "egress_review", "datasets_mount", "policies", "hub"]
# module -> the unit tests that cover it (globs, so tests added later are picked up)
MODULES: dict[str, list[str]] = {
    "egress_review/rules.py": ["tests/unit/test_egress_workflow.py", "tests/unit/test_egress_rules*.py",
                               "tests/unit/test_egress_per_file.py", "tests/unit/test_review_bypasses.py"],
    # the workflow's own tests: the rule tests (test_egress_rules*.py) use it only to set a request up, and
    # made each mutant of submit or review run 150 tests with a database each
    "egress_review/workflow.py": ["tests/unit/test_egress_workflow*.py", "tests/unit/test_egress_per_file.py",
                                  "tests/unit/test_review_bypasses.py"],
    # the scan tests read the checks' findings; test_sdc_boundaries reaches them only through scan_bytes to
    # test sdc.py, decides nothing of them and made each mutant of the PII functions run 90 more tests
    "egress_review/checks.py": ["tests/unit/test_egress_checks*.py", "tests/unit/test_egress_scan.py",
                                "tests/unit/test_egress_text_scan.py", "tests/unit/test_egress_membership.py"],
    # test_egress_sdc.py holds most of the table rules' own tests (n (%) cells, totals, series, differencing),
    # test_egress_hidden_shapes.py those of counts in long-format and transposed tables
    "egress_review/sdc.py": ["tests/unit/test_sdc_boundaries.py", "tests/unit/test_egress_scan.py",
                             "tests/unit/test_sdc*.py", "tests/unit/test_egress_sdc.py",
                             "tests/unit/test_egress_hidden_shapes.py"],
    # test_records_decisions.py: the record rules called directly, at their boundaries (the scan tests reach
    # printed_head and _unique_share not at all)
    "egress_review/records.py": ["tests/unit/test_records*.py", "tests/unit/test_sdc_boundaries.py",
                                 "tests/unit/test_egress_scan.py"],
    "enclave/pii/validators.py": ["tests/unit/test_pii.py", "tests/unit/test_pii_scheme*.py",
                                  "tests/unit/test_pii_columns.py"],
    "datasets_mount/checks.py": ["tests/unit/test_ingest_checks_boundaries.py", "tests/unit/test_ingest.py"],
    "enclave/audit.py": ["tests/unit/test_audit.py", "tests/unit/test_audit_chain.py"],
}
TIMEOUT_MULTIPLIER = 60.0
COMMIT_FILE = ".mutation-commit"  # in each module's copy: the commit its mutants were made from
UNKILLED = ("survived", "no tests", "suspicious", "timeout")
STATUS_KEYS = ("killed", "survived", "timeout", "no tests", "suspicious", "skipped", "segfault", "not checked")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def prepare(workdir: Path, module: str, tests: list[str], worktree: bool, commit: str) -> None:
    """A copy of the tree (a commit, or the working tree) with mutmut's configuration for one module."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    if worktree:
        for name in [*PACKAGES, "tests", "scripts", "pyproject.toml"]:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, workdir / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif src.exists():
                shutil.copy2(src, workdir / name)
    else:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
    (workdir / COMMIT_FILE).write_text(git("rev-parse", "HEAD" if worktree else commit) + "\n")
    also = [p.name for p in workdir.iterdir()
            if p.name not in PACKAGES and p.name not in ("pyproject.toml", COMMIT_FILE)]
    config = {
        "source_paths": [p for p in PACKAGES if (workdir / p).exists()],
        "only_mutate": [module],
        "also_copy": also,
        # (test ids are ASCII, tests/conftest.py: mutmut hands pytest's escaped non-ASCII ids back to it, which
        # finds no such test, and every mutant of a function tested with a Chinese case was a "timeout")
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-k", "not postgresql", "-p", "no:randomly"],
        "pytest_add_cli_args_test_selection": tests,
        "use_git_change_detection": False,
        # mutmut stops a mutant after (its tests' time in the stats run + 1 s) x this of wall-clock time (twice
        # that of CPU): its default 15 counted sound mutants as timeouts whenever other jobs shared the 2 cores;
        # an endless loop still ends, later
        "timeout_multiplier": TIMEOUT_MULTIPLIER,
        # forking straight from a process that ran polars code deadlocks the child (polars' thread pool):
        # workers come from a fork server that has only collected the tests
        "process_isolation": "forkserver",
    }
    pyproject = workdir / "pyproject.toml"
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")


TEST_OVERRIDE: list[str] = []  # --tests: these globs instead of the module's own


def tests_for(module: str, workdir: Path) -> list[str]:
    found: list[str] = []
    for pattern in TEST_OVERRIDE or MODULES[module]:
        for path in sorted(glob.glob(pattern, root_dir=workdir)):
            if path not in found:
                found.append(path)
    return found


def mutmut(workdir: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run(["nice", "-n", "10", str(exe), *args], cwd=workdir, capture_output=True, text=True,
                          timeout=timeout)


DIFFS = """
import json, sys
from pathlib import Path
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = Path(sys.argv[1]), json.loads(sys.stdin.read())
print(json.dumps({n: get_diff_for_mutant(n, path=path) for n in names}))
"""


def diffs(workdir: Path, module: str, names: list[str]) -> dict[str, str]:
    """Each mutant's diff, from mutmut's own code in one process (`mutmut show` per mutant takes seconds)."""
    if not names:
        return {}
    run = subprocess.run([sys.executable, "-c", DIFFS, module], cwd=workdir, input=json.dumps(names),
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def function_lines(source: str) -> dict[str, tuple[int, int]]:
    """Function (and method) name -> (first line, last line) in the original module."""
    spans: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans.setdefault(node.name, (node.lineno, node.end_lineno or node.lineno))
    return spans


def changed_lines(diff: str) -> tuple[str, str]:
    removed = "\n".join(ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---"))
    added = "\n".join(ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
    return removed, added


def locate(source: str, function: str, removed: str) -> int | None:
    """The line of the original module the mutant changes (its first removed line inside the function)."""
    span = function_lines(source).get(function)
    first = removed.splitlines()[0] if removed else ""
    if not span or not first:
        return span[0] if span else None
    lines = source.splitlines()
    for n in range(span[0], span[1] + 1):
        if lines[n - 1].strip() == first:
            return n
    return span[0]


def function_of(mutant: str) -> str:
    """`enclave.pii.validators.x_is_luhn__mutmut_3` -> `is_luhn` (methods: `xǁClassǁmethod__mutmut_1`)."""
    tail = mutant.rsplit(".", 1)[-1]
    tail = re.sub(r"__mutmut_\d+$", "", tail)
    tail = tail.split("ǁ")[-1]
    return tail[2:] if tail.startswith("x_") else tail


def load_explanations() -> list[dict[str, str]]:
    if not EXPLANATIONS.exists():
        return []
    data = yaml.safe_load(EXPLANATIONS.read_text(encoding="utf-8")) or []
    if not isinstance(data, list):
        raise SystemExit(f"{EXPLANATIONS}: expected a list of explanations")
    return data


def explain(module: str, function: str, removed: str, added: str, explanations: list[dict[str, str]]) -> str | None:
    """An explanation matches a survivor by module, function and the exact lines changed (not by mutant number,
    which shifts whenever the module changes)."""
    for e in explanations:
        if (e.get("module") == module and e.get("function") == function
                and str(e.get("from", "")).strip() == removed and str(e.get("to", "")).strip() == added):
            return str(e["why"])
    return None


def mutant_globs(module: str, functions: list[str]) -> list[str]:
    """mutmut's names for the mutants of these functions (`egress_review.sdc.x_check_*__mutmut_*`);
    methods (`xǁClassǁname`) match on the method name."""
    dotted = module.removesuffix(".py").replace("/", ".")
    out: list[str] = []
    for f in functions:
        out += [f"{dotted}.x_{f}__mutmut_*", f"{dotted}.xǁ*ǁ{f}__mutmut_*"]
    return out


def unkilled_names(workdir: Path) -> list[str]:
    """The mutants no test killed yet: survivors, untested ones and those a stopped run never reached."""
    out = []
    for line in mutmut(workdir, "results", "--all", "true").stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and status in (*UNKILLED, "not checked"):
            out.append(name)
    return out


def exit_codes(workdir: Path, module: str) -> dict[str, int | None]:
    """mutmut's recorded result per mutant (its exit code; None for one not run)."""
    meta = workdir / "mutants" / f"{module}.meta"
    return json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"] if meta.exists() else {}


def restore_results(workdir: Path, module: str, earlier: dict[str, int | None], rerun: list[str]) -> int:
    """Put back the last run's results of the mutants `--survivors` did not rerun.

    mutmut forgets every result once the test selection changes (a test file was added). A mutant the last
    run's tests killed is killed by the same tests with others beside them (tests were added, the module is
    the same), so its result stands; only the mutants rerun get new ones. Returns how many were put back.
    """
    meta_path = workdir / "mutants" / f"{module}.meta"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    codes, skip, restored = meta["exit_code_by_key"], set(rerun), 0
    for name, code in earlier.items():
        if name not in skip and code is not None and codes.get(name) is None:
            codes[name], restored = code, restored + 1
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return restored


def refresh_tests(workdir: Path, module: str, worktree: bool, commit: str) -> list[str]:
    """The last run's copy with today's tests (and test selection), for `--survivors`; the module must be
    the one its mutants were made from."""
    fresh = workdir.with_name(workdir.name + "-fresh")
    prepare(fresh, module, [], worktree, commit)
    if (fresh / module).read_bytes() != (workdir / module).read_bytes():
        shutil.rmtree(fresh)
        raise SystemExit(f"{module} changed since its last run: measure it in full (without --survivors)")
    shutil.rmtree(workdir / "tests")
    shutil.copytree(fresh / "tests", workdir / "tests")
    tests = tests_for(module, workdir)
    shutil.rmtree(fresh)
    prepare(fresh, module, tests, worktree, commit)  # its pyproject.toml carries the new test selection
    shutil.copy2(fresh / "pyproject.toml", workdir / "pyproject.toml")
    shutil.rmtree(fresh)
    return tests


def run_module(module: str, worktree: bool, commit: str, jobs: int,
               explanations: list[dict[str, str]], functions: list[str] | None = None,
               survivors_only: bool = False, collect_only: bool = False) -> dict[str, Any]:
    workdir = WORK / module.replace("/", "_").removesuffix(".py")
    globs = mutant_globs(module, functions or [])
    earlier: dict[str, int | None] = {}
    if collect_only:
        if not (workdir / "mutants").exists():
            raise SystemExit(f"--collect: no earlier run of {module} in {workdir}")
        tests = tests_for(module, workdir)
        names = []
    elif survivors_only:
        if not (workdir / "mutants").exists():
            raise SystemExit(f"--survivors: no earlier run of {module} in {workdir}")
        earlier = exit_codes(workdir, module)
        names = unkilled_names(workdir)
        tests = refresh_tests(workdir, module, worktree, commit)
        names = [n for n in names if not globs or any(fnmatch.fnmatch(n, g) for g in globs)]
    else:
        prepare(workdir, module, [], worktree, commit)
        tests = tests_for(module, workdir)
        prepare(workdir, module, tests, worktree, commit)
        names = globs
    source = (workdir / module).read_text(encoding="utf-8")
    started = time.monotonic()
    run = None if collect_only or (survivors_only and not names) else mutmut(
        workdir, "run", "--max-children", str(jobs), *names)
    if run is None:
        run = subprocess.CompletedProcess([], 0, "", "")
    if survivors_only and run.returncode == 0:
        restore_results(workdir, module, earlier, names)
    seconds = round(time.monotonic() - started, 1)
    if run.returncode != 0:
        tail = (run.stdout + run.stderr)[-3000:]
        return {"error": f"mutmut run exited {run.returncode}", "output_tail": tail, "tests": tests}
    statuses: dict[str, str] = {}
    for line in mutmut(workdir, "results", "--all", "true").stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and (not globs or any(fnmatch.fnmatch(name, g) for g in globs)):
            statuses[name] = status
    counts = {k: sum(1 for s in statuses.values() if s == k) for k in STATUS_KEYS}
    survivors = []
    unkilled = [n for n, st in sorted(statuses.items()) if st in UNKILLED]
    diff_of = diffs(workdir, module, unkilled)
    for name in unkilled:
        status, diff = statuses[name], diff_of[name].strip()
        removed, added = changed_lines(diff)
        function = function_of(name)
        survivors.append({
            "mutant": name, "status": status, "function": function,
            "line": locate(source, function, removed), "diff": diff,
            "explanation": explain(module, function, removed, added, explanations),
        })
    return {
        "tests": tests,
        "functions": functions or "all",
        "killed": counts["killed"],
        "survived": counts["survived"],
        "total": len(statuses),
        "other": {k: v for k, v in counts.items() if k not in ("killed", "survived") and v},
        "survived_unexplained": sum(1 for s in survivors if s["status"] == "survived" and not s["explanation"]),
        "seconds": seconds,
        "survivors": survivors,
    }


SUMMARY_KEYS = ("commit", "measured_at", "functions", "killed", "survived", "total", "other")


def before_of(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """The first measurement on record for a module (kept across reruns); a first run is its own before."""
    if previous and "before" in previous:
        return previous["before"]
    source = previous if previous and "error" not in previous else current
    return {k: source.get(k) for k in SUMMARY_KEYS if k in source}


def write_report(out: Path, report: dict[str, Any], mutmut_version: str) -> None:
    report.update(tool=f"mutmut {mutmut_version}",
                  note="per module: its fast unit tests on SQLite; survivors list location, diff and, for "
                       "equivalent mutants, the explanation from benchmarks/mutation_explanations.yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", action="append", choices=sorted(MODULES), help="only this module (repeatable)")
    ap.add_argument("--worktree", action="store_true", help="measure uncommitted changes too")
    ap.add_argument("--commit", default="HEAD", help="measure this commit (default HEAD)")
    ap.add_argument("--output", type=Path, default=RESULT, help=f"report file (default {RESULT.relative_to(ROOT)})")
    ap.add_argument("--function", action="append", metavar="GLOB",
                    help="only mutants of functions matching this glob (repeatable)")
    ap.add_argument("--survivors", action="store_true",
                    help="rerun only the last run's unkilled (or unreached) mutants, with the tests as they are now "
                         "(the module itself must be unchanged)")
    ap.add_argument("--collect", action="store_true",
                    help="run nothing: report the module's last (possibly interrupted) run as it stands; mutants "
                         "it did not reach count as 'not checked'")
    ap.add_argument("--tests", action="append", metavar="GLOB",
                    help="only these unit tests (globs; repeatable) instead of the module's own: a quick run "
                         "(the report lists the tests used)")
    ap.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    args = ap.parse_args()
    TEST_OVERRIDE.extend(args.tests or [])
    explanations = load_explanations()
    modules = args.module or [m for m in MODULES if (ROOT / m).exists()]
    out: Path = args.output
    report: dict[str, Any] = json.loads(out.read_text()) if out.exists() and args.module else {}
    report.setdefault("modules", {})
    dirty = bool(git("status", "--porcelain", "--", *modules)) if args.worktree else False
    mutmut_version = subprocess.run([sys.executable, "-m", "pip", "show", "mutmut"], capture_output=True,
                                    text=True).stdout
    version = re.search(r"^Version: (.+)$", mutmut_version, re.MULTILINE)
    for module in modules:
        print(f"[mutation] {module} ...", flush=True)
        # the commit the copy is made from, read before the run: HEAD may move while it runs
        measured = git("rev-parse", "HEAD" if args.worktree else args.commit)
        result = run_module(module, args.worktree, args.commit, args.jobs, explanations, args.function,
                            args.survivors, args.collect)
        # with --survivors the mutants (and the module) are those of the last full run; the tests are new
        made_from = WORK / module.replace("/", "_").removesuffix(".py") / COMMIT_FILE
        kept = (args.survivors or args.collect) and made_from.exists()
        result.update(commit=made_from.read_text().strip() if kept else measured,
                      tests_commit=measured, dirty=dirty, measured_at=datetime.now(UTC).isoformat(timespec="seconds"))
        result["before"] = before_of(report["modules"].get(module), result)
        report["modules"][module] = result
        write_report(out, report, version.group(1) if version else "?")
        if "error" in result:
            print(f"[mutation] {module}: {result['error']}\n{result['output_tail']}", flush=True)
        else:
            print(f"[mutation] {module}: {result['killed']} killed, {result['survived']} survived of "
                  f"{result['total']} ({result['survived_unexplained']} unexplained) in {result['seconds']} s",
                  flush=True)
    print(f"[mutation] wrote {out}")
    return 1 if any("error" in r for r in report["modules"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
