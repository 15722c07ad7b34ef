"""Export checks on one large mixed CSV (default >= 50 MB): plain presidio vs our scanner, same run.

The file has a few percent of cells with planted identifiers of known kinds (Chinese resident IDs
with valid check digits, CN mobiles, 19-digit UnionPay cards, e-mails, US SSNs, English and Chinese
names in a free-text column), plus hard negatives (masked phones, dates, statistics, 18-digit
numbers that fail validation). Recall is the share of planted cells a scanner flags; false
positives are flags on cells with nothing planted.

- Ours: `egress_review.scan.scan_bytes` on the whole file (vectorised polars filter, our
  recognisers, presidio only for free-text cells), with the file-size limit lifted.
- Plain presidio: `BatchAnalyzerEngine.analyze_dict` with presidio's predefined recognisers and a
  blank spaCy pipeline (the usual NER model cannot be downloaded here, so presidio finds no names
  and runs faster than with it). It is far too slow for the whole file, so by default it reads a
  random sample of rows (`--presidio-rows`, default 3,000) and its throughput is that of the
  sample; ours is also scored on the same sample rows for recall. `--presidio-rows 0` runs it on
  everything (hours).

Each scanner runs in its own process; peak memory is its max RSS. Results: benchmarks/results/egress_scan.json.
Usage: python benchmarks/egress_scan.py [--mb 50] [--presidio-rows 3000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from enclave.pii.validators import resident_id_check_char  # noqa: E402

ROW_BYTES = 88
PLANT = 0.02
NOTES = ["Follow-up in 3 months, condition stable.", "Discharged home, no complications.",
         "Mean HbA1c 7.2 (SD 1.1) at review; study visit 2023-01-15.", "Referred to dietitian; masked 138****5678.",
         "Lab batch 110105194912310021 processed.", "病情稳定，建议三个月后复查。"]
FIRST = ["John", "Mary", "James", "Sarah", "Robert", "Emma"]
LAST = ["Smith", "Brown", "Taylor", "Wilson", "Evans", "Walker"]
CN_NAMES = ["王小明", "李建国", "张伟", "刘芳", "陈静"]


def resident_id(rng: np.random.Generator) -> str:
    year, month, day = rng.integers(1950, 2005), rng.integers(1, 13), rng.integers(1, 29)
    body = f"110105{year}{month:02d}{day:02d}{rng.integers(0, 999):03d}"
    return body + resident_id_check_char(body)


def unionpay(rng: np.random.Generator) -> str:
    digits = [6, 2, 2, 2, 0, 2] + [int(x) for x in rng.integers(0, 10, 12)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # Luhn check digit for the 19th position
        total += sum(divmod(d * 2, 10)) if i % 2 == 0 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def make_file(path: Path, mb: int, seed: int = 7) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    n = mb * 1024 * 1024 // ROW_BYTES
    planted: dict[str, list[int]] = {}

    def plant(col: str, make, blank: str = "") -> list[str]:  # noqa: ANN001
        rows = np.flatnonzero(rng.random(n) < PLANT)
        planted[col] = rows.tolist()
        values = [blank] * n
        for r in rows:
            values[r] = make()
        return values

    notes = [NOTES[i] for i in rng.integers(0, len(NOTES), n)]
    for r in (rows := np.flatnonzero(rng.random(n) < PLANT)):
        notes[r] = (f"Patient {FIRST[r % 6]} {LAST[(r // 6) % 6]} seen; " if r % 2 else
                    f"患者：{CN_NAMES[r % 5]}，") + notes[r]
    planted["note"] = rows.tolist()
    df = pl.DataFrame({
        "row": np.arange(n),
        "region": rng.choice(["east", "west", "north", "south"], n),
        "age": rng.integers(18, 95, n),
        "hba1c": np.round(rng.normal(7, 1, n), 1),
        "resident_id": plant("resident_id", lambda: resident_id(rng)),
        "mobile": plant("mobile", lambda: f"1{rng.choice([38, 39, 58, 86])}{rng.integers(10_000_000, 99_999_999)}",
                        "138****5678"),
        "card": plant("card", lambda: unionpay(rng)),
        "email": plant("email", lambda: f"user{rng.integers(1, 10**6)}@example.org"),
        "ssn": plant("ssn", lambda: f"{rng.integers(100, 665)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}"),
        "note": notes,
    })
    df.write_csv(path)
    return planted


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import polars as pl
which, path, sample_path = sys.argv[1], sys.argv[2], sys.argv[3]
hits = set()
t0 = time.perf_counter()
if which == "ours":
    from egress_review.scan import scan_bytes
    from policies import load_policies
    from pathlib import Path
    policy = load_policies(Path({root!r}) / "policies").egress.model_copy(update={{"max_file_bytes": 10**12,
                                                                                 "row_cap": 10**9}})
    data = open(path, "rb").read()
    t0 = time.perf_counter()
    res = scan_bytes("big.csv", data, policy)
    nbytes = len(data)
    for f in res.findings:
        loc = f.location
        if f.check == "personal-data" and "row" in loc:
            hits.add((loc["row"] - 1, loc["column"]))
else:
    from enclave.pii.engine import offline_tldextract
    offline_tldextract()
    import spacy
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine, NerModelConfiguration
    class Blank(SpacyNlpEngine):
        def load(self):
            self.nlp = {{"en": spacy.blank("en")}}
    nlp = Blank(models=[{{"lang_code": "en", "model_name": "blank"}}], ner_model_configuration=NerModelConfiguration())
    nlp.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    batch = BatchAnalyzerEngine(AnalyzerEngine(nlp_engine=nlp, registry=registry))
    df = pl.read_csv(sample_path, infer_schema_length=0)
    nbytes = len(open(sample_path, "rb").read())
    rows = df["row"].to_list()
    t0 = time.perf_counter()
    cols = {{c: df[c].fill_null("").to_list() for c in df.columns}}
    for res in batch.analyze_dict(cols, language="en"):
        for i, found in enumerate(res.recognizer_results):
            if found:
                hits.add((int(rows[i]), res.key))
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "bytes": nbytes, "mb_per_s": nbytes / 1e6 / seconds,
                  "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "hits": sorted([list(h) for h in hits])}}))
"""


