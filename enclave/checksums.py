"""File checksums, content addresses and manifest comparison, shared by dataset storage, the export store
and backup verification."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_path(store: Path, sha256: str) -> Path:
    """Where a content-addressed store (the export store) keeps the bytes with this sha256."""
    return store / sha256[:2] / sha256


def verify_manifest(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Differences between the files on disk and the manifest, in words; empty when all match."""
    problems = []
    listed = {f["path"]: f for f in manifest.get("files", [])}
    present = {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}
    for rel in sorted(set(listed) - present):
        problems.append(f"{rel}: missing")
    for rel in sorted(present - set(listed)):
        problems.append(f"{rel}: not in the manifest")
    for rel in sorted(set(listed) & present):
        if sha256_file(directory / rel) != listed[rel]["sha256"]:
            problems.append(f"{rel}: content changed (sha256 differs)")
    return problems
