"""Identifiers a table carries in a form no single cell shows: one character per cell (down a column or
across a row), or encoded inside a cell (base64, base85, spaced hex, character codes).

`checks.pii_in_table` reads each cell as it is; these are what it would not see. Each match names the
recogniser that found it, and its location says how the cells were read (`joined`, `decoded`).
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from enclave.pii import normalize
from enclave.pii.normalize import decoded_texts
from enclave.pii.prefilter import _PYTHON_ONLY_SPACE, loosened
from enclave.pii.recognizers import RECOGNIZERS, Match, find_all

MIN_RUN = 11  # the shortest digit identifier the recognisers know: a mobile number
DIGIT_RECOGNIZERS = tuple(r for r in RECOGNIZERS if r.digits)
# cells worth decoding: a run that a short base64/base85 blob or a run of byte codes would make
BLOB_TOKEN = r"[A-Za-z0-9+/_=!#$%&()*;<>?@^`{|}~-]{12,}"  # a base64/base32/base85 blob, 12 characters or more
CODES_GATE = (r"(?:[0-9A-Fa-f]{2}[ :,;-]){7,}|(?:\\[0-7]{3}){6,}|(?:\\[0-9A-Fa-f]{1,6} ?){6,}|<~"
              r"|(?:\d{2,3}\s*[,;\s]\s*){6,}")
# Cells `decoded_texts` can decode anything in: one of its patterns matches (`prefilter.loosened`, a superset).
# Its short base64 blobs have a digit and an upper-case letter in one token, its base85 ones a character
# base64 does not use: conditions of their look-aheads, which polars has not, kept here as conditions of the cell.
_B64_CHARS = "[A-Za-z0-9+/_-]"
DECODABLE = "|".join(loosened(rx) for rx in (
    normalize.HEX, normalize.B32, normalize.B64, normalize.B32_LOWER, normalize.A85, normalize.HEX_SPACED,
    normalize.OCTAL_ESCAPES, normalize.CSS_ESCAPES, normalize.CHAR_CODES))
SHORT_B64 = rf"[0-9]{_B64_CHARS}*[A-Z]|[A-Z]{_B64_CHARS}*[0-9]"
B85_RUN = loosened(normalize.B85)
LOOSE_GATE = "|".join([DECODABLE, SHORT_B64, B85_RUN, _PYTHON_ONLY_SPACE])  # each test of `decodable`, or'ed
MAX_DECODED_CELLS = 20_000  # distinct cells decoded per column; more is a data extract, blocked elsewhere


def _one_char(s: pl.Series) -> pl.Series:
    """Per cell, its one digit (or check letter X), else null; columns of other types (lists, structs, dates,
    binary) hold no such cells."""
    if not (s.dtype == pl.Utf8 or s.dtype.is_integer() or s.dtype == pl.Categorical):
        return pl.Series(s.name, [None] * len(s), dtype=pl.Utf8)
    text = s.cast(pl.Utf8, strict=False).str.strip_chars()
    one = pl.col("t")
    return pl.DataFrame({"t": text}).select(pl.when(one.str.contains(r"^[0-9Xx]$")).then(one))["t"].alias(s.name)


def _runs(chars: list[str | None]) -> Iterator[tuple[int, str]]:
    """(first index, joined) for each run of at least MIN_RUN consecutive one-character cells."""
    start = None
    for i, c in enumerate([*chars, None]):
        if c is not None and start is None:
            start = i
        elif c is None and start is not None:
            if i - start >= MIN_RUN:
                yield start, "".join(chars[start:i])  # type: ignore[arg-type]
            start = None


def one_char_per_cell(df: pl.DataFrame) -> list[tuple[dict[str, object], Match]]:
    """An identifier written one digit per row down a column, or one digit per column across a row."""
    out: list[tuple[dict[str, object], Match]] = []
    if df.height == 0:
        return out
    singles = pl.DataFrame([_one_char(df[c]) for c in df.columns])
    for col in singles.columns:
        if singles.height - singles[col].null_count() < MIN_RUN:  # counted by polars, not per cell in Python
            continue
        chars = singles[col].to_list()
        for start, joined in _runs(chars):
            for m in find_all(joined, recognizers=DIGIT_RECOGNIZERS):
                out.append(({"row": start + m.start + 1, "column": col, "joined": "one digit per row",
                             "to_row": start + m.end}, m))
    if singles.width >= MIN_RUN:
        filled = singles.select(pl.sum_horizontal(pl.all().is_not_null()).alias("k"))["k"]
        for row in (filled >= MIN_RUN).arg_true().to_list()[:1000]:
            chars = list(singles.row(row))
            for start, joined in _runs(chars):
                for m in find_all(joined, recognizers=DIGIT_RECOGNIZERS):
                    out.append(({"row": row + 1, "column": singles.columns[start + m.start],
                                 "joined": "one digit per column"}, m))
    return out


def encoded_cells(df: pl.DataFrame) -> list[tuple[dict[str, object], Match]]:
    """Identifiers encoded inside text cells (the blobs and character codes `decoded_texts` reads)."""
    out: list[tuple[dict[str, object], Match]] = []
    for col in df.columns:
        if df[col].dtype != pl.Utf8:
            continue
        value = pl.col("value")
        spaced = value.str.replace_all(_PYTHON_ONLY_SPACE, " ")  # Python's \s matches these, polars' does not
        decodable = (spaced.str.contains(DECODABLE)
                     | spaced.str.contains(SHORT_B64) & spaced.str.contains(f"{_B64_CHARS}{{12}}")
                     | spaced.str.contains(B85_RUN) & spaced.str.contains(normalize._B85_ONLY.pattern))
        # a blob of digits' codes has a digit or padding in it, or is long (lower-case base32): words are not tried
        blob = value.str.extract_all(BLOB_TOKEN).list.eval(
            pl.element().str.contains(r"[0-9=]") | (pl.element().str.len_chars() >= 24)).list.any()
        # one pass over the whole column (a superset of `decodable`), the exact tests on the few cells it leaves
        cells = pl.DataFrame({"row": pl.int_range(0, df.height, eager=True), "value": df[col]}).filter(
            value.str.contains(LOOSE_GATE).fill_null(False)).filter(decodable.fill_null(False)).filter(
            blob.fill_null(False) | value.str.contains(CODES_GATE)).group_by("value").agg(pl.col("row").min())
        for value, row in cells.head(MAX_DECODED_CELLS).iter_rows():
            for kind, text in decoded_texts(value):
                out += [({"row": row + 1, "column": col, "decoded": kind}, m) for m in find_all(text)]
    return out


def hidden_in_cells(df: pl.DataFrame) -> list[tuple[dict[str, object], Match]]:
    """Both: what a table's cells carry that no cell shows as it is."""
    return one_char_per_cell(df) + encoded_cells(df)
