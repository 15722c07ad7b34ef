"""Export checks on one large mixed CSV: our scanner, plain presidio and a bare vectorised pass, same run.

The file (default 25 MB) has identifier columns and a free-text column of realistic variety: notes
assembled per row from many clinical fragments, numbers and dates, so few cells repeat. A few
percent of cells carry planted personal data of known kinds. Nothing planted comes from our own
code: resident IDs, phones, e-mails and SSNs are Faker's (its zh_CN `ssn()` computes the check digit
itself), person names are Faker's zh_CN / en_US / pinyin (`romanized_name`) names written into the
notes with no cue word before them ("邓伟因胸痛入院", "Xiulan Deng was seen", "Jonathan Simpson
reports…"), and UnionPay numbers get a Luhn digit computed here. Hard negatives sit beside them:
hospitals, departments, drugs, eponymous diseases, masked numbers, dates, ICD codes.

Three scanners, each in its own process (peak memory is its max RSS):
- ours: what `enclave egress scan FILE` runs, end to end: `scan_path` (reading the file, rebuilding it,
  every check) and `across_files`, then the result as the CLI prints it (`to_dict`), with the limits that
  stop a scan lifted (size, rows, findings per kind, CPU seconds); the imports are timed apart;
- plain presidio: `BatchAnalyzerEngine.analyze_dict` with presidio's predefined recognisers and a
  blank spaCy pipeline (its NER models cannot be installed offline), on the columns a user would give
  it: every column that can hold an identifier or free text (not the row key or the measurements).
  It is far too slow for the whole file, so it reads a random sample of rows (`--presidio-rows`) and
  its throughput is the sample's CSV bytes over its time; ours is scored on the same rows for recall;
- bare: polars reads the file and runs one regex per identifier kind over those columns, the
  practical limit of any scanner that reads every cell.
Recall is the share of planted cells a scanner flags, per kind; false positives are flags on cells
with nothing planted. Each figure has wall seconds and CPU seconds (all threads): on a shared machine
the CPU ratios are the steadier ones. Results (with the commit measured): benchmarks/results/egress_scan.json.
Usage: python benchmarks/egress_scan.py [--mb 25] [--presidio-rows 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write  # noqa: E402

ROW_BYTES = 190
PLANT = 0.02
TEXT_COLUMNS = ["resident_id", "mobile", "card", "email", "ssn", "note"]
SYMPTOMS_EN = ["chest pain", "shortness of breath", "fever and cough", "abdominal pain", "dizziness", "fatigue",
               "palpitations", "headache", "back pain", "swollen ankles", "blurred vision", "weight loss"]
SYMPTOMS_ZH = ["胸痛", "气促", "发热咳嗽", "腹痛", "头晕", "乏力", "心悸", "头痛", "腰痛", "双下肢水肿", "视物模糊"]
PLACES = ["北京协和医院", "华西医院心内科", "Mayo Clinic", "St Thomas' Hospital", "瑞金医院内分泌科",
          "the outpatient clinic", "急诊科", "Royal Infirmary"]
DRUGS = ["metformin 500 mg bd", "二甲双胍 0.5g tid", "atorvastatin 20 mg", "阿司匹林 100mg qd", "insulin glargine",
         "amlodipine 5 mg", "氯吡格雷 75mg", "ramipril 2.5 mg"]
FINDINGS = ["HbA1c {a:.1f}%", "BP {s}/{d} mmHg", "eGFR {e} mL/min", "血糖 {g:.1f} mmol/L", "LDL {l:.1f} mmol/L",
            "BMI {b:.1f}", "ICD-10 E11.{i}", "随访 {w} 周"]
TAILS = ["Parkinson's disease excluded.", "No sign of Crohn's disease.", "Follow-up 2023-0{m}-1{i}.",
         "masked 138****{x:04d}.", "病情稳定，建议三个月后复查。", "Discharged home, no complications.",
         "Referred to dietitian.", "Alzheimer screen negative.", "随访电话 010-****-{x:04d}。"]


def luhn_unionpay(rng: np.random.Generator) -> str:
    digits = [6, 2, 2, 2, 0, 2] + [int(x) for x in rng.integers(0, 10, 12)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the 19th digit completes the Luhn sum
        total += sum(divmod(d * 2, 10)) if i % 2 == 0 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def note(rng: np.random.Generator) -> str:
    """A clinical note with few repeats: fragments, numbers, a place and a drug, in either language."""
    parts = []
    if rng.random() < 0.5:
        parts.append(f"Presented with {SYMPTOMS_EN[rng.integers(len(SYMPTOMS_EN))]} for {rng.integers(1, 30)} days")
    else:
        parts.append(f"{SYMPTOMS_ZH[rng.integers(len(SYMPTOMS_ZH))]}{rng.integers(1, 30)}天")
    parts.append(f"seen at {PLACES[rng.integers(len(PLACES))]}")
    parts.append(DRUGS[rng.integers(len(DRUGS))])
    parts.append(FINDINGS[rng.integers(len(FINDINGS))].format(
        a=rng.normal(7, 1), s=rng.integers(100, 180), d=rng.integers(60, 110), e=rng.integers(20, 120),
        g=rng.normal(6, 1.5), l=rng.normal(3, 0.8), b=rng.normal(25, 4), i=rng.integers(0, 9), w=rng.integers(1, 52)))
    parts.append(TAILS[rng.integers(len(TAILS))].format(m=rng.integers(1, 9), i=rng.integers(0, 9),
                                                        x=rng.integers(0, 9999)))
    return "; ".join(parts)


def with_name(text: str, kind: str, name: str) -> str:
    """A person's name with no cue word (no 患者/姓名/Mr/Patient) in front of it."""
    if kind == "zh":
        return f"{name}因{text}"
    return f"{name} {'was seen' if kind == 'pinyin' else 'reports'}: {text}"


