"""Parquet for R in the workspace: the Python half of R's `enclave_read_parquet(path)` (enclave.R).

Debian 12 packages no r-cran-arrow, and the image is built without network (so no CRAN source builds of
arrow's C++), so R reads Parquet through reticulate and the image's own pyarrow. Each column crosses to R as
raw bytes (numbers as native doubles/ints, text as NUL-terminated UTF-8) plus a null mask: no numpy or pandas
conversion by reticulate, which ties neither to their versions and keeps the types exact.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_SMALL_INTS = (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16())


def _text(col: pa.Array) -> bytearray:
    """n NUL-terminated UTF-8 strings (R's readBin(what = "character") reads them); nulls as empty."""
    values = col.fill_null("").to_pylist()
    return bytearray(b"".join(v.replace("\0", "").encode("utf-8") + b"\0" for v in values))


def _column(name: str, col: pa.Array) -> dict[str, object]:
    """One column as {name, kind, data, na[, levels, tz]}: kind is the R type enclave.R builds from data."""
    t = col.type
    na = bytearray(np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=np.uint8).tobytes())
    out: dict[str, object] = {"name": name, "na": na}
    if pa.types.is_dictionary(t):
        levels = col.dictionary.cast(pa.string())
        idx = col.indices.cast(pa.int32()).fill_null(0)
        out.update(kind="factor", data=bytearray(idx.to_numpy().astype("<i4").tobytes()), levels=_text(levels),
                   nlevels=len(levels))
    elif pa.types.is_boolean(t) or t in _SMALL_INTS:
        ints = col.cast(pa.int32()).fill_null(0).to_numpy().astype("<i4")
        out.update(kind="logical" if pa.types.is_boolean(t) else "integer", data=bytearray(ints.tobytes()))
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        # R has no 64-bit integer: int64/uint32/uint64 become doubles (exact up to 2**53)
        out.update(kind="double", data=bytearray(col.cast(pa.float64()).fill_null(0).to_numpy().astype("<f8")
                                                 .tobytes()))
    elif pa.types.is_date(t):
        days = col.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy().astype("<i4")
        out.update(kind="Date", data=bytearray(days.tobytes()))
    elif pa.types.is_timestamp(t):
        micros = col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64()).fill_null(0).to_numpy()
        out.update(kind="POSIXct", data=bytearray((micros / 1e6).astype("<f8").tobytes()), tz=t.tz or "UTC")
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        out.update(kind="character", data=_text(col))
    else:  # lists, structs, binary...: their text, so nothing is silently dropped
        text = pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
        out.update(kind="character", data=_text(text))
    return out


def for_r(path: str, columns: list[str] | None = None) -> dict[str, object]:
    """The file's columns (all, or those named) for enclave_read_parquet; nrow first so R sizes its vectors."""
    table = pq.read_table(path, columns=columns).unify_dictionaries()
    return {"nrow": table.num_rows,
            "columns": [_column(n, c.combine_chunks()) for n, c in zip(table.column_names, table.columns, strict=True)]}
