"""The automated checks; each returns findings, never a bare yes/no, and names the rule it applied."""

from __future__ import annotations

import pickletools
import re
from collections.abc import Iterable

import polars as pl

from egress_review.extract import Segment, decoded_blobs
from egress_review.findings import Finding, Verdict
from enclave.pii import find_all
from enclave.pii.columns import PREFILTER
from policies.schema import DisclosureControl, EgressPolicy

# Identifiers that single a person out on their own block; softer ones (names, addresses, dates of
# birth found by label) need a human to look.
BLOCKING = {"CN_RESIDENT_ID", "CN_PHONE", "BANK_CARD", "US_SSN", "EMAIL", "CN_PASSPORT", "CN_TRAVEL_PERMIT",
            "MEDICAL_RECORD_NO"}
COUNT_COLUMN = re.compile(r"^(n|count|counts|freq|frequency|num|number|cases|patients|people|人数|例数|频数|计数)$"
                          r"|(_n|_count|_cases)$", re.IGNORECASE)
ID_COLUMN = re.compile(r"(patient|person|subject|study|record|case)_?id$|^id$|^mrn$|身份证|病案号|住院号",
                       re.IGNORECASE)
STORING_MODELS = ("sklearn.svm", "sklearn.neighbors")
TREE_MODELS = ("sklearn.tree", "sklearn.ensemble._forest", "sklearn.ensemble._gb", "sklearn.ensemble._iforest")


def pii_in_segments(segments: Iterable[Segment]) -> list[Finding]:
    out: list[Finding] = []
    for seg in segments:
        for s in (seg, *decoded_blobs(seg)):
            for m in find_all(s.text):
                verdict = Verdict.BLOCK if m.entity in BLOCKING else Verdict.REVIEW
                out.append(Finding("personal-data", verdict, f"{m.entity} {m.masked}", entity=m.entity,
                                   location={**s.location, "offset": m.start}))
    return out


def pii_in_table(df: pl.DataFrame) -> list[Finding]:
    out: list[Finding] = []
    for col in df.columns:
        s = df[col]
        if s.dtype not in (pl.Utf8,) and not s.dtype.is_integer():
            continue
        text = s.cast(pl.Utf8)
        hits = text.str.contains(PREFILTER).fill_null(False) | text.str.contains(r"[\u4e00-\u9fff]").fill_null(False)
        for row in hits.arg_true().to_list():
            for m in find_all(str(text[row])):
                verdict = Verdict.BLOCK if m.entity in BLOCKING else Verdict.REVIEW
                out.append(Finding("personal-data", verdict, f"{m.entity} {m.masked}", entity=m.entity,
                                   location={"row": row + 1, "column": col}))
    return out


def _count_columns(df: pl.DataFrame) -> list[str]:
    return [c for c in df.columns if df[c].dtype.is_integer() and COUNT_COLUMN.search(c)]


