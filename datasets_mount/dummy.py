"""A synthetic "dummy" version of a table: same columns and types, plausible values, no real rows.

Numbers and dates are drawn uniformly between the real minimum and maximum; categories only from
values shared by at least k records (a rare category could identify someone); free text and
identifier-like columns become made-up codes.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def dummy_frame(df: pl.DataFrame, *, rows: int = 1000, k: int = 5, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    out: dict[str, pl.Series] = {}
    for name in df.columns:
        s = df[name]
        dtype = s.dtype
        values = s.drop_nulls()
        null_rate = s.null_count() / max(1, len(s))
        if values.len() == 0:
            out[name] = pl.Series(name, [None] * rows, dtype=dtype)
            continue
        if dtype == pl.Boolean:
            col = pl.Series(name, rng.random(rows) < float(values.mean() or 0))
        elif dtype.is_numeric():
            lo, hi = float(values.min()), float(values.max())  # type: ignore[arg-type]
            drawn = rng.uniform(lo, hi if hi > lo else lo + 1, rows)
            col = pl.Series(name, np.round(drawn) if dtype.is_integer() else drawn).cast(dtype)
        elif dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
            phys = values.to_physical()
            lo, hi = int(phys.min()), int(phys.max())  # type: ignore[arg-type]
            col = pl.Series(name, rng.integers(lo, hi + 1, rows)).cast(phys.dtype).cast(dtype)
        else:
            counts = values.cast(pl.Utf8).value_counts(name="n")
            common = counts.filter(pl.col("n") >= k)[name].to_list()
            if common and counts.height <= 50:
                col = pl.Series(name, rng.choice(common, rows)).cast(dtype)
            else:
                col = pl.Series(name, [f"{name[:8]}-{i:06d}" for i in range(rows)]).cast(pl.Utf8)
        if null_rate:
            col = col.scatter(np.flatnonzero(rng.random(rows) < null_rate).tolist(), None)
        out[name] = col
    return pl.DataFrame(out)
