"""benchmarks/stale.py: every result says which commit it measured, and a result whose measured code changed
since is flagged (and one whose code did not change is not)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import stale

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
DEPENDS = {"fast": ("src/fast.py",), "slow": ("src/slow.py",), "mutation": ()}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two measured modules, each benchmark's result recording the first commit."""
    git(tmp_path, "init", "-q")
    (tmp_path / "src").mkdir()
    for name in ("fast", "slow"):
        (tmp_path / "src" / f"{name}.py").write_text(f"{name.upper()} = 1\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    first = git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "results").mkdir()
    for name in ("fast", "slow"):
        (tmp_path / "results" / f"{name}.json").write_text(json.dumps({"commit": first, "uncommitted_changes": False}))
    return tmp_path


def verdicts(repo: Path) -> dict[str, bool]:
    return {v.label: v.stale for v in stale.check(repo, repo / "results", DEPENDS)}


def commit_change(repo: Path, path: str) -> None:
    (repo / path).write_text("CHANGED = 2\n")
    git(repo, "commit", "-qam", f"change {path}")


def test_every_results_file_records_the_commit_it_measured() -> None:
    files = sorted(RESULTS.glob("*.json"))
    assert files
    for path in files:
        found = stale.measurements(path)  # raises ResultError when a file records no commit
        assert found, path.name
        for m in found:
            assert all(stale.COMMIT.match(commit) for commit, _ in m.checks), m.label


def test_every_live_benchmark_declares_the_paths_it_measures() -> None:
    for path in RESULTS.glob("*.json"):
        name, archived = stale.benchmark_of(path, stale.DEPENDS)
        if name != "mutation" and not archived:
            assert f"benchmarks/{name}.py" in stale.DEPENDS[name], name  # its own workload is measured too
            assert all((stale.ROOT / p).exists() for p in stale.DEPENDS[name]), name


def test_a_result_whose_measured_paths_changed_is_stale_and_the_other_is_not(repo: Path) -> None:
    assert verdicts(repo) == {"fast.json": False, "slow.json": False}
    commit_change(repo, "src/slow.py")
    assert verdicts(repo) == {"fast.json": False, "slow.json": True}
    assert stale.changed(repo, git(repo, "rev-parse", "HEAD~1"), ("src/fast.py",)) is False


def test_a_change_outside_every_measured_path_leaves_results_up_to_date(repo: Path) -> None:
    (repo / "README").write_text("docs\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "docs")
    assert verdicts(repo) == {"fast.json": False, "slow.json": False}


def test_a_result_of_uncommitted_changes_or_no_commit_or_unknown_commit_is_stale(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "results" / "fast.json").write_text(json.dumps({"commit": first, "uncommitted_changes": True}))
    (repo / "results" / "slow.json").write_text(json.dumps({"measured_at": "2026-11-23T18:20:43"}))
    assert verdicts(repo) == {"fast.json": True, "slow.json": True}
    (repo / "results" / "slow.json").write_text(json.dumps({"commit": "0" * 40}))
    assert [v.reason for v in stale.check(repo, repo / "results", DEPENDS) if v.label == "slow.json"] == [
        "commit 0000000 is not in this repository"]


def test_a_result_of_an_undeclared_benchmark_is_stale(repo: Path) -> None:
    (repo / "results" / "new.json").write_text(json.dumps({"commit": git(repo, "rev-parse", "HEAD")}))
    assert verdicts(repo)["new.json"] is True


def test_an_archived_measurement_is_not_stale_but_must_record_its_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "results" / f"slow_before_{first[:7]}.json").write_text(json.dumps({"commit": first}))
    commit_change(repo, "src/slow.py")
    assert verdicts(repo)[f"slow_before_{first[:7]}.json"] is False
    (repo / "results" / "fast_before_1234567.json").write_text(json.dumps({}))
    with pytest.raises(stale.ResultError):
        stale.measurements(repo / "results" / "fast_before_1234567.json", DEPENDS)


def test_each_mutation_module_is_judged_on_its_own_module_and_tests(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_fast.py").write_text("def test(): pass\n")
    git(repo, "add", "tests")
    git(repo, "commit", "-qm", "tests")
    tests = git(repo, "rev-parse", "HEAD")
    (repo / "results" / "mutation.json").write_text(json.dumps({"modules": {
        "src/fast.py": {"commit": first, "tests_commit": tests, "tests": ["tests/test_fast.py"], "dirty": False},
        "src/slow.py": {"commit": first, "tests": [], "dirty": False}}}))
    commit_change(repo, "src/slow.py")
    assert verdicts(repo) == {"fast.json": False, "slow.json": True, "mutation.json [src/fast.py]": False,
                              "mutation.json [src/slow.py]": True}
    commit_change(repo, "tests/test_fast.py")
    assert verdicts(repo)["mutation.json [src/fast.py]"] is True


def test_the_command_exits_non_zero_only_when_a_result_is_stale(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(stale, "ROOT", repo)
    monkeypatch.setattr(stale, "DEPENDS", DEPENDS)
    assert stale.main(["--results", str(repo / "results")]) == 0
    commit_change(repo, "src/fast.py")
    assert stale.main(["--results", str(repo / "results")]) == 1
    assert "STALE  fast.json: changed since" in capsys.readouterr().out