def disclosure_control(df: pl.DataFrame, sdc: DisclosureControl) -> list[Finding]:
    out: list[Finding] = []
    for col in _count_columns(df):
        values = df[col]
        for row, v in enumerate(values.to_list(), start=1):
            if v is None:
                continue
            loc = {"row": row, "column": col}
            if v == 0:
                if sdc.zeros_disclosive:
                    out.append(Finding("disclosure-control", Verdict.BLOCK, "zero count: class disclosure",
                                       rule="zeros", location=loc))
            elif sdc.mode == "threshold" and v < sdc.threshold:
                out.append(Finding("disclosure-control", Verdict.BLOCK, f"count {v} below threshold {sdc.threshold}",
                                   rule=f"threshold>={sdc.threshold}", location=loc))
            elif sdc.mode == "opensafely":
                if v <= sdc.redact_at_or_below:
                    out.append(Finding("disclosure-control", Verdict.BLOCK,
                                       f"count {v} must be redacted (<= {sdc.redact_at_or_below})",
                                       rule=f"redact<={sdc.redact_at_or_below}", location=loc))
                elif v % sdc.rounding_base:
                    out.append(Finding("disclosure-control", Verdict.BLOCK,
                                       f"count {v} is not rounded to {sdc.rounding_base}",
                                       rule=f"round-to-{sdc.rounding_base}", location=loc))
    cols = {c.lower(): c for c in df.columns}
    total, top1, top2 = (cols.get(n) for n in ("total", "top1", "top2"))
    if total and top1:
        for row, r in enumerate(df.select([c for c in (total, top1, top2) if c]).iter_rows(), start=1):
            t, a = r[0], r[1]
            b = r[2] if top2 else 0
            if t is None or a is None or t <= 0:
                continue
            loc = {"row": row, "column": total}
            if min(x for x in (t, a, b or 0)) < 0:
                out.append(Finding("disclosure-control", Verdict.REVIEW, "negative values: dominance unreliable",
                                   rule="dominance", location=loc))
                continue
            if sdc.dominance_n <= 2 and (a + (b or 0)) / t >= sdc.dominance_k:
                out.append(Finding("disclosure-control", Verdict.BLOCK,
                                   f"top {sdc.dominance_n} contributors make {(a + (b or 0)) / t:.0%} of the total",
                                   rule=f"dominance n={sdc.dominance_n} k={sdc.dominance_k}", location=loc))
            if a > 0 and (t - a - (b or 0)) / a < sdc.p_percent:
                out.append(Finding("disclosure-control", Verdict.BLOCK, "the second-largest contributor could "
                                   f"estimate the largest within {sdc.p_percent:.0%}",
                                   rule=f"p%={sdc.p_percent}", location=loc))
    return out


RESIDUAL_DF = re.compile(r"(?:Df Residuals|df_resid|residual (?:degrees of freedom|df)|残差自由度)\s*[:=]?\s*(\d+)",
                         re.IGNORECASE)


def residual_df(segments: Iterable[Segment], sdc: DisclosureControl) -> list[Finding]:
    out = []
    for seg in segments:
        for m in RESIDUAL_DF.finditer(seg.text):
            if int(m.group(1)) < sdc.min_residual_df:
                out.append(Finding("disclosure-control", Verdict.BLOCK,
                                   f"regression has {m.group(1)} residual degrees of freedom",
                                   rule=f"residual_df>={sdc.min_residual_df}", location=seg.location))
    return out


def row_level(df: pl.DataFrame, policy: EgressPolicy) -> list[Finding]:
    out = []
    if df.height > policy.row_cap:
        out.append(Finding("row-level", Verdict.BLOCK, f"{df.height} rows: more than the cap of {policy.row_cap} "
                           "looks like a row-level extract", rule=f"row_cap={policy.row_cap}"))
    for col in df.columns:
        unique = df[col].n_unique()
        if ID_COLUMN.search(col) or (df[col].dtype == pl.Utf8 and df.height >= 20 and unique >= 0.95 * df.height):
            out.append(Finding("row-level", Verdict.BLOCK, f"column '{col}' identifies records ({unique} distinct "
                               f"values in {df.height} rows)", rule="identifying-column", location={"column": col}))
    return out


def pickle_model(data: bytes) -> list[Finding]:
    """Read a pickle's opcodes without running it: which classes it would build."""
    classes: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name == "GLOBAL":
                classes.append(str(arg).replace(" ", "."))
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                strings.append(str(arg))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                classes.append(f"{strings[-2]}.{strings[-1]}")
    except Exception as exc:  # a malformed pickle is as unreadable as any binary
        return [Finding("model", Verdict.BLOCK, f"pickle cannot be parsed: {exc}", rule="binary-output")]
    out = [Finding("model", Verdict.BLOCK, "pickled object: not human-readable, never passes automatically "
                   f"(builds {', '.join(sorted(set(classes))[:8]) or 'no classes'})", rule="binary-output")]
    if any(c.startswith(STORING_MODELS) for c in classes):
        out.append(Finding("model", Verdict.BLOCK, "SVM / k-NN models store training rows", rule="stores-rows"))
    if any(c.startswith(TREE_MODELS) for c in classes):
        out.append(Finding("model", Verdict.REVIEW, "tree-based model: check min_samples_leaf >= 5 and run the "
                           "membership-inference test", rule="min_samples_leaf>=5"))
    return out
