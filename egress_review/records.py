"""Record-level data recognised by its shape, not by a column whose values are all different.

Aggregate tables are dense: their key columns (site, month, age band, year) combine into roughly every
combination once, next to counts or statistics, and are normal however many distinct values a key has.
Extracts of individual records are sparse: several attributes whose combinations are almost all
unique and far fewer than the possible combinations, dates of birth or of visits, identifiers, or
person-level measurements with no count beside them; a printed `head()` shows them with an index 0..4.
"""

from __future__ import annotations

import enum
import re

import polars as pl

from egress_review.findings import Finding, Verdict
from egress_review.sdc import STAT_NAME, name_says_count, name_tokens
from policies.schema import EgressPolicy

CHECK = "row-level"


class RecordRule(enum.StrEnum):
    """The rules of this module, as findings name them (parametrised ones, e.g. `threshold>=10`, are built)."""

    IDENTIFYING_COLUMN = "identifying-column"
    MASKED_IDENTIFIERS = "masked-identifiers"
    DATE_OF_BIRTH = "date-of-birth"
    RECORD_SHAPE = "record-shape"
    RECORD_DATES = "record-dates"
    RECORD_MEASUREMENTS = "record-measurements"
    PRINTED_RECORDS = "printed-records"
ID_COLUMN = re.compile(r"(patient|person|subject|study|record|case|participant|member|client|pat|hosp|admission|"
                       r"encounter|visit)[_\s.]?(id|no|number|num|key)$|^(id|pid|mrn|nhs_?number|nhs_?no|empi|"
                       r"chi_?number|uuid|patient_?name|full_?name|surname|forename)$|身份证|病案号|住院号|门诊号|就诊号|病历号|患者编号|"
                       r"患者id|病人id|医保卡?号|社保卡?号|^姓名$|患者姓名|病人姓名",
                       re.IGNORECASE)
DOB_COLUMN = re.compile(r"^(dob|d\.o\.b|birth_?date|date_?of_?birth|birthdate|birthday|birth_?dt|bday)$"
                        r"|出生日期|出生年月日|生日", re.IGNORECASE)
PERSON_ATTRIBUTE = re.compile(r"^(sex|gender|age|age_years|ethnicity|ethnic_group|race|diagnosis|dx|postcode|zip|"
                              r"zipcode|address|occupation|marital_status)$|性别|年龄|民族|诊断|住址|地址|职业|婚姻",
                              re.IGNORECASE)
FULL_DATE = r"^\s*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?|\d{4}年\d{1,2}月\d{1,2}日|" \
            r"\d{1,2}/\d{1,2}/\d{4})\s*$"
ID_VALUE = r"^\s*(?:[A-Za-z]{0,4}[-_]?\d{6,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-" \
           r"[0-9a-fA-F]{12}|[0-9a-fA-F]{20,})\s*$"
MIN_ROWS = 20


def _is_date(s: pl.Series) -> bool:
    if s.dtype in (pl.Date, pl.Datetime):
        return True
    if s.dtype != pl.Utf8:
        return False
    values = s.drop_nulls()
    return values.len() > 0 and bool(values.str.contains(FULL_DATE).mean() >= 0.9)


def _is_measure(name: str, s: pl.Series) -> bool:
    return s.dtype.is_float() or bool(STAT_NAME.search(name))


MASKED_VALUE = r"[*＊×xX#]{3,}"
MAX_VISIBLE_DIGITS = 10  # masking standards keep at most the region code (6) and the last four digits


def _all_masked(s: pl.Series) -> bool:
    """Every value masked: a run of mask characters and too few digits left to single anyone out."""
    text = s.cast(pl.Utf8, strict=False).drop_nulls()
    if text.len() == 0:
        return False
    masked = text.str.contains(MASKED_VALUE) & (text.str.count_matches(r"\d") <= MAX_VISIBLE_DIGITS)
    return bool(masked.all())


def identifying_columns(df: pl.DataFrame) -> list[Finding]:
    """Identifiers by name anywhere; by their values (codes with six or more digits, UUIDs) only in tables
    without counts, since an aggregate by hospital or practice code has codes of that shape too."""
    out = []
    aggregate = any(df[c].dtype.is_numeric() and name_says_count(c) for c in df.columns)
    for col in df.columns:
        s = df[col]
        by_name = bool(ID_COLUMN.search(col.strip()))
        by_value = False
        if not by_name and not aggregate and s.dtype == pl.Utf8 and df.height >= MIN_ROWS:
            head = s.head(2000).drop_nulls()  # cheap test on the first rows before the whole column is read
            by_value = (head.len() > 0 and bool(head.str.contains(ID_VALUE).mean() >= 0.9)
                        and s.n_unique() >= 0.95 * df.height
                        and bool(s.drop_nulls().str.contains(ID_VALUE).mean() >= 0.9))
        if by_name and _all_masked(s):
            if not aggregate:
                out.append(Finding(CHECK, Verdict.REVIEW, f"column '{col}' holds masked identifiers, one per row: "
                                   "a listing of individuals even with the identifiers masked?",
                                   rule=RecordRule.MASKED_IDENTIFIERS, location={"column": col}))
            continue  # beside counts, masked keys (110***********1234) say nothing more about anyone
        if by_name or by_value:
            unique = s.n_unique()
            how = "its name" if by_name else "its values look like record identifiers"
            out.append(Finding(CHECK, Verdict.BLOCK, f"column '{col}' identifies records ({how}; {unique} distinct "
                               f"values in {df.height} rows)", rule=RecordRule.IDENTIFYING_COLUMN,
                               location={"column": col}))
        elif DOB_COLUMN.search(col.strip()) and s.drop_nulls().len() > 0:
            out.append(Finding(CHECK, Verdict.BLOCK, f"column '{col}' holds dates of birth: individual records",
                               rule=RecordRule.DATE_OF_BIRTH, location={"column": col}))
    return out


