"""Which columns of a table hold direct identifiers: a vectorised polars pre-filter, then validation.

Polars' regex engine has no look-around, so a cheap pattern picks candidate cells in one pass; only
the distinct candidates go through the exact recognisers. Findings count rows, never show values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from enclave.pii.entities import Entity
from enclave.pii.names import has_common_surname
from enclave.pii.recognizers import Match, find_all
from enclave.pii.validators import PROVINCES, _valid_date

# Cells worth a closer look: long digit runs (IDs, phones, cards), e-mail, passport/permit shapes,
# labelled values, Chinese addresses and SSN shapes.
PREFILTER = (r"\d{11,19}|\d[\d\s-]{9,24}\d|@|[EGHM][A-Z]?\d{7,10}|\d{3}-\d{2}-\d{4}|0\d{2,3}-\d{7,8}"
             r"|[省市区县].{0,20}[路街道巷村]|(?i:street|road|avenue|lane|drive|mrn|dob|date of birth|patient id)"
             r"|病案号|住院号|门诊号|病历号|医保|就诊卡|患者|病人|姓名|家属|联系人|医生|医师|护士|出生|生日")

HEADER_HINTS: dict[str, Entity] = {
    r"身份证|id_?card|resident_?id|shenfenzheng|sfz": Entity.CN_RESIDENT_ID,
    r"姓名|名字|^name$|full_?name|patient_?name|first_?name|last_?name|surname": Entity.PERSON,
    r"电话|手机|phone|mobile|tel": Entity.CN_PHONE,
    r"邮箱|e-?mail": Entity.EMAIL,
    r"地址|住址|address|street": Entity.ADDRESS,
    r"银行卡|卡号|bank_?card|card_?no": Entity.BANK_CARD,
    r"社保|social_?security_?card": Entity.SOCIAL_SECURITY_NO,
    r"医保|medical_?insurance|insurance_?no": Entity.MEDICAL_INSURANCE_NO,
    r"病案号|住院号|门诊号|病历号|mrn|medical_?record|hospital_?(?:no|number)": Entity.MEDICAL_RECORD_NO,
    r"护照|passport": Entity.CN_PASSPORT,
    r"通行证|台胞证|回乡证|permit_?no": Entity.CN_TRAVEL_PERMIT,
    r"车牌|licen[cs]e_?plate|plate_?no": Entity.LICENCE_PLATE,
    r"微信|wechat|weixin|^qq|qq_?(?:no|number)|telegram|whatsapp": Entity.MESSAGING_HANDLE,
    r"nhs_?(?:no|number)": Entity.UK_NHS_NUMBER,
    r"ssn": Entity.US_SSN,
}


# A column labelled as a person's name (or as the patient): its values are personal data whatever they look like
# (a single given name, lower-case pinyin, initials), so it is read by its label, not its values.
PERSON_COLUMN = re.compile(r"^(?:names?|full[_ ]?name|patients?|patient[_ ]?name|first[_ ]?name|last[_ ]?name"
                           r"|given[_ ]?name|family[_ ]?name|surname|forename|interviewee|participant[_ ]?name"
                           r"|姓名|名字|患者|患者姓名|病人|病人姓名|受访者|姓|名)$", re.IGNORECASE)


def person_columns(df: pl.DataFrame) -> list[tuple[str, int]]:
    """(column, rows) for each column labelled as a person's name whose cells hold letters or characters."""
    out = []
    for name in df.columns:
        if df[name].dtype == pl.Utf8 and PERSON_COLUMN.match(name.strip()):
            rows = int(df[name].str.contains(r"\p{L}").fill_null(False).sum())
            if rows:
                out.append((name, rows))
    return out


@dataclass(frozen=True)
class ColumnFinding:
    column: str
    entity: Entity
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
            per_entity: dict[Entity, int] = {}
            for value, n in counts.iter_rows():
                for entity in {m.entity for m in find_all(str(value))}:
                    per_entity[entity] = per_entity.get(entity, 0) + int(n)
            findings += [ColumnFinding(name, e, n, "values") for e, n in sorted(per_entity.items())]
    if text is not None and not any(f.entity == Entity.PERSON for f in findings):
        n = _cn_name_rows(text) or _en_name_rows(text)
        if n:
            findings.append(ColumnFinding(name, Entity.PERSON, n, "values"))
    for pattern, entity in HEADER_HINTS.items():
        if re.search(pattern, name, re.IGNORECASE) and series.null_count() < len(series):
            if all(f.entity != entity for f in findings):
                findings.append(ColumnFinding(name, entity, len(series) - series.null_count(), "column name"))
            break
    return findings


