"""The labelled evaluation set (tests/eval/corpus.py) through `scan_bytes`: every must-flag file is
flagged (review or block) and at least 95 % of the safe ones pass. Numbers per class are printed
(`pytest -s`) so a miss shows which kind of output it is."""

from __future__ import annotations

from collections import defaultdict

import pytest

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies
from tests.eval.corpus import MUST_FLAG, SAFE, EvalFile, corpus

POLICY = load_policies(REPO_ROOT / "policies").egress
SAFE_PASS = 0.95


@pytest.fixture(scope="module")
def outcomes() -> list[tuple[EvalFile, Verdict]]:
    results = [(f, scan_bytes(f.name, f.data, POLICY).verdict) for f in corpus()]
    per_class: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for f, verdict in results:
        right = verdict == Verdict.PASS if f.label == SAFE else verdict != Verdict.PASS
        per_class[(f.label, f.cls)][0] += right
        per_class[(f.label, f.cls)][1] += 1
    print("\nlabel      class                        right/files")
    for (label, cls), (right, n) in sorted(per_class.items()):
        print(f"{label:10} {cls:28} {right}/{n}")
    for f, verdict in results:
        if (verdict == Verdict.PASS) != (f.label == SAFE):
            print(f"wrong: {f.label} {f.cls} {f.name} -> {verdict.value}")
    return results


def _rate(results: list[tuple[EvalFile, Verdict]], label: str) -> tuple[float, int]:
    chosen = [v for f, v in results if f.label == label]
    right = sum((v == Verdict.PASS) if label == SAFE else (v != Verdict.PASS) for v in chosen)
    print(f"{label}: {right}/{len(chosen)} = {right / len(chosen):.3f}")
    return right / len(chosen), len(chosen)


def test_the_evaluation_set_is_large_bilingual_and_a_third_safe():
    files = corpus()
    assert len(files) >= 150
    assert sum(f.label == SAFE for f in files) >= len(files) / 3
    assert {f.lang for f in files} == {"en", "zh"} and {f.label for f in files} == {SAFE, MUST_FLAG}
    assert corpus() == files  # deterministic: the same seed gives the same bytes


def test_every_must_flag_file_is_flagged(outcomes):
    recall, _ = _rate(outcomes, MUST_FLAG)
    assert recall == 1.0


def test_safe_files_pass(outcomes):
    rate, _ = _rate(outcomes, SAFE)
    assert rate >= SAFE_PASS
