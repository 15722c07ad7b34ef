"""The membership-inference test: only for pickles the static check passed, only a number accepted back.

The container is replaced by a fake `docker` on PATH that records its arguments and answers as a
hostile pickle would (echoing data, reporting a made-up score, hanging).
"""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path
from unittest import mock

import pytest

from egress_review import membership, workflow
from egress_review.findings import Finding, Verdict
from egress_review.views import requester_findings
from enclave.db import session_scope
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
ROWS = 20
TRAIN = ("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(ROWS))).encode()
HOLDOUT = ("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(ROWS + 5))).encode()
NAMED = {"training_data": "out/train.csv", "holdout_data": "out/holdout.csv", "target": "y",
         "data": {"training_data": TRAIN, "holdout_data": HOLDOUT}}
SECRET = "110105194912310021-SECRET-ECHO"


class Hostile:
    def __reduce__(self):  # unpickling it would run a shell command
        return (os.system, (f"echo {SECRET}",))


HOSTILE = pickle.dumps(Hostile())
HARMLESS = pickle.dumps({"coef": [0.5, 0.25]})  # builds no class at all: the static check does not block it

FAKE_DOCKER = r"""#!/usr/bin/env python3
import json, os, sys, time
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
if sys.argv[1] == "rm":
    sys.exit(0)
sys.stdin.read()
mode = os.environ["FAKE_DOCKER_MODE"]
if mode == "hang":
    time.sleep(60)
sys.stderr.write("Traceback: %s\n" % os.environ["FAKE_SECRET"])
print({
    "extra-key": json.dumps({"auc": 0.51, "rows": 20, "note": os.environ["FAKE_SECRET"]}),
    "string-auc": json.dumps({"auc": "0.51", "rows": 20}),
    "out-of-range": json.dumps({"auc": 7.0, "rows": 20}),
    "wrong-rows": json.dumps({"auc": 0.51, "rows": 11}),
    "echo": os.environ["FAKE_SECRET"],
    "error": json.dumps({"error": os.environ["FAKE_SECRET"]}),
    "flood": "x" * 200000 + "\n" + json.dumps({"auc": 0.51, "rows": 20}),
    "valid": json.dumps({"auc": 0.8125, "rows": 20}),
}[mode])
sys.exit(3 if mode == "fail" else 0)
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` that records every call in the returned log file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "docker"
    exe.write_text(FAKE_DOCKER)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_SECRET", SECRET)
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def submit(store: Path, data: bytes) -> dict:
    with session_scope() as s:
        req = workflow.submit(s, "alice", "study", [("model.pkl", data)], "a model", store, POLICY, model=NAMED)
        return req.files[0].scan


def test_a_pickle_the_static_check_blocked_never_reaches_the_container(two_projects: Path):
    with mock.patch.object(membership, "run_attack") as run:
        scan = submit(two_projects, HOSTILE)
    run.assert_not_called()
    assert any(f["rule"] == "pickle-globals" and f["verdict"] == "block" for f in scan["findings"])
    mia = [f for f in scan["findings"] if f["rule"].startswith("membership-inference")]
    assert [f["detail"] for f in mia] == ["membership-inference test: not run: the static check blocked this "
                                          "pickle, so it is never loaded"]


def test_a_pickle_that_passed_the_static_check_is_tested_with_the_row_count_computed_here(two_projects: Path):
    with mock.patch.object(membership, "run_attack", return_value=membership.AttackResult(auc=0.7, rows=ROWS)) as run:
        scan = submit(two_projects, HARMLESS)
    run.assert_called_once_with(HARMLESS, TRAIN, HOLDOUT, "y", ROWS)
    mia = next(f for f in scan["findings"] if f["rule"].startswith("membership-inference"))
    assert mia["verdict"] == "block" and mia["location"] == {"score": 0.7}


@pytest.mark.parametrize("mode", ["extra-key", "string-auc", "out-of-range", "wrong-rows", "echo", "error", "flood",
                                  "fail"])
def test_container_output_that_is_not_exactly_the_schema_never_becomes_finding_text(
        fake_docker: Path, monkeypatch: pytest.MonkeyPatch, mode: str):
    monkeypatch.setenv("FAKE_DOCKER_MODE", mode)
    found = membership.findings(HARMLESS, NAMED, 0.6, [])
    assert [(f.verdict, f.detail) for f in found] == [
        (Verdict.REVIEW, "membership-inference test: the test did not produce a valid result")]
    shown = json.dumps([f.to_dict() for f in found]) + json.dumps(requester_findings([f.to_dict() for f in found]))
    assert "SECRET" not in shown and "0.51" not in shown and "Traceback" not in shown


def test_a_valid_result_is_the_score(fake_docker: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_DOCKER_MODE", "valid")
    [f] = membership.findings(HARMLESS, NAMED, 0.6, [])
    assert f.verdict == Verdict.BLOCK and f.location == {"score": 0.8125}
    assert f.detail.startswith("worst-case membership-inference AUC 0.812 on 20 member and 20 held-out rows")


def test_the_container_runs_hardened_with_nothing_mounted(fake_docker: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_DOCKER_MODE", "valid")
    membership.findings(HARMLESS, NAMED, 0.6, [])
    run, rm = calls(fake_docker)
    flags = " ".join(run)
    for wanted in ("--network none", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges:true",
                   "--user 1000:1000", "--cpus 1", "--memory 2g", "--memory-swap 2g", "--pids-limit 256",
                   "--log-driver none", "--ipc none"):
        assert wanted in flags, wanted
    assert not {"-v", "--volume", "--mount", "--privileged", "--security-opt=seccomp=unconfined"} & set(run)
    assert not any(a.startswith(("--volume", "--mount", "seccomp=unconfined")) for a in run)
    name = run[run.index("--name") + 1]
    assert rm == ["rm", "-f", name]  # removed by name even after a normal end


def test_a_timeout_removes_the_container_by_name(fake_docker: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_DOCKER_MODE", "hang")
    monkeypatch.setattr(membership, "TIMEOUT", 1)
    [f] = membership.findings(HARMLESS, NAMED, 0.6, [])
    assert f.detail == "membership-inference test: the test did not finish within 1 s"
    run, rm = calls(fake_docker)
    assert run[0] == "run" and rm == ["rm", "-f", run[run.index("--name") + 1]]


@pytest.mark.parametrize(("named", "message"), [
    ({**NAMED, "target": "nope"}, "the target column 'nope' is not in both the training and the held-out data"),
    ({**NAMED, "data": {"training_data": b"x,y\n1,0\n", "holdout_data": HOLDOUT}},
     "needs at least 10 training and 10 held-out rows, has 1"),
])
def test_data_unfit_for_the_test_is_said_before_any_container_starts(named: dict, message: str):
    with mock.patch.object(membership, "run_attack") as run:
        [f] = membership.findings(HARMLESS, named, 0.6, [])
    run.assert_not_called()
    assert f.verdict == Verdict.REVIEW and f.detail == f"membership-inference test: {message}"


def test_the_rule_reads_the_static_findings():
    review = Finding("model", Verdict.REVIEW, "pickled object", rule="binary-output")
    block = Finding("model", Verdict.BLOCK, "calls os.system", rule="pickle-globals")
    assert membership.can_test_model([review]) and not membership.can_test_model([review, block])
    with pytest.raises(membership.AttackFailed, match="static check blocked"):
        membership.check_can_test_model([block])


def _fitted(model):
    import numpy as np

    rng = np.random.default_rng(0)
    return model.fit(rng.normal(size=(40, 3)), [0, 1] * 20)


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_ordinary_models_pass_the_static_check_in_any_protocol_so_they_get_the_test(protocol: int):
    """Protocol 4+ names classes with memoised strings; read wrongly, every real model looked hostile."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from egress_review.checks import pickle_model

    for model in (LogisticRegression(), DecisionTreeClassifier(min_samples_leaf=10),
                  GradientBoostingClassifier(min_samples_leaf=5, n_estimators=3)):
        static = pickle_model(pickle.dumps(_fitted(model), protocol=protocol))
        assert membership.can_test_model(static), (model, [f.detail for f in static])
    leafy = pickle_model(pickle.dumps(_fitted(DecisionTreeClassifier(min_samples_leaf=1)), protocol=protocol))
    assert [f.rule for f in leafy if f.verdict == Verdict.BLOCK] == ["min_samples_leaf>=5"]


@pytest.mark.parametrize(("name", "data"), [
    ("INST opcode", b"(S'echo hi'\nios\nsystem\n."),
    ("extension registry", b"\x80\x02\x82\x05)R."),
    # os.system, with two harmless-looking strings pushed after it and popped again
    ("strings popped before STACK_GLOBAL", b"\x80\x04\x8c\x02os\x8c\x06system\x8c\x07sklearn\x8c\x01x00\x93."),
])
def test_hostile_pickles_are_blocked_however_they_name_the_callable(name: str, data: bytes):
    from egress_review.checks import pickle_model

    static = pickle_model(data)
    assert not membership.can_test_model(static), (name, [f.detail for f in static])


@pytest.mark.parametrize(("leaf", "blocked"), [(1, True), (4, True), (5, False), (8, False)])
def test_a_random_forest_is_judged_by_the_leaves_its_trees_were_grown_with(leaf: int, blocked: bool):
    """A fitted forest also pickles its unfitted template tree (min_samples_leaf=1): that default is not its setting."""
    from sklearn.ensemble import RandomForestClassifier

    from egress_review.checks import pickle_model

    for n_trees in (1, 3):
        model = _fitted(RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=leaf, random_state=0))
        static = pickle_model(pickle.dumps(model))
        rules_blocked = [f.rule for f in static if f.verdict == Verdict.BLOCK]
        assert (rules_blocked == ["min_samples_leaf>=5"]) is blocked, (leaf, n_trees, rules_blocked)
        assert membership.can_test_model(static) is not blocked


def test_trees_grown_with_small_leaves_block_even_if_the_forest_claims_a_large_setting():
    """Editing the forest's attribute after fitting does not change the trees it holds."""
    from sklearn.ensemble import RandomForestClassifier

    from egress_review.checks import pickle_model

    for n_trees in (1, 3):
        model = _fitted(RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=1, random_state=0))
        model.min_samples_leaf = 20
        static = pickle_model(pickle.dumps(model))
        assert "min_samples_leaf>=5" in [f.rule for f in static if f.verdict == Verdict.BLOCK], n_trees
