"""Reads steward-supplied tables (CSV, TSV, Parquet, Excel), deciding the type by content, not name.

Every problem is an `IngestError` naming the file and, where it can, the column or line.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from enclave.errors import EnclaveError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xls"}


class IngestError(EnclaveError):
    pass


def sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise IngestError(f"{path.name}: the file is empty")
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:4] == b"PK\x03\x04":
        return "xlsx"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    if b"\x00" in head:
        raise IngestError(f"{path.name}: binary content that is not Parquet or Excel")
    return "tsv" if path.suffix.lower() == ".tsv" else "csv"


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf_err:
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise IngestError(f"{name}: text is neither UTF-8 nor GBK/GB18030 (invalid byte at offset "
                              f"{utf_err.start})") from utf_err


def _read_text(path: Path, separator: str) -> tuple[pl.DataFrame, str]:
    kind = "TSV" if separator == "\t" else "CSV"
    try:  # fast path: polars reads UTF-8 straight from the file and refuses invalid bytes
        return pl.read_csv(path, separator=separator, infer_schema_length=10_000, try_parse_dates=True), "utf-8"
    except pl.exceptions.ComputeError as exc:
        if "utf-8" not in str(exc).lower() and "utf8" not in str(exc).lower():
            raise IngestError(f"{path.name}: cannot be read as {kind}: {str(exc).splitlines()[0]}") from exc
    except pl.exceptions.NoDataError as exc:
        raise IngestError(f"{path.name}: the file is empty") from exc
    raw = path.read_bytes()
    text, encoding = _decode(raw, path.name)
    if not text.strip():
        raise IngestError(f"{path.name}: the file is empty")
    try:
        df = pl.read_csv(io.StringIO(text), separator=separator, infer_schema_length=10_000,
                         try_parse_dates=True)
    except pl.exceptions.ComputeError as exc:
        msg = str(exc).splitlines()[0]
        raise IngestError(f"{path.name}: cannot be read as {kind} ({encoding}): {msg}") from exc
    return df, encoding


def _mixed_columns(df: pl.DataFrame) -> list[str]:
    """Text columns whose values are mostly numbers: a sign of mixed types the export will mangle."""
    problems = []
    for name in df.columns:
        if df[name].dtype != pl.Utf8:
            continue
        values = df[name].drop_nulls()
        if values.len() == 0:
            continue
        is_num = values.str.strip_chars().cast(pl.Float64, strict=False).is_not_null()
        numeric = int(is_num.sum())
        # text markers such as "n/a" or "未知" in a number column; codes with digits (IDs ending in X) are fine
        markers = values.filter(~is_num & ~values.str.contains(r"\d"))
        if 0 < markers.len() <= values.len() * 0.1 and numeric >= 10:
            problems.append(f"column '{name}' mixes numbers and text ({markers.len()} of "
                            f"{values.len()} values are not numbers)")
    return problems


def read_table(path: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    kind = sniff(path)
    info = {"format": kind}
    try:
        if kind == "parquet":
            df = pl.read_parquet(path)
        elif kind in ("xlsx", "xls"):
            sheets = pl.read_excel(path, sheet_id=0)  # every sheet, so none is dropped unseen
            if len(sheets) != 1:
                raise IngestError(f"{path.name}: the workbook has {len(sheets)} sheets "
                                  f"({', '.join(sheets)}); save each sheet as its own file")
            (info["sheet"], df), = sheets.items()
        else:
            df, info["encoding"] = _read_text(path, "\t" if kind == "tsv" else ",")
    except IngestError:
        raise
    except Exception as exc:  # polars/fastexcel raise many types for broken files
        raise IngestError(f"{path.name}: malformed or truncated {kind} file: {str(exc).splitlines()[0]}") from exc
    if df.width == 0 or df.height == 0:
        raise IngestError(f"{path.name}: no data rows")
    mixed = _mixed_columns(df)
    if mixed:
        raise IngestError(f"{path.name}: " + "; ".join(mixed))
    return df, info
