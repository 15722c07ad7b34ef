"""Dataset versions in the catalog: stored immutably, described by a manifest, recorded in the audit trail."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from datasets_mount.storage import build_manifest, seal, version_dir
from enclave import audit
from enclave.audit import AuditAction
from enclave.checksums import verify_manifest
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import Dataset
from policies import Policies


def check_new_version(session: Session, policies: Policies, *, name: str, version: str, tier: int) -> None:
    """A new version must have a tier policy allows and a name@version never used before."""
    if tier not in policies.datasets.tiers:
        raise EnclaveError(f"tier {tier} is not defined in datasets.yaml (known: "
                           + ", ".join(str(t) for t in sorted(policies.datasets.tiers)) + ")")
    if not policies.datasets.tiers[tier].allowed_in_workspaces:
        t = policies.datasets.tiers[tier]
        raise NotAllowed(f"tier {tier} ({t.name}) is refused by policy: such data never enters the enclave")
    if session.execute(select(Dataset).where(Dataset.name == name, Dataset.version == version)).first():
        raise EnclaveError(f"dataset '{name}' version '{version}' already exists; versions are never overwritten")


def store_version(session: Session, actor: str, policies: Policies, root: Path, source: Path, *, name: str,
                  version: str, tier: int) -> Dataset:
    """Copy prepared Parquet files into a new immutable version and record it.

    The copy goes to a staging folder first and is renamed into place only when complete, so a
    failure leaves no half-stored version behind.
    """
    check_new_version(session, policies, name=name, version=version, tier=tier)
    final = version_dir(root, name, version)
    if final.exists():
        raise EnclaveError(f"{final} already exists on disk but not in the catalog; refusing to overwrite")
    staging = final.parent / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for path in sorted(source.iterdir()):
            if path.is_file():
                shutil.copy2(path, staging / path.name)
        manifest = build_manifest(staging, name=name, version=version, tier=tier, by=actor)
        seal(staging)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    ds = Dataset(name=name, version=version, tier=tier, location=str(final), manifest=manifest, created_by=actor)
    session.add(ds)
    session.flush()
    audit.record(session, actor, AuditAction.DATASET_STORE, target=ds.label, tier=tier,
                 files=[{"path": f["path"], "sha256": f["sha256"], "rows": f.get("rows")}
                        for f in manifest["files"]])
    return ds


def verify_dataset(ds: Dataset) -> list[str]:
    return verify_manifest(Path(ds.location), ds.manifest)