def scan_frame(df: pl.DataFrame) -> list[ColumnFinding]:
    out: list[ColumnFinding] = []
    for name in df.columns:
        out += scan_column(name, df[name])
    return out


def _resident_id_shape(digits: str) -> bool:
    """Region and birth date of an 18-digit resident ID, for numbers whose check digit a float has lost."""
    return (len(digits) == 18 and digits.isdigit() and int(digits[:2]) in PROVINCES
            and _valid_date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14])))


FLOAT_RULE = "cn-resident-id-as-float"


def float_identifiers(text: str) -> list[Match]:
    """18-digit runs (floats written out) shaped like a resident ID: region and date, check digit unknown."""
    out = []
    for m in re.finditer(r"(?<!\d)\d{18}(?!\d)", text):
        if _resident_id_shape(m.group()):
            out.append(Match(Entity.CN_RESIDENT_ID, m.start(), m.end(), m.group(), 0.8, FLOAT_RULE))
    return out


def float_column_identifiers(series: pl.Series) -> list[tuple[int, Match]]:
    """Identifiers stored as floats: whole numbers read as integers (exact below 2**53), and resident IDs
    that lost their last digits (1.10105194912310e+17) by their region and birth date."""
    frame = pl.DataFrame({"v": series}).with_row_index("row").filter(
        pl.col("v").is_finite() & (pl.col("v") >= 1e6) & (pl.col("v") == pl.col("v").floor()))
    out: list[tuple[int, Match]] = []
    for value, rows in frame.group_by("v").agg(pl.col("row")).iter_rows():
        digits = f"{value:.0f}"
        found = find_all(digits) if value < 2 ** 53 else []
        if not found and _resident_id_shape(digits):
            found = [Match(Entity.CN_RESIDENT_ID, 0, 18, digits, 0.8, FLOAT_RULE)]
        out += [(row, m) for m in found for row in rows]
    return out


SPLIT_WHOLE = r"^(?:\d{17}[\dXx]|\d{15,19}|(?:\+?86)?1[3-9]\d{9})$"


MAX_SPLIT_PARTS = 3  # an identifier cut into up to this many adjacent columns (region | birth date | sequence)


def split_identifiers(df: pl.DataFrame) -> list[tuple[tuple[str, str], int, Match]]:
    """Identifiers cut into adjacent columns (id_part1 | id_part2 | id_part3): each run of two to
    MAX_SPLIT_PARTS neighbouring digit columns is joined row by row, and joins that make an identifier
    no shorter join or part of it is on its own are reported (first and last column of the run)."""
    out: list[tuple[tuple[str, str], int, Match]] = []
    digit_cols = {c for c in df.columns if df[c].dtype == pl.Utf8 or df[c].dtype.is_integer()}
    for width in range(2, MAX_SPLIT_PARTS + 1):
        for start in range(len(df.columns) - width + 1):
            run = df.columns[start:start + width]
            if all(c in digit_cols for c in run):
                out += _joined_run(df, run)
    return out


def _joined_run(df: pl.DataFrame, run: list[str]) -> list[tuple[tuple[str, str], int, Match]]:
    # the shapes tested on the cells as they are (`\s` is the whitespace `strip_chars` strips), and only the
    # few cells of that shape stripped: a column of free text is not copied
    parts = [f"p{i}" for i in range(len(run))]
    frame = df.select([pl.col(c).cast(pl.Utf8).alias(p) for c, p in zip(run, parts, strict=True)]).with_row_index("row")
    shape = [pl.col(p).str.contains(r"^\s*\d{2,}\s*$") for p in parts[:-1]]
    frame = frame.filter(pl.all_horizontal([*shape, pl.col(parts[-1]).str.contains(r"^\s*\d{1,}[Xx]?\s*$")]))
    if frame.is_empty():
        return []
    frame = frame.with_columns([pl.col(p).str.strip_chars() for p in parts])
    joined = frame.with_columns(pl.concat_str(parts).alias("v")).filter(pl.col("v").str.contains(SPLIT_WHOLE))
    out: list[tuple[tuple[str, str], int, Match]] = []
    for *values, value, rows in joined.group_by(*parts, "v").agg(pl.col("row")).iter_rows():
        # a shorter join (or a part) already shows the identifier: it is reported there, not again
        if any(find_all("".join(values[i:j])) for i in range(len(values)) for j in range(i + 1, len(values) + 1)
               if j - i < len(values)):
            continue
        for m in find_all(value):
            out += [((run[0], run[-1]), row, m) for row in rows]
    return out
