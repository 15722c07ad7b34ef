"""The checks a dataset passes before it is accepted: direct identifiers, k-anonymity, tier rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from enclave.pii.columns import scan_frame
from policies import Policies


@dataclass
class KAnonymity:
    quasi_identifiers: list[str]
    k: int
    smallest_class: int
    classes: int
    records_below_k: int

    @property
    def ok(self) -> bool:
        return self.records_below_k == 0


def k_anonymity(df: pl.DataFrame, quasi: list[str], k: int) -> KAnonymity:
    sizes = df.group_by(quasi).len()["len"]
    return KAnonymity(quasi, k, int(sizes.min()), sizes.len(), int(sizes.filter(sizes < k).sum()))


@dataclass
class FileCheck:
    file: str
    rows: int
    columns: int
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    kanon: KAnonymity | None = None
    problems: list[str] = field(default_factory=list)
    source: dict[str, str] = field(default_factory=dict)  # format and text encoding found

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kanon"] = asdict(self.kanon) if self.kanon else None
        return d


def choose_quasi(df: pl.DataFrame, declared: list[str] | None, policies: Policies) -> list[str]:
    if declared:
        missing = [q for q in declared if q not in df.columns]
        if missing:
            from datasets_mount.reader import IngestError

            raise IngestError(f"declared quasi-identifier column(s) not in the table: {', '.join(missing)}")
        return declared
    wanted = {q.lower() for q in policies.datasets.suggested_quasi_identifiers}
    return [c for c in df.columns if c.lower() in wanted]


def check_table(name: str, df: pl.DataFrame, policies: Policies, declared_quasi: list[str] | None) -> FileCheck:
    fc = FileCheck(name, df.height, df.width)
    for f in scan_frame(df):
        fc.identifiers.append(f.to_dict())
        fc.problems.append(f"column '{f.column}' holds direct identifiers ({f.entity}, {f.rows} rows, by {f.by})")
    quasi = choose_quasi(df, declared_quasi, policies)
    if quasi:
        fc.kanon = k_anonymity(df, quasi, policies.datasets.k_anonymity)
        if not fc.kanon.ok:
            fc.problems.append(
                f"quasi-identifiers {', '.join(quasi)} are not {fc.kanon.k}-anonymous: smallest class has "
                f"{fc.kanon.smallest_class} records, {fc.kanon.records_below_k} records are in classes below k")
    return fc
