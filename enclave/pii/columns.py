"""Which columns of a table hold direct identifiers: a vectorised polars pre-filter, then validation.

Polars' regex engine has no look-around, so a cheap pattern picks candidate cells in one pass; only
the distinct candidates go through the exact recognisers. Findings count rows, never show values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from enclave.pii.names import has_common_surname
from enclave.pii.recognizers import find_all

# Cells worth a closer look: long digit runs (IDs, phones, cards), e-mail, passport/permit shapes,
# labelled values, Chinese addresses and SSN shapes.
PREFILTER = (r"\d{11,19}|\d[\d\s-]{9,24}\d|@|[EGHM][A-Z]?\d{7,10}|\d{3}-\d{2}-\d{4}|0\d{2,3}-\d{7,8}"
             r"|[省市区县].{0,20}[路街道巷村]|(?i:street|road|avenue|lane|drive|mrn|dob|date of birth|patient id)"
             r"|病案号|住院号|门诊号|病历号|医保|就诊卡|患者|病人|姓名|家属|联系人|医生|医师|护士|出生|生日")

HEADER_HINTS: dict[str, str] = {
    r"身份证|id_?card|resident_?id|shenfenzheng|sfz": "CN_RESIDENT_ID",
    r"姓名|名字|^name$|full_?name|patient_?name|first_?name|last_?name|surname": "PERSON",
    r"电话|手机|phone|mobile|tel": "CN_PHONE",
    r"邮箱|e-?mail": "EMAIL",
    r"地址|住址|address|street": "ADDRESS",
    r"银行卡|卡号|bank_?card|card_?no": "BANK_CARD",
    r"病案号|住院号|门诊号|病历号|医保|mrn|medical_?record": "MEDICAL_RECORD_NO",
    r"护照|passport": "CN_PASSPORT",
    r"ssn|social_?security": "US_SSN",
}


@dataclass(frozen=True)
class ColumnFinding:
    column: str
    entity: str
    rows: int
    by: str  # "values" or "column name"

    def to_dict(self) -> dict[str, object]:
        return {"column": self.column, "entity": self.entity, "rows": self.rows, "by": self.by}


def _as_text(series: pl.Series) -> pl.Series | None:
    if series.dtype == pl.Utf8:
        return series
    if series.dtype.is_integer():
        return series.cast(pl.Utf8)
    return None


EN_NAME = r"^[A-Z][a-z]+(?: [A-Z]\.)?(?: (?:O'|Mc|Mac)?[A-Z][a-z'-]+){1,2}$"


def _en_name_rows(text: pl.Series) -> int:
    """Rows of a column that is mostly "Given Family" names: capitalised words with wide variety."""
    present = text.drop_nulls()
    if present.len() < 5:
        return 0
    shaped = present.filter(present.str.contains(EN_NAME))
    distinct = shaped.n_unique()
    if shaped.len() < 0.6 * present.len() or distinct < min(20, 0.3 * present.len()):
        return 0
    return shaped.len()


def _cn_name_rows(text: pl.Series) -> int:
    """Rows of a column that is mostly bare Chinese personal names (2-4 characters, a common surname)."""
    present = text.drop_nulls()
    if present.len() < 5:
        return 0
    shaped = present.filter(present.str.contains(r"^[\u4e00-\u9fff]{2,4}$"))
    if shaped.len() < 0.6 * present.len():
        return 0
    distinct = shaped.unique()
    named = distinct.filter(distinct.map_elements(has_common_surname, return_dtype=pl.Boolean))
    # names are many and varied; a handful of repeated words (城市, 科室) is a category, not names
    if named.len() < 0.6 * distinct.len() or distinct.len() < min(20, 0.3 * present.len()):
        return 0
    return int(shaped.is_in(named.implode()).sum())


def scan_column(name: str, series: pl.Series) -> list[ColumnFinding]:
    findings: list[ColumnFinding] = []
    text = _as_text(series)
    if text is not None:
        candidates = text.filter(text.str.contains(PREFILTER).fill_null(False))
        if len(candidates):
            counts = candidates.rename("value").value_counts(name="n")
            per_entity: dict[str, int] = {}
            for value, n in counts.iter_rows():
                for entity in {m.entity for m in find_all(str(value))}:
                    per_entity[entity] = per_entity.get(entity, 0) + int(n)
            findings += [ColumnFinding(name, e, n, "values") for e, n in sorted(per_entity.items())]
    if text is not None:
        for entity, count in (("PERSON_CN", _cn_name_rows), ("PERSON_EN", _en_name_rows)):
            n = 0 if any(f.entity == entity for f in findings) else count(text)
            if n:
                findings.append(ColumnFinding(name, entity, n, "values"))
    for pattern, entity in HEADER_HINTS.items():
        if re.search(pattern, name, re.IGNORECASE) and series.null_count() < len(series):
            if not any(f.entity.startswith(entity[:6]) for f in findings):
                findings.append(ColumnFinding(name, entity, len(series) - series.null_count(), "column name"))
            break
    return findings


def scan_frame(df: pl.DataFrame) -> list[ColumnFinding]:
    out: list[ColumnFinding] = []
    for name in df.columns:
        out += scan_column(name, df[name])
    return out
