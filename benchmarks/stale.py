"""Which results in benchmarks/results/ measured code that has changed since: rerun those.

A figure is only worth comparing while the code it measured is the code in the tree. Every result file
records the commit it measured (benchmarks/report.py); DEPENDS below says, in this one place, which
source paths each benchmark measures. A result is stale when `git diff --quiet <commit> HEAD -- <paths>`
finds a difference, when it measured a tree with uncommitted changes (what it measured is then no
commit at all), or when it records no commit one can check. Mutation results record a commit per module
(and the commit of the tests they ran), so each module is judged on its own module and tests.

Files named `<benchmark>_before_<rev>.json` are earlier measurements kept on purpose, beside the current
one, to show what a change did: they must record their commit too, but they are not meant to be rerun.

benchmarks/report.py is not among any benchmark's paths: it records provenance and summarises samples,
it is not the code a benchmark measures (and a change to it would otherwise mark every result stale).

Usage: python benchmarks/stale.py [--results DIR]   (exit 1 when any result is stale, 0 when none is)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_STARTS = ("benchmarks/starts.py", "hub/", "enclave/containers.py", "enclave/workspaces.py",
           "enclave/workspace_fs.py", "enclave/modes.py", "enclave/settings.py", "enclave_demo/harness.py",
           "enclave_demo/runner.py", "images/workspace/", "policies/workspace.yaml")
_EGRESS_CHECKS = ("egress_review/", "enclave/pii/", "policies/egress.yaml")

# benchmark (the results file's name) -> the source paths whose change makes its figures out of date
DEPENDS: dict[str, tuple[str, ...]] = {
    "spawn_time": ("benchmarks/spawn_time.py", *_STARTS),
    "load": ("benchmarks/load.py", *_STARTS, *_EGRESS_CHECKS, "enclave/webpages.py", "enclave/db.py",
             "enclave/models.py", "enclave/audit.py"),
    "jobs": ("benchmarks/jobs.py", "jobs/", *_EGRESS_CHECKS, "enclave/containers.py", "enclave/workspace_fs.py",
             "enclave/settings.py", "datasets_mount/mounts.py", "images/workspace/"),
    "governance_load": ("benchmarks/governance_load.py", "governance/", "enclave/webpages.py", "enclave/db.py",
                        "enclave/models.py", "enclave/i18n.py", "policies/governance.yaml"),
    "ingest": ("benchmarks/ingest.py", "datasets_mount/", "enclave/pii/", "enclave/audit.py",
               "enclave/checksums.py", "policies/datasets.yaml"),
    "code_recorder": ("benchmarks/code_recorder.py", "images/workspace/enclave_record.py",
                      "images/workspace/ipython_config.py"),
    "egress_scan": ("benchmarks/egress_scan.py", *_EGRESS_CHECKS),
    "egress_text_scan": ("benchmarks/egress_text_scan.py", *_EGRESS_CHECKS),
    "mutation": (),  # per module: the module and its tests, as each module's entry records them
}
ARCHIVED = re.compile(r"^(?P<benchmark>.+)_before_[0-9a-f]{7,40}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


class ResultError(ValueError):
    """A results file that cannot be checked: no benchmark declared for it, or no commit recorded."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.label, self.reason = label, reason


@dataclass(frozen=True)
class Measurement:
    """One thing a results file measured: which commit (and whether the tree differed) of which paths."""

    label: str
    checks: tuple[tuple[str, tuple[str, ...]], ...]  # (commit, paths) pairs: mutation's tests have their own
    dirty: bool
    archived: bool


@dataclass(frozen=True)
class Verdict:
    label: str
    stale: bool
    reason: str


def benchmark_of(path: Path, depends: dict[str, tuple[str, ...]]) -> tuple[str, bool]:
    """The benchmark a results file belongs to, and whether it is an archived earlier measurement."""
    m = ARCHIVED.match(path.stem)
    name = m.group("benchmark") if m else path.stem
    if name not in depends:
        raise ResultError(path.name, f"no benchmark `{name}` in DEPENDS (benchmarks/stale.py): "
                                      "declare the paths it measures")
    return name, m is not None


def _commit(entry: dict[str, Any], key: str, where: str) -> str:
    commit = entry.get(key)
    if not isinstance(commit, str) or not COMMIT.match(commit):
        raise ResultError(where, f"records no commit (`{key}`: {commit!r})")
    return commit


def measurements(path: Path, depends: dict[str, tuple[str, ...]] = DEPENDS) -> list[Measurement]:
    """What a results file says it measured; ResultError when it does not say which commit."""
    name, archived = benchmark_of(path, depends)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultError(path.name, f"not readable as JSON ({exc})") from exc
    if name != "mutation":
        dirty = bool(data.get("uncommitted_changes", False))
        return [Measurement(path.name, ((_commit(data, "commit", path.name), depends[name]),), dirty, archived)]
    out = []
    for module, entry in sorted(data.get("modules", {}).items()):
        where = f"{path.name} [{module}]"
        commit = _commit(entry, "commit", where)
        tests_commit = _commit(entry, "tests_commit", where) if "tests_commit" in entry else commit
        checks = ((commit, (module,)), (tests_commit, tuple(entry.get("tests", ()))))
        out.append(Measurement(where, checks, bool(entry.get("dirty", False)), archived))
    if not out:
        raise ResultError(path.name, "no modules, so no commit recorded")
    return out


def changed(root: Path, commit: str, paths: tuple[str, ...]) -> bool | None:
    """True when any of `paths` differs between `commit` and HEAD; None when git does not know the commit."""
    if not paths:
        return False
    r = subprocess.run(["git", "-C", str(root), "diff", "--quiet", commit, "HEAD", "--", *paths],
                       capture_output=True, text=True)
    return {0: False, 1: True}.get(r.returncode)


def judge(root: Path, m: Measurement) -> Verdict:
    if m.archived:
        return Verdict(m.label, False, "archived earlier measurement (kept for comparison, not rerun)")
    if m.dirty:
        return Verdict(m.label, True, "measured a tree with uncommitted changes: no commit to compare")
    for commit, paths in m.checks:
        diff = changed(root, commit, paths)
        if diff is None:
            return Verdict(m.label, True, f"commit {commit[:7]} is not in this repository")
        if diff:
            names = subprocess.run(["git", "-C", str(root), "diff", "--name-only", commit, "HEAD", "--", *paths],
                                   capture_output=True, text=True).stdout.split()
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            return Verdict(m.label, True, f"changed since {commit[:7]}: {shown}")
    return Verdict(m.label, False, f"up to date (measured {m.checks[0][0][:7]})")


def check(root: Path, results: Path, depends: dict[str, tuple[str, ...]] = DEPENDS) -> list[Verdict]:
    """A verdict for every measurement of every results file (a file that cannot be checked is stale)."""
    verdicts = []
    for path in sorted(results.glob("*.json")):
        try:
            verdicts += [judge(root, m) for m in measurements(path, depends)]
        except ResultError as exc:
            verdicts.append(Verdict(exc.label, True, exc.reason))
    return verdicts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="List the benchmark results whose measured code has changed.")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    verdicts = check(ROOT, args.results, DEPENDS)
    for v in verdicts:
        print(f"{'STALE' if v.stale else 'ok   '}  {v.label}: {v.reason}")
    stale = [v for v in verdicts if v.stale]
    print(f"{len(stale)} of {len(verdicts)} results stale" + (": rerun them" if stale else ""))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
