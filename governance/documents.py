"""Ethics approval documents attached to applications: PDF only, stored once by their sha256, never executed.

They live beside the enclave's state (`<ENCLAVE_HOME>/governance/documents`, root-only), outside any
workspace; a version of an application names its document by name, size and sha256, so the document a
party approved is the one the trail records.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from enclave.errors import EnclaveError, NotFound
from enclave.settings import Settings

MAX_BYTES = 5 * 1024**2
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def folder(settings: Settings) -> Path:
    return settings.home / "governance" / "documents"


def store(settings: Settings, name: str, data: bytes) -> dict[str, Any]:
    """Keep an uploaded PDF; refuses anything else, or more than 5 MiB, naming what was wrong."""
    if len(data) > MAX_BYTES:
        raise EnclaveError(f"the ethics document is {len(data):,} bytes; at most {MAX_BYTES:,} are accepted")
    if not data.startswith(b"%PDF-"):
        raise EnclaveError("the ethics document must be a PDF file")
    digest = hashlib.sha256(data).hexdigest()
    d = folder(settings)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    path = d / digest
    if not path.exists():
        tmp = d / f".{digest}.tmp"
        tmp.write_bytes(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    safe = "".join(c if c.isalnum() or c in "._- " else "_" for c in Path(name).name)[:120] or "ethics.pdf"
    return {"name": safe, "sha256": digest, "bytes": len(data)}


def read(settings: Settings, digest: str) -> bytes:
    path = folder(settings) / digest
    if not SHA256.match(digest) or not path.is_file():
        raise NotFound(f"no document {digest[:12]}")
    return path.read_bytes()


def named_by(content: dict[str, Any]) -> str:
    doc = content.get("ethics_doc")
    return str(doc.get("sha256", "")) if isinstance(doc, dict) else ""
