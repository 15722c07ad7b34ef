"""The keyed-hash index of a dataset's identifying values, used by the export checks.

It holds digests (`enclave.pii.keyed`) and row numbers only, never values, and is never mounted
into workspaces.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from enclave.pii.columns import scan_frame
from enclave.pii.keyed import digests


def record_key_columns(df: pl.DataFrame) -> list[str]:
    """Text columns that single out records (nearly every value distinct), e.g. pseudonymous study ids."""
    return [c for c in df.columns if df[c].dtype == pl.Utf8 and df.height >= 20
            and df[c].n_unique() >= 0.95 * df.height]


def build_index(df: pl.DataFrame, key: bytes, quasi: list[str], k: int) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    columns = {f.column for f in scan_frame(df)} | set(record_key_columns(df))
    for col in sorted(columns):
        present = df.select(pl.col(col)).with_row_index("row").filter(pl.col(col).is_not_null())
        parts.append(pl.DataFrame({"kind": "identifier", "column": col, "row": present["row"].cast(pl.Int64),
                                   "digest": digests(key, present[col])}))
    if quasi:
        sized = df.with_row_index("row").with_columns(pl.len().over(quasi).alias("_n"))
        rare = sized.filter(pl.col("_n") < k)
        if rare.height:
            combos = rare.select(pl.concat_str([pl.lit(f"{q}=") + pl.col(q).cast(pl.Utf8).fill_null("")
                                                for q in quasi], separator="|").alias("c"), "row")
            parts.append(pl.DataFrame({"kind": "rare_combo", "column": "|".join(quasi),
                                       "row": combos["row"].cast(pl.Int64),
                                       "digest": digests(key, combos["c"])}))
    schema = {"kind": pl.Utf8, "column": pl.Utf8, "row": pl.Int64, "digest": pl.Utf8}
    return pl.concat([p.cast(schema) for p in parts]) if parts else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def write_index(index: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    index.write_parquet(path)
    os.chmod(path, 0o600)
