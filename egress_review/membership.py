"""Worst-case membership-inference test for an exported model, run in a throw-away container.

Unpickling runs code, so the model is never loaded by the service. It is loaded only here, inside a
container from the workspace image (which has scikit-learn), and only for a pickle the static check
(`checks.pickle_model`) did not block: it builds nothing but scikit-learn, NumPy and SciPy classes.
The container has the workspaces' hardening and more: no network, no mounts (the model and the
named training and held-out data come on stdin), every capability dropped, no-new-privileges, a
read-only root, the default seccomp profile, the researchers' uid, a CPU, memory and process limit,
no logs kept, and a timeout that removes it by name.

What comes back is trusted for nothing but two numbers: one JSON line that must match `AttackResult`
exactly (an AUC in [0, 1] and the row count the service computed itself). Anything else is "no valid
result"; the container's own text never reaches a finding, a requester or a reviewer.

The attack is the worst case in the SACRO-ML sense: an attacker who knows which rows were members
trains a classifier on the model's output probabilities; its cross-validated AUC is the score (0.5 =
no leak).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import subprocess
import threading
import uuid
from typing import IO, Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egress_review.findings import Finding, Verdict
from enclave.settings import INSTANCE_LABEL, ROLE_LABEL, WORKSPACE_GID, WORKSPACE_UID, get_settings

TIMEOUT = 300  # seconds, then the container is removed
CPUS = "1"
MEMORY = "2g"
PIDS = "256"
MIN_ROWS = 10
MAX_OUTPUT = 4096  # bytes of the container's stdout kept; the rest is read and dropped

ATTACK = r"""
import base64, io, json, pickle, sys
import numpy as np, polars as pl
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
req = json.loads(sys.stdin.read())
model = pickle.loads(base64.b64decode(req["model"]))
def load(key):
    return pl.read_csv(io.BytesIO(base64.b64decode(req[key])))
train, hold, target, n = load("train"), load("holdout"), req["target"], req["rows"]
train, hold = train.sample(n, seed=0), hold.sample(n, seed=0)
classes = list(model.classes_)
def features(df):
    X, y = df.drop(target).to_numpy(), df[target].to_list()
    p = model.predict_proba(X)
    idx = np.array([classes.index(v) if v in classes else -1 for v in y])
    true_p = np.where(idx >= 0, p[np.arange(len(y)), np.maximum(idx, 0)], 0.0)
    return np.column_stack([-np.sort(-p, axis=1), true_p])
F = np.vstack([features(train), features(hold)])
L = np.array([1] * n + [0] * n)
attack = RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=0)
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
score = cross_val_predict(attack, F, L, cv=cv, method="predict_proba")[:, 1]
print(json.dumps({"auc": float(roc_auc_score(L, score)), "rows": n}))
"""


class AttackFailed(Exception):
    """The test gave no usable score; the message is ours, never the container's."""


class AttackResult(BaseModel):
    """The only thing accepted from the container: exactly these keys, these types, these bounds."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    auc: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    rows: int = Field(ge=MIN_ROWS)


def can_test_model(static: list[Finding]) -> bool:
    """Only a pickle the static check did not block is ever unpickled, even in a container."""
    return not any(f.verdict == Verdict.BLOCK for f in static)


def check_can_test_model(static: list[Finding]) -> None:
    if not can_test_model(static):
        raise AttackFailed("not run: the static check blocked this pickle, so it is never loaded")


def attack_rows(train: bytes, holdout: bytes, target: str) -> int:
    """Rows per side, computed here from the data (read as CSV, nothing run): the container must agree."""
    try:
        frames = [pl.read_csv(io.BytesIO(data)) for data in (train, holdout)]
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise AttackFailed("the training or held-out data cannot be read as CSV") from exc
    if any(target not in df.columns for df in frames):
        raise AttackFailed(f"the target column '{target}' is not in both the training and the held-out data")
    n = min(df.height for df in frames)
    if n < MIN_ROWS:
        raise AttackFailed(f"needs at least {MIN_ROWS} training and {MIN_ROWS} held-out rows, has {n}")
    return n


def docker_argv(docker_exe: str, name: str, image: str) -> list[str]:
    """The workspaces' hardening (hub/spawner.py) plus CPU and memory limits, no mounts, no logs kept."""
    settings = get_settings()
    return [docker_exe, "run", "--rm", "-i", "--name", name, "--network", "none", "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "--user", f"{WORKSPACE_UID}:{WORKSPACE_GID}",
            "--cpus", CPUS, "--memory", MEMORY, "--memory-swap", MEMORY, "--pids-limit", PIDS, "--ipc", "none",
            "--init", "--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=256m", "--log-driver", "none", "--no-healthcheck",
            "--label", f"{ROLE_LABEL}=mia", "--label", f"{INSTANCE_LABEL}={settings.instance}",
            "--workdir", "/tmp", "--entrypoint", "python3", image, "-I", "-c", ATTACK]


