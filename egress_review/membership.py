"""Worst-case membership-inference test for an exported model, run in a throw-away container.

Unpickling runs code, so the model is never loaded here: a container from the workspace image
(which has scikit-learn) with no network, no mounts, no capabilities and a read-only root gets the
model and the named training and held-out data on stdin and prints one JSON line. The attack is the
worst case in the SACRO-ML sense: an attacker who knows which rows were members trains a classifier
on the model's output probabilities; its cross-validated AUC is the score (0.5 = no leak).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from typing import Any

from egress_review.findings import Finding, Verdict
from enclave.settings import get_settings

TIMEOUT = 300

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
train, hold, target = load("train"), load("holdout"), req["target"]
n = min(train.height, hold.height)
if n < 10:
    raise SystemExit(json.dumps({"error": f"need at least 10 training and 10 held-out rows, have {n}"}))
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
params = {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))}
print(json.dumps({"auc": float(roc_auc_score(L, score)), "rows": n,
                  "model": type(model).__module__ + "." + type(model).__name__, "params": params}))
"""


def run_attack(model: bytes, train: bytes, holdout: bytes, target: str, image: str | None = None) -> dict[str, Any]:
    docker_exe = shutil.which("docker")
    if docker_exe is None:
        raise RuntimeError("the docker command is not available")
    payload = json.dumps({"model": base64.b64encode(model).decode(), "train": base64.b64encode(train).decode(),
                          "holdout": base64.b64encode(holdout).decode(), "target": target})
    argv = [docker_exe, "run", "--rm", "-i", "--network", "none", "--read-only", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges:true", "--user", "1000:1000", "--memory", "2g",
            "--pids-limit", "256", "--tmpfs", "/tmp:rw,noexec,nosuid,size=256m", "--label", "org.enclave.role=mia",
            "--entrypoint", "python3", image or get_settings().image, "-c", ATTACK]
    proc = subprocess.run(argv, input=payload, capture_output=True, text=True, timeout=TIMEOUT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        detail = (lines[-1] if lines else proc.stderr.strip().splitlines()[-1:] or ["no output"])
        raise RuntimeError(f"the test did not complete: {detail if isinstance(detail, str) else detail[0]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def findings(model: bytes, named: dict[str, Any], max_auc: float) -> list[Finding]:
    data = named.get("data", {})
    rule = f"membership-inference AUC<{max_auc}"
    if "training_data" not in data or "holdout_data" not in data or not named.get("target"):
        return [Finding("model", Verdict.REVIEW, "membership-inference test needs training data, held-out data "
                        "and the target column", rule=rule)]
    try:
        r = run_attack(model, data["training_data"], data["holdout_data"], str(named["target"]))
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        return [Finding("model", Verdict.REVIEW, f"membership-inference test failed: {exc}", rule=rule)]
    verdict = Verdict.BLOCK if r["auc"] >= max_auc else Verdict.REVIEW
    leaf = r["params"].get("min_samples_leaf")
    return [Finding("model", verdict, f"worst-case membership-inference AUC {r['auc']:.3f} on {r['rows']} member "
                    f"and {r['rows']} held-out rows ({r['model']}, min_samples_leaf={leaf}; training data "
                    f"{named['training_data']}, held-out {named.get('holdout_data')})", rule=rule,
                    location={"score": round(r["auc"], 4)})]
