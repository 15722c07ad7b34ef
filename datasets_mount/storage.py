"""Immutable on-disk storage of dataset versions and their manifests."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from enclave.checksums import sha256_file


def version_dir(root: Path, name: str, version: str) -> Path:
    return root / name / version


def describe_parquet(path: Path) -> dict[str, Any]:
    schema = pl.read_parquet_schema(path)
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    return {"rows": int(rows), "schema": {k: str(v) for k, v in schema.items()}}


def build_manifest(directory: Path, *, name: str, version: str, tier: int, by: str) -> dict[str, Any]:
    files = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        entry: dict[str, Any] = {"path": str(path.relative_to(directory)), "bytes": path.stat().st_size,
                                 "sha256": sha256_file(path)}
        if path.suffix == ".parquet":
            entry.update(describe_parquet(path))
        files.append(entry)
    return {"name": name, "version": version, "tier": tier, "ingested_by": by,
            "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": files}


def seal(directory: Path) -> None:
    """Make a stored version read-only for everyone, so a version is never changed in place."""
    for path in directory.rglob("*"):
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    os.chmod(directory, 0o555)