def make_file(path: Path, mb: int, seed: int = 7) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)
    n = mb * 1024 * 1024 // ROW_BYTES
    planted: dict[str, list[int]] = {}

    def plant(col: str, make) -> list[str]:  # noqa: ANN001
        rows = np.flatnonzero(rng.random(n) < PLANT)
        planted[col] = rows.tolist()
        values = [""] * n
        for r in rows:
            values[r] = make()
        return values

    notes = [note(rng) for _ in range(n)]
    for kind, make in (("zh", zh.name), ("pinyin", zh.romanized_name),
                       ("en", lambda: f"{en.first_name()} {en.last_name()}")):
        rows = np.flatnonzero(rng.random(n) < PLANT / 3)
        planted[f"note:{kind}_name"] = rows.tolist()
        for r in rows:
            notes[r] = with_name(notes[r], kind, make())
    df = pl.DataFrame({
        "row": np.arange(n),
        "region": rng.choice(["east", "west", "north", "south"], n),
        "age": rng.integers(18, 95, n),
        "hba1c": np.round(rng.normal(7, 1, n), 1),
        "resident_id": plant("resident_id", zh.ssn),
        "mobile": plant("mobile", zh.phone_number),
        "card": plant("card", lambda: luhn_unionpay(rng)),
        "email": plant("email", en.email),
        "ssn": plant("ssn", en.ssn),
        "note": notes,
    })
    df.write_csv(path)
    return planted


CHILD = r"""
import json, re, resource, sys, time
sys.path.insert(0, {root!r})
import polars as pl
which, path, columns = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
hits = set()
size = len(open(path, "rb").read())
extra = {{}}
t0, c0 = time.perf_counter(), time.process_time()
if which == "ours":
    from pathlib import Path
    from egress_review.scan import scan_path
    from egress_review.tables import across_files
    from policies import load_policies
    extra["import_seconds"] = time.perf_counter() - t0
    # the limits that stop a scan (size, rows, findings per kind, CPU seconds) lifted: the whole file is read
    policy = load_policies(Path({root!r}) / "policies").egress.model_copy(update={{"max_file_bytes": 10**12,
        "row_cap": 10**9, "max_findings_per_kind": 10**9, "max_check_seconds": 10.0**6}})
    t0, c0 = time.perf_counter(), time.process_time()
    res = scan_path(Path(path), policy)  # what `enclave egress scan` runs for each file, then for all of them:
    across_files([res], policy)
    printed = json.dumps(res.to_dict(), default=str)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = pl.read_csv(path, columns=["row"])["row"].to_list()
    for f in res.findings:
        loc = f.location
        if f.check == "personal-data" and "row" in loc and "column" in loc:
            hits.add((rows[loc["row"] - 1], loc["column"]))
elif which == "bare":
    KINDS = [r"\d{{17}}[\dXx]", r"1[3-9]\d{{9}}", r"62\d{{14,17}}", r"[\w.+-]+@[\w-]+\.[\w.]+",
             r"\d{{3}}-\d{{2}}-\d{{4}}", r"[A-Z][a-z]+ [A-Z][a-z]+", r"[\u4e00-\u9fff]{{2,3}}因"]
    df = pl.read_csv(path, infer_schema_length=0)
    for col in columns:
        s = df[col].fill_null("")
        for rx in KINDS:
            for r in df["row"].filter(s.str.contains(rx)).to_list():
                hits.add((int(r), col))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
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
    df = pl.read_csv(path, infer_schema_length=0)
    rows = df["row"].to_list()
    t0, c0 = time.perf_counter(), time.process_time()
    cols = {{c: df[c].fill_null("").to_list() for c in columns}}
    for res in batch.analyze_dict(cols, language="en"):
        for i, found in enumerate(res.recognizer_results):
            if found:
                hits.add((int(rows[i]), res.key))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "bytes": size, "mb_per_s": size / 1e6 / seconds,
                  "mb_per_cpu_s": size / 1e6 / cpu, **extra,
                  "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "hits": sorted([list(h) for h in hits])}}))
"""


