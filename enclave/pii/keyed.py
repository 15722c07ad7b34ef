"""Keyed digests of identifying values, shared by ingestion (which indexes) and export checks (which look up).

Plain hashes of low-entropy values (an 11-digit phone number) can be reversed by brute force, so
values are hashed with a secret key that stays in the enclave (keyed BLAKE2b, an HMAC-equivalent).
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import polars as pl

from enclave.settings import Settings


def index_key(settings: Settings) -> bytes:
    return bytes.fromhex(settings.secret("dataset-index.key"))


def index_root(settings: Settings) -> Path:
    return settings.home / "index"


def dataset_index_dir(root: Path, label: str) -> Path:
    """Where the index of one dataset version (`name@version`) lives under `root`: `<name>/<version>/`."""
    name, sep, version = label.partition("@")
    if not sep or not name or not version or any(c in label for c in "/\\\0") or ".." in label:
        raise ValueError(f"'{label}' is not a dataset label like cohort@v1")
    return root / name / version


def normalise_value(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().upper()


def digest(key: bytes, value: object) -> str:
    return hashlib.blake2b(normalise_value(value).encode(), key=key[:64], digest_size=16).hexdigest()


def digests(key: bytes, values: pl.Series) -> list[str]:
    """`digest` for a whole column: normalised by polars, hashed from a copy of one keyed state."""
    norm = values.cast(pl.Utf8).str.normalize("NFKC").str.strip_chars().str.to_uppercase()
    keyed = hashlib.blake2b(key=key[:64], digest_size=16)
    out = []
    for v in norm.to_list():
        h = keyed.copy()
        h.update(v.encode())
        out.append(h.hexdigest())
    return out