def run(which: str, path: Path, sample: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), which, str(path), str(sample)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout)


def score(hits: set[tuple[int, str]], planted: dict[str, list[int]], rows: set[int] | None) -> dict:
    per = {}
    truth = set()
    for col, rs in planted.items():
        want = {(r, col) for r in rs if rows is None or r in rows}
        truth |= want
        per[col] = {"planted": len(want), "found": len(want & hits),
                    "recall": round(len(want & hits) / len(want), 4) if want else None}
    considered = {h for h in hits if rows is None or h[0] in rows}
    total = len(truth)
    return {"recall": round(len(truth & considered) / total, 4) if total else None,
            "false_positive_cells": len(considered - truth), "per_column": per}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--presidio-rows", type=int, default=3000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, sample = Path(tmp) / "big.csv", Path(tmp) / "sample.csv"
        t = time.perf_counter()
        planted = make_file(path, a.mb)
        print(f"made {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.1f}s", flush=True)
        df = pl.read_csv(path, infer_schema_length=0)
        sample_df = df if a.presidio_rows == 0 else df.sample(min(a.presidio_rows, df.height), seed=1)
        sample_df.write_csv(sample)
        sample_rows = {int(r) for r in sample_df["row"].to_list()}
        ours = run("ours", path, sample)
        print(f"ours: {ours['mb_per_s']:.2f} MB/s", flush=True)
        presidio = run("presidio", path, sample)
        print(f"presidio: {presidio['mb_per_s']:.4f} MB/s", flush=True)
    ours_hits = {(r, c) for r, c in ours.pop("hits")}
    pres_hits = {(r, c) for r, c in presidio.pop("hits")}
    result = {
        "file_mb": round(ours["bytes"] / 1e6, 1),
        "rows": df.height, "planted_share": PLANT,
        "presidio_sample_rows": len(sample_rows),
        "ours": {**{k: round(v, 3) for k, v in ours.items()}, "whole_file": score(ours_hits, planted, None),
                 "on_presidio_sample": score(ours_hits, planted, sample_rows)},
        "presidio_plain": {**{k: round(v, 4) for k, v in presidio.items()},
                           "config": "BatchAnalyzerEngine.analyze_dict, predefined recognizers, blank spaCy (no NER "
                                     "model available offline)",
                           "on_sample": score(pres_hits, planted, sample_rows)},
        "throughput_ratio_ours_over_presidio": round(ours["mb_per_s"] / presidio["mb_per_s"], 1),
    }
    out = ROOT / "benchmarks" / "results" / "egress_scan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
