"""`enclave dataset ingest`: read, check, convert to Parquet and store immutably - or refuse and change nothing."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from datasets_mount.catalog import check_new_version, store_version
from datasets_mount.checks import FileCheck, check_table
from datasets_mount.dummy import dummy_frame
from datasets_mount.index import build_index, write_index
from datasets_mount.reader import TABLE_SUFFIXES, IngestError, read_table
from enclave import audit
from enclave.audit import AuditAction
from enclave.pii.keyed import index_key, index_root
from enclave.settings import Settings
from policies import Policies


class IngestRefused(IngestError):
    """The checks failed; `report` says exactly which file, column and how many rows."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


def index_path(settings: Settings, name: str, version: str) -> Path:
    return index_root(settings) / name / version


def dummy_path(settings: Settings, name: str, version: str) -> Path:
    return settings.dummy_dir(name, version)


def import_root(settings: Settings, policies: Policies) -> Path:
    p = Path(policies.datasets.import_dir)
    return (p if p.is_absolute() else settings.home / p).resolve()


def source_files(source: Path, root: Path) -> list[Path]:
    real = source.resolve()
    if not real.is_relative_to(root):
        raise IngestError(f"{source} is outside the import area {root}; place files there first")
    if not real.exists():
        raise IngestError(f"{source} does not exist")
    files = [real] if real.is_file() else sorted(
        p for p in real.rglob("*") if p.is_file() and not p.name.startswith("."))
    for f in files:
        if f.is_symlink() or not f.resolve().is_relative_to(root):
            raise IngestError(f"{f.name}: links out of the import area are not accepted")
        if f.suffix.lower() not in TABLE_SUFFIXES:
            raise IngestError(f"{f.name}: not a CSV, TSV, Parquet or Excel file")
    if not files:
        raise IngestError(f"{source}: no files to ingest")
    return files


def ingest(session: Session, actor: str, settings: Settings, policies: Policies, source: Path, *, name: str,
           version: str, tier: int, quasi: list[str] | None = None, override_reason: str | None = None,
           progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    check_new_version(session, policies, name=name, version=version, tier=tier)  # before reading big files
    files = source_files(source, import_root(settings, policies))
    for f in files:
        if f.stat().st_size > policies.datasets.max_file_bytes:
            raise IngestError(f"{f.name}: larger than the policy's max_file_bytes")
    checks: list[FileCheck] = []
    with tempfile.TemporaryDirectory(dir=settings.home) as tmp:
        out_dir, index_dir, dummy_dir = Path(tmp) / "parquet", Path(tmp) / "index", Path(tmp) / "dummy"
        for d in (out_dir, index_dir, dummy_dir):
            d.mkdir()
        key = index_key(settings)
        stems: set[str] = set()
        steps = 5 * len(files)

        def step(label: str, done: int) -> None:
            if progress:
                progress(label, done, steps)

        for i, f in enumerate(files):
            step(f"{f.name}: reading", 5 * i)
            df, info = read_table(f)
            step(f"{f.name}: checking {df.height:,} rows", 5 * i + 1)
            fc = check_table(f.name, df, policies, quasi)
            fc.source = info
            checks.append(fc)
            stem = f.stem
            if stem in stems:
                raise IngestError(f"{f.name}: two files would both become {stem}.parquet")
            stems.add(stem)
            step(f"{f.name}: writing Parquet", 5 * i + 2)
            df.write_parquet(out_dir / f"{stem}.parquet")
            step(f"{f.name}: building the index", 5 * i + 3)
            quasi_used = fc.kanon.quasi_identifiers if fc.kanon else []
            write_index(build_index(df, key, quasi_used, policies.datasets.k_anonymity), index_dir / f"{stem}.parquet")
            step(f"{f.name}: making the dummy", 5 * i + 4)
            dummy_frame(df, k=policies.datasets.k_anonymity).write_parquet(dummy_dir / f"{stem}.parquet")
        step("checks done", steps)
        report = {"dataset": f"{name}@{version}", "tier": tier, "files": [c.to_dict() for c in checks],
                  "problems": [f"{c.file}: {p}" for c in checks for p in c.problems]}
        if report["problems"] and not override_reason:
            audit.record(session, actor, AuditAction.DATASET_REFUSED, target=f"{name}@{version}", tier=tier,
                         problems=report["problems"])
            session.commit()  # the refusal is on record even though nothing is stored
            raise IngestRefused(f"dataset {name}@{version} refused: " + "; ".join(report["problems"]), report)
        ds = store_version(session, actor, policies, settings.datasets_dir, out_dir, name=name, version=version,
                           tier=tier)
        # beside the dataset, never mounted: the index for export checks, and the dummy for documentation
        for kind, src in (("index", index_dir), ("dummy", dummy_dir)):
            target = index_path(settings, name, version) if kind == "index" else dummy_path(settings, name, version)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(src), target)
    ds.manifest = {**ds.manifest, "checks": report["files"], "override_reason": override_reason,
                   "sources": [f.name for f in files], "index": str(index_path(settings, name, version)),
                   "dummy": str(dummy_path(settings, name, version))}
    if override_reason and report["problems"]:
        audit.record(session, actor, AuditAction.DATASET_OVERRIDE, target=ds.label, reason=override_reason,
                     problems=report["problems"])
    audit.record(session, actor, AuditAction.DATASET_INGEST, target=ds.label, tier=tier,
                 rows=sum(c.rows for c in checks), files=len(files))
    return {**report, "accepted": True, "override_reason": override_reason, "location": ds.location}
