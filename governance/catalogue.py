"""The data catalogue (资源目录) as pages read it: dataset versions from the core's `Dataset` rows and manifests.

Row counts, schema and the ingestion checks come from the manifest the ingestion wrote; descriptions
and column notes are the stewards' (`DatasetDoc`, audited). The dummy version is the synthetic one the
ingestion made beside the dataset (never the data): previewed and downloaded as a sample.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from enclave import audit
from enclave.audit import AuditAction
from enclave.errors import EnclaveError, NotFound
from enclave.models import Dataset, DatasetDoc, Party
from enclave.projects import get_dataset, get_user
from governance import rules
from policies import Policies

PREVIEW_ROWS = 20
MAX_DESCRIPTION = 5000


@dataclass
class DatasetView:
    id: int
    name: str
    version: str
    label: str
    tier: int
    tier_name: str
    rows: int
    description: str
    stewards: list[str]
    owners: list[str]
    created_at: str
    files: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    columns: list[dict[str, str]] = field(default_factory=list)
    override_reason: str = ""
    has_dummy: bool = False


def _doc(session: Session, ds: Dataset) -> DatasetDoc | None:
    return session.execute(select(DatasetDoc).where(DatasetDoc.dataset_id == ds.id)).scalar_one_or_none()


def dummy_dir(ds: Dataset) -> Path | None:
    """Where ingestion put the synthetic version (recorded in the manifest), if it did."""
    path = ds.manifest.get("dummy")
    return Path(path) if path and Path(path).is_dir() else None


def view(session: Session, ds: Dataset, policies: Policies, doc: DatasetDoc | None | bool = False) -> DatasetView:
    """What the catalogue says of one version; `doc` when the caller already read it (None: it has none)."""
    doc = _doc(session, ds) if doc is False else doc
    files = [f for f in ds.manifest.get("files", []) if "schema" in f]
    notes = (doc.columns if doc else {}) or {}
    columns = [{"file": f["path"], "name": c, "type": t, "note": str(notes.get(c, ""))}
               for f in files for c, t in f["schema"].items()]
    tier = policies.datasets.tiers.get(ds.tier)
    gov = policies.governance
    return DatasetView(
        id=ds.id, name=ds.name, version=ds.version, label=ds.label, tier=ds.tier, tier_name=tier.name if tier else "",
        rows=sum(int(f.get("rows") or 0) for f in files), description=doc.description if doc else "",
        stewards=gov.people(Party.STEWARD, ds.name), owners=gov.people(Party.DATA_OWNER, ds.name),
        created_at=ds.created_at.strftime("%Y-%m-%d"), files=files, checks=list(ds.manifest.get("checks") or []),
        columns=columns, override_reason=str(ds.manifest.get("override_reason") or ""),
        has_dummy=dummy_dir(ds) is not None)


def search(session: Session, policies: Policies, q: str = "", tier: str = "") -> list[DatasetView]:
    """Every version, newest first, filtered by words (name, description, column names) and tier."""
    rows = session.execute(select(Dataset).order_by(Dataset.name, Dataset.created_at.desc())).scalars()
    docs = {d.dataset_id: d for d in session.execute(select(DatasetDoc)).scalars()}  # one read, not one each
    out = []
    words = q.lower().split()
    for ds in rows:
        v = view(session, ds, policies, docs.get(ds.id))
        if tier.strip() and str(v.tier) != tier.strip():
            continue
        text = " ".join([v.label, v.description, v.tier_name, *(c["name"] for c in v.columns),
                         *(c["note"] for c in v.columns)]).lower()
        if all(w in text for w in words):
            out.append(v)
    return out


def by_label(session: Session, label: str) -> Dataset:
    name, _, version = label.partition("@")
    if not version:
        raise NotFound(f"no dataset '{label}' (name@version)")
    return get_dataset(session, name, version)


_PREVIEWS: dict[tuple[str, int, int], dict[str, Any]] = {}


def _first_rows(path: Path, rows: int) -> dict[str, Any]:
    """A dummy file's first rows, read again only when the file changed (a page view re-read it each time)."""
    key = (str(path), path.stat().st_mtime_ns, rows)
    if key not in _PREVIEWS:
        if len(_PREVIEWS) > 256:
            _PREVIEWS.clear()
        df = pl.read_parquet(path, n_rows=rows)
        _PREVIEWS[key] = {"file": path.name, "columns": df.columns,
                          "rows": [[str(v) for v in r] for r in df.rows()]}
    return _PREVIEWS[key]


def preview(ds: Dataset, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first rows of each dummy file, as {file, columns, rows}."""
    d = dummy_dir(ds)
    if d is None:
        return []
    return [_first_rows(path, rows) for path in sorted(d.glob("*.parquet"))]


def dummy_csv(ds: Dataset, file: str) -> bytes:
    """One dummy file as CSV (the synthetic sample, safe by construction)."""
    d = dummy_dir(ds)
    path = (d / file) if d else None
    if path is None or path.parent != d or path.suffix != ".parquet" or not path.is_file():
        raise NotFound(f"{ds.label} has no dummy file {file}")
    buf = io.BytesIO()
    pl.read_parquet(path).write_csv(buf)
    return buf.getvalue()


def edit_doc(session: Session, actor: str, ds: Dataset, policies: Policies, description: str,
             notes: dict[str, str]) -> DatasetDoc:
    """A steward's description and column notes; the change is recorded with what it was before."""
    rules.check_can_edit_dataset_doc(get_user(session, actor), ds, policies.governance)
    if len(description) > MAX_DESCRIPTION:
        raise EnclaveError(f"the description is longer than {MAX_DESCRIPTION} characters")
    known = {c for f in ds.manifest.get("files", []) for c in f.get("schema", {})}
    unknown = sorted(set(notes) - known)
    if unknown:
        raise EnclaveError(f"{ds.label} has no column(s) {', '.join(unknown)}")
    doc = _doc(session, ds)
    before = {"description": doc.description, "columns": doc.columns} if doc else None
    if doc is None:
        doc = DatasetDoc(dataset_id=ds.id)
        session.add(doc)
    doc.description = description.strip()
    doc.columns = {k: v.strip() for k, v in notes.items() if v.strip()}
    doc.updated_by = actor
    session.flush()
    audit.record(session, actor, AuditAction.DATASET_DOC_EDIT, target=ds.label, before=before,
                 after={"description": doc.description, "columns": doc.columns})
    return doc
