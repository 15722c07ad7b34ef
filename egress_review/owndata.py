"""The project's own data in outputs: values looked up, by keyed digest, in its approved datasets' indexes.

A single record key or direct identifier blocks; other values of the same source record appearing
together make the finding stronger. Rare quasi-identifier combinations block when an output table
carries those columns.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from egress_review.extract import Segment
from egress_review.findings import Finding, Verdict
from enclave.pii.keyed import dataset_index_dir, digest, digests

TOKEN = re.compile(r"[\w@.+-]{3,64}")
Hit = tuple[str, str, str, int]  # dataset label, kind, column, row of the dataset


@dataclass
class DatasetIndex:
    """The keyed index of one dataset version: digest -> (kind, column, row), and its quasi-identifier sets."""

    label: str
    values: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    combos: list[list[str]] = field(default_factory=list)
    stamp: tuple[tuple[str, float], ...] = ()

    @staticmethod
    def files(folder: Path) -> list[Path]:
        return sorted(folder.glob("*.parquet")) if folder.is_dir() else []

    @classmethod
    def stamp_of(cls, folder: Path) -> tuple[tuple[str, float], ...]:
        """Names and modification times: changes when ingestion writes the index again."""
        return tuple((p.name, p.stat().st_mtime) for p in cls.files(folder))

    @classmethod
    def load(cls, label: str, folder: Path) -> DatasetIndex:
        """A dataset with no index (nothing identifying in it) is an empty index, not an error."""
        idx = cls(label, stamp=cls.stamp_of(folder))
        for path in cls.files(folder):
            for kind, column, row, d in pl.read_parquet(path).iter_rows():
                idx.values.setdefault(d, []).append((kind, column, row))
                if kind == "rare_combo" and column.split("|") not in idx.combos:
                    idx.combos.append(column.split("|"))
        return idx


@dataclass
class OwnDataIndex:
    """The indexes of the datasets approved for one project: the only data its outputs are compared with.

    Comparing with every dataset in the enclave would let a researcher learn, from the reply to a
    submission, who is in another project's data.
    """

    key: bytes
    datasets: list[DatasetIndex] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path, key: bytes, labels: Iterable[str]) -> OwnDataIndex:
        """The indexes of `labels` (`name@version`) under `root`, read now (the CLI; the service caches)."""
        return cls(key, [DatasetIndex.load(lb, dataset_index_dir(root, lb)) for lb in sorted(set(labels))])

    def hits(self, d: str) -> Iterator[Hit]:
        for ds in self.datasets:
            for kind, column, row in ds.values.get(d, ()):
                yield ds.label, kind, column, row

    def __bool__(self) -> bool:
        return any(ds.values for ds in self.datasets)


class IndexCache:
    """Indexes kept per dataset version (not one for the whole enclave), reloaded when ingestion rewrote one.

    The service's submissions run in threads; the lock keeps two of them from loading the same index.
    """

    def __init__(self, root: Path, key: bytes) -> None:
        self.root, self.key = root, key
        self._loaded: dict[str, DatasetIndex] = {}
        self._lock = threading.Lock()

    def for_datasets(self, labels: Iterable[str]) -> OwnDataIndex:
        parts = []
        with self._lock:
            for label in sorted(set(labels)):
                folder = dataset_index_dir(self.root, label)
                cached = self._loaded.get(label)
                if cached is None or cached.stamp != DatasetIndex.stamp_of(folder):
                    cached = self._loaded[label] = DatasetIndex.load(label, folder)
                parts.append(cached)
        return OwnDataIndex(self.key, parts)


def _findings(hits: list[tuple[Hit, dict]]) -> list[Finding]:
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
            for hit in index.hits(digest(index.key, m.group())):
                hits.append((hit, {**seg.location, "offset": m.start()}))
    return _findings(hits)


def in_table(index: OwnDataIndex, df: pl.DataFrame) -> list[Finding]:
    hits = []
    for col in df.columns:
        values = df[col].cast(pl.Utf8)
        for row, d in enumerate(digests(index.key, values.fill_null(""))):
            for hit in index.hits(d):
                hits.append((hit, {"row": row + 1, "column": col}))
    for ds in index.datasets:
        for quasi in ds.combos:
            if not all(q in df.columns for q in quasi):
                continue
            combos = df.select(pl.concat_str([pl.lit(f"{q}=") + pl.col(q).cast(pl.Utf8).fill_null("") for q in quasi],
                                             separator="|"))
            for row, d in enumerate(digests(index.key, combos.to_series())):
                for kind, column, dsrow in ds.values.get(d, ()):
                    if kind == "rare_combo":
                        hits.append(((ds.label, kind, column, dsrow), {"row": row + 1}))
    return _findings(hits)