def _exchange(proc: subprocess.Popen[bytes], payload: bytes, timeout: float) -> bytes:
    """Feeds stdin and keeps the first MAX_OUTPUT bytes of stdout: a flood cannot fill the service's memory."""
    assert proc.stdin is not None and proc.stdout is not None
    kept = bytearray()

    def feed(stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError):
            stream.write(payload)
            stream.close()

    def drain(stream: IO[bytes]) -> None:
        while block := stream.read(65536):
            kept.extend(block[:max(0, MAX_OUTPUT - len(kept))])

    threads = [threading.Thread(target=feed, args=(proc.stdin,), daemon=True),
               threading.Thread(target=drain, args=(proc.stdout,), daemon=True)]
    for t in threads:
        t.start()
    proc.wait(timeout)
    for t in threads:
        t.join(5)
    return bytes(kept)


def _remove(docker_exe: str, name: str) -> None:
    """`docker rm -f` by name: killing the `docker run` client alone leaves the container running."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([docker_exe, "rm", "-f", name], capture_output=True, timeout=60, check=False)


def parse_result(output: bytes, rows: int) -> AttackResult:
    """The last line of output as `AttackResult`, for the row count asked for; anything else fails."""
    lines = output.strip().splitlines()
    try:
        result = AttackResult.model_validate_json(lines[-1] if lines else b"")
    except ValidationError:
        raise AttackFailed("the test did not produce a valid result") from None
    if result.rows != rows:
        raise AttackFailed("the test did not produce a valid result")
    return result


def run_attack(model: bytes, train: bytes, holdout: bytes, target: str, rows: int,
               image: str | None = None) -> AttackResult:
    docker_exe = shutil.which("docker")
    if docker_exe is None:
        raise AttackFailed("the docker command is not available")
    name = f"{get_settings().instance}-mia-{uuid.uuid4().hex[:12]}"
    payload = json.dumps({"model": _b64(model), "train": _b64(train), "holdout": _b64(holdout), "target": target,
                          "rows": rows}).encode()
    proc = subprocess.Popen(docker_argv(docker_exe, name, image or get_settings().image), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        output = _exchange(proc, payload, TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AttackFailed(f"the test did not finish within {TIMEOUT} s") from None
    finally:
        _remove(docker_exe, name)
        proc.kill()
        proc.wait()
    if proc.returncode != 0:
        raise AttackFailed("the test did not produce a valid result")
    return parse_result(output, rows)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def findings(model: bytes, named: dict[str, Any], max_auc: float, static: list[Finding]) -> list[Finding]:
    """The test's finding for a pickle, given the static check's findings for it (`static`)."""
    data = named.get("data", {})
    rule = f"membership-inference AUC<{max_auc}"
    if "training_data" not in data or "holdout_data" not in data or not named.get("target"):
        return [Finding("model", Verdict.REVIEW, "membership-inference test needs training data, held-out data "
                        "and the target column", rule=rule)]
    try:
        check_can_test_model(static)
        rows = attack_rows(data["training_data"], data["holdout_data"], str(named["target"]))
        r = run_attack(model, data["training_data"], data["holdout_data"], str(named["target"]), rows)
    except OSError:
        return [Finding("model", Verdict.REVIEW, "membership-inference test could not be started", rule=rule)]
    except AttackFailed as exc:
        verdict = Verdict.REVIEW if can_test_model(static) else Verdict.BLOCK
        return [Finding("model", verdict, f"membership-inference test: {exc}", rule=rule)]
    verdict = Verdict.BLOCK if r.auc >= max_auc else Verdict.REVIEW
    return [Finding("model", verdict, f"worst-case membership-inference AUC {r.auc:.3f} on {r.rows} member "
                    f"and {r.rows} held-out rows (training data {named['training_data']}, held-out "
                    f"{named.get('holdout_data')})", rule=rule, location={"score": round(r.auc, 4)})]