def _unique_share(df: pl.DataFrame, keys: list[str], widest: str) -> float:
    """The share of rows whose combination of `keys` no other row has. A row whose value of `widest` (the key
    with the most distinct values) no other row has is such a row; only the rows sharing that value are
    compared on every key (hashing whole rows of long text is most of what this check costs)."""
    shared = df[widest].is_duplicated()
    alone = df.height - int(shared.sum())
    if alone == df.height:
        return 1.0 if df.height else 0.0
    return (alone + int(df.filter(shared).select(keys).is_unique().sum())) / df.height


def sparse_combinations(df: pl.DataFrame) -> list[Finding]:
    """Attributes whose combinations are nearly all unique and far fewer than possible: rows are people."""
    if df.height < MIN_ROWS:
        return []
    counted = [c for c in df.columns if df[c].dtype.is_numeric() and name_says_count(c)]
    measures = [c for c in df.columns if c not in counted and _is_measure(c, df[c])]
    keys = [c for c in df.columns if c not in counted and c not in measures and df[c].dtype != pl.Null
            and not df[c].dtype.is_nested()]
    dates = [c for c in keys if _is_date(df[c])]
    people = [c for c in df.columns if PERSON_ATTRIBUTE.search(c.strip())]
    out: list[Finding] = []
    if len(keys) >= 3:
        distinct = {k: df[k].n_unique() for k in keys}
        unique_rows = _unique_share(df, keys, max(keys, key=distinct.__getitem__))
        possible = 1.0
        for k in keys:
            possible *= max(1, distinct[k])
        dense = df.height / possible
        if unique_rows >= 0.8 and dense < 0.05 and (dates or not counted):
            verdict = Verdict.BLOCK if dates or people else Verdict.REVIEW
            out.append(Finding(CHECK, verdict, f"{df.height} rows whose combinations of {', '.join(keys[:6])} are "
                               f"{unique_rows:.0%} unique and cover {dense:.1%} of the possible ones: looks like "
                               "individual records", rule=RecordRule.RECORD_SHAPE))
            return out
    if dates and not counted and not any(STAT_NAME.search(c) for c in df.columns) and len(df.columns) >= 3 \
            and df.height >= 10:
        verdict = Verdict.BLOCK if people else Verdict.REVIEW
        out.append(Finding(CHECK, verdict, f"rows with event dates ({', '.join(dates[:3])}) and no counts or "
                           "statistics: looks like individual visits", rule=RecordRule.RECORD_DATES,
                           location={"column": dates[0]}))
        return out
    if df.height >= 50 and not counted and not any(STAT_NAME.search(c) for c in df.columns) and len(df.columns) >= 3:
        varied = [c for c in measures if df[c].dtype.is_float() and df[c].n_unique() >= 0.5 * df.height]
        if varied:
            out.append(Finding(CHECK, Verdict.REVIEW, f"{df.height} rows of person-level measurements "
                               f"({', '.join(varied[:3])}) with no counts or statistics",
                               rule=RecordRule.RECORD_MEASUREMENTS))
    return out


def printed_head(df: pl.DataFrame, index: list[str] | None) -> list[Finding]:
    """A frame printed with a plain integer index (`head()` 0..4, `sample()` any order) whose columns
    describe people: an identifier, a date of birth or of a visit, contact details, or two personal
    attributes (sex, exact age, diagnosis ...) with no statistic beside them."""
    if not index or len(index) < 2 or not all(v.strip().isdigit() for v in index):
        return []
    strong = [c for c in df.columns if ID_COLUMN.search(c.strip()) or DOB_COLUMN.search(c.strip()) or _is_date(df[c])
              or any(t in ("name", "phone", "tel", "mobile", "email", "address") for t in name_tokens(c))
              or re.search(r"姓名|电话|手机|住址|出生", c)]
    attributes = [c for c in df.columns if PERSON_ATTRIBUTE.search(c.strip())]
    statistics = [c for c in df.columns if name_says_count(c) or STAT_NAME.search(c)]
    if not strong and (len(attributes) < 2 or statistics):
        return []
    shown = list(dict.fromkeys(strong + attributes))[:4]  # a column may be both ('address', '住址'): named once
    return [Finding(CHECK, Verdict.BLOCK, f"printed frame with index {index[0]}..{index[-1]} and columns "
                    f"{', '.join(shown)}: individual records (head() or sample() of a frame)",
                    rule=RecordRule.PRINTED_RECORDS)]


def row_level(df: pl.DataFrame, policy: EgressPolicy) -> list[Finding]:
    out = []
    if df.height > policy.row_cap:
        out.append(Finding(CHECK, Verdict.BLOCK, f"{df.height} rows: more than the cap of {policy.row_cap} "
                           "looks like a row-level extract", rule=f"row_cap={policy.row_cap}"))
    out += identifying_columns(df)
    if df.height <= policy.row_cap:  # over the cap the table is blocked already: its shape adds nothing
        out += sparse_combinations(df)
    return out
