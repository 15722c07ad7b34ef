"""One set of table checks for every table, wherever it was found (a CSV, a sheet, a notebook output).

A table is checked for personal data, record-level shape, disclosure control and spreadsheet
formulas; tables printed into text also for being the printed head() of records, and the tables of
one file against each other (the same table with and without one category).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from egress_review import records, sdc, texttables
from egress_review.findings import Finding, Verdict
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
