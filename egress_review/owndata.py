"""The project's own data in outputs: values looked up, by keyed digest, in the datasets' indexes.

A single record key or direct identifier blocks; other values of the same source record appearing
together make the finding stronger. Rare quasi-identifier combinations block when an output table
carries those columns.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from egress_review.extract import Segment
from egress_review.findings import Finding, Verdict
from enclave.pii.keyed import digest, digests

TOKEN = re.compile(r"[\w@.+-]{3,64}")


@dataclass
class OwnDataIndex:
    key: bytes
    values: dict[str, list[tuple[str, str, str, int]]] = field(default_factory=dict)  # digest -> hits
    combo_columns: dict[str, list[str]] = field(default_factory=dict)  # dataset -> quasi columns

    @classmethod
    def load(cls, root: Path, key: bytes) -> OwnDataIndex:
        idx = cls(key)
        for path in sorted(root.glob("*/*/*.parquet")) if root.exists() else []:
            dataset = f"{path.parent.parent.name}@{path.parent.name}"
            df = pl.read_parquet(path)
            for kind, column, row, d in df.iter_rows():
                idx.values.setdefault(d, []).append((dataset, kind, column, row))
                if kind == "rare_combo":
                    idx.combo_columns[dataset] = column.split("|")
        return idx

    def __bool__(self) -> bool:
        return bool(self.values)


def _findings(hits: list[tuple[tuple[str, str, str, int], dict]]) -> list[Finding]:
    out: list[Finding] = []
    per_record: dict[tuple[str, int], set[str]] = defaultdict(set)
    for (dataset, kind, column, row), loc in hits:
        per_record[(dataset, row)].add(column)
        if kind == "rare_combo":
            out.append(Finding("own-data", Verdict.BLOCK, f"a rare combination of {column.replace('|', ', ')} "
                               f"from {dataset}", rule="rare-combination", location=loc))
        else:
            out.append(Finding("own-data", Verdict.BLOCK, f"value of {dataset} column '{column}' (an identifying "
                               "column)", rule="dataset-value", location=loc))
    for (dataset, _row), columns in per_record.items():
        if len(columns) >= 2:
            out.append(Finding("own-data", Verdict.BLOCK, f"{len(columns)} values of one record of {dataset} appear "
                               f"together ({', '.join(sorted(columns))})", rule="same-record"))
    return out


def in_segments(index: OwnDataIndex, segments: Iterable[Segment]) -> list[Finding]:
    hits = []
    for seg in segments:
        for m in TOKEN.finditer(seg.text):
            for hit in index.values.get(digest(index.key, m.group()), []):
                hits.append((hit, {**seg.location, "offset": m.start()}))
    return _findings(hits)


def in_table(index: OwnDataIndex, df: pl.DataFrame) -> list[Finding]:
    hits = []
    for col in df.columns:
        values = df[col].cast(pl.Utf8)
        for row, d in enumerate(digests(index.key, values.fill_null(""))):
            for hit in index.values.get(d, []):
                hits.append((hit, {"row": row + 1, "column": col}))
    for dataset, quasi in index.combo_columns.items():
        if all(q in df.columns for q in quasi):
            combos = df.select(pl.concat_str([pl.lit(f"{q}=") + pl.col(q).cast(pl.Utf8).fill_null("") for q in quasi],
                                             separator="|"))
            for row, d in enumerate(digests(index.key, combos.to_series())):
                for hit in index.values.get(d, []):
                    if hit[0] == dataset and hit[1] == "rare_combo":
                        hits.append((hit, {"row": row + 1}))
    return _findings(hits)