def run(which: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), which, str(path),
                          json.dumps(TEXT_COLUMNS)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout)


def score(hits: set[tuple[int, str]], planted: dict[str, list[int]], rows: set[int] | None) -> dict:
    """Recall per planted kind and false-positive cells, over `rows` (None: the whole file)."""
    per, truth = {}, set()
    for kind, rs in planted.items():
        col = kind.split(":")[0]
        want = {(r, col) for r in rs if rows is None or r in rows}
        truth |= want
        per[kind] = {"planted": len(want), "found": len(want & hits),
                     "recall": round(len(want & hits) / len(want), 4) if want else None}
    considered = {h for h in hits if rows is None or h[0] in rows}
    return {"recall": round(len(truth & considered) / len(truth), 4) if truth else None,
            "false_positive_cells": len(considered - truth), "per_kind": per}


def _figures(res: dict) -> dict:
    return {k: round(v, 4) for k, v in res.items() if k != "hits"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=25)
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
        results = {}
        for which, target in (("ours", path), ("bare", path), ("presidio", sample)):
            results[which] = run(which, target)
            print(f"{which}: {results[which]['mb_per_s']:.4f} MB/s, {results[which]['mb_per_cpu_s']:.4f} MB/CPU-s",
                  flush=True)
    hits = {k: {(r, c) for r, c in v["hits"]} for k, v in results.items()}
    ours_s, pres_s = score(hits["ours"], planted, sample_rows), score(hits["presidio"], planted, sample_rows)
    behind = sorted(k for k, v in pres_s["per_kind"].items()
                    if v["recall"] is not None and (ours_s["per_kind"][k]["recall"] or 0) < v["recall"])
    result = {
        "file_mb": round(results["ours"]["bytes"] / 1e6, 1), "rows": df.height, "planted_share": PLANT,
        "presidio_sample_rows": len(sample_rows), "text_columns": TEXT_COLUMNS,
        "ours": {**_figures(results["ours"]), "whole_file": score(hits["ours"], planted, None),
                 "on_presidio_sample": ours_s},
        "presidio_plain": {**_figures(results["presidio"]),
                           "config": "BatchAnalyzerEngine.analyze_dict on the text columns, predefined recognizers, "
                                     "blank spaCy (no NER model can be installed offline); a row sample",
                           "on_sample": pres_s},
        "bare_vectorised": {**_figures(results["bare"]), "config": "polars read_csv + one str.contains regex per "
                            "identifier kind per text column", "whole_file": score(hits["bare"], planted, None)},
        "throughput_ratio_ours_over_presidio": round(results["ours"]["mb_per_s"] / results["presidio"]["mb_per_s"],
                                                     1),
        "throughput_share_of_bare_pass": round(results["ours"]["mb_per_s"] / results["bare"]["mb_per_s"], 3),
        "cpu_ratio_ours_over_presidio": round(results["ours"]["mb_per_cpu_s"] / results["presidio"]["mb_per_cpu_s"],
                                              1),
        "cpu_share_of_bare_pass": round(results["ours"]["mb_per_cpu_s"] / results["bare"]["mb_per_cpu_s"], 3),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "kinds_where_presidio_recall_is_higher": behind,
    }
    write("egress_scan", result)


if __name__ == "__main__":
    main()
