"""One set of table checks for every table, wherever it was found (a CSV, a sheet, a notebook output).

A table is checked for personal data, record-level shape, disclosure control and spreadsheet
formulas; tables printed into text also for being the printed head() of records, and the tables of
one file against each other (the same table with and without one category).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from egress_review import records, sdc, texttables
from egress_review.extract import read_table
from egress_review.findings import FileResult, Finding, Verdict
from policies.schema import EgressPolicy

FORMULA = r"^[=+\-@]\s*[A-Za-z_(]"


def formulas(df: pl.DataFrame) -> list[Finding]:
    """Cells a spreadsheet would run as formulas (`=HYPERLINK(...)`, `@SUM(...)`): harmless here, not on a laptop."""
    out = []
    for col in df.columns:
        if df[col].dtype != pl.Utf8:
            continue
        for row in df[col].str.contains(FORMULA).fill_null(False).arg_true().to_list()[:20]:
            out.append(Finding("active-content", Verdict.REVIEW, "cell starts with a spreadsheet formula",
                               rule="spreadsheet-formula", location={"row": row + 1, "column": col}))
    return out


def check_table(df: pl.DataFrame, policy: EgressPolicy) -> list[Finding]:
    """The checks a table file gets (personal data is added by the caller's pii_in_table)."""
    return [*records.row_level(df, policy), *sdc.disclosure_control(df, policy.sdc), *formulas(df)]


def _placed(findings: list[Finding], where: dict[str, Any]) -> list[Finding]:
    for f in findings:
        f.location = {**where, **f.location}
    return findings


def check_text_tables(data: bytes, ftype: str, policy: EgressPolicy) -> list[Finding]:
    """Tables printed into text files, notebooks and HTML, read back and checked like a CSV."""
    from egress_review.checks import pii_in_table  # personal data is another module's; imported late to avoid a cycle

    found = texttables.find_tables(data, ftype)
    out: list[Finding] = []
    for t in found:
        where = {**t.location, "table_kind": t.kind}
        out += _placed([*check_table(t.df, policy), *records.printed_head(t.df, t.index), *pii_in_table(t.df)], where)
    out += sdc.differences([(t.df, {**t.location, "table_kind": t.kind}) for t in found], policy.sdc)
    if ftype == "svg":
        out += sdc.counts_in_chart(texttables.svg_texts(data), policy.sdc)
    return out


def tables_of(result: FileResult) -> list[tuple[pl.DataFrame, dict[str, Any]]]:
    """The tables of a checked file, read from the form that is stored and released."""
    data, ftype = result.rebuilt, result.type or ""
    if data is None:
        return []
    if ftype in ("csv", "tsv", "parquet", "xlsx"):
        df = read_table(data, ftype)
        return [] if df is None else [(df, {"file": result.path})]
    return [(t.df, {"file": result.path, **t.location}) for t in texttables.find_tables(data, ftype)]


def across_files(results: list[FileResult], policy: EgressPolicy) -> None:
    """The same table with and without one category in two files of one request: the later file gets the
    finding (naming the other), so a reviewer sees the pair that together disclose a small count."""
    found = [(df, loc) for r in results for df, loc in tables_of(r)]
    by_path = {r.path: r for r in results}
    for f in sdc.differences(found, policy.sdc):
        other = f.location.get("other_table", {}).get("file")
        here = f.location.pop("file", None)
        if here and other and here != other and here in by_path:
            f.detail += f" (the other table is in {other})"
            by_path[here].findings.append(f)
