"""Consistent backups of an enclave, and restores that prove themselves.

A backup is a folder: the database (SQLite online-backup API, or `pg_dump` for PostgreSQL), the
audit anchor (copied *before* the database, so the restored chain can only be at or beyond it), the
secrets the chain and the indexes are keyed with, the release store, the policies, the dataset
manifests (dataset files only with `--with-datasets`), the keyed indexes and dummies, and a
`backup.json` listing every file with its sha256. The folder is readable by root only.

`backup.json` is signed (Ed25519, a detached JWS in `backup.json.sig`) with a key that is never in a
backup (`Settings.backup_signing_key`, kept out of the copied secrets): checksums alone prove nothing
to someone who can rewrite the files *and* the manifest, a signature they cannot make does.

`restore` checks the signature and every file against `backup.json` before copying anything, then
verifies the audit chain with the restored key and anchor, every release-store blob against its
name, every stored export file's presence and, when datasets are included, every dataset checksum.
Any mismatch is named and the restore reported as failed.

`snapshot` puts the same folder into the restic repository (`enclave.restic`: encrypted, deduplicated,
possibly on another host), tagged, and applies the backup policy's retention; `restore_snapshot` reads a
snapshot back into a scratch place next to the target, checks the repository, the signature, every
checksum and the audit chain there, and only then moves the restored home into place. `drill` does the
same with the latest snapshot into a scratch place it removes, and records pass or fail in the trail.

PostgreSQL tools get the database's address on the command line without its password, which they
read from a private temporary PGPASSFILE: any local user can read another process's command line.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from enclave import __version__
from enclave.checksums import content_path, verify_manifest
from enclave.checksums import sha256_file as _sha256
from enclave.errors import EnclaveError
from enclave.restic import Repository, ResticError
from enclave.settings import Settings
from policies.schema import BackupPolicy

MANIFEST = "backup.json"
ENCLAVE_DB = "enclave"  # enclave.sqlite or enclave.pgdump in a backup
HUB_DB = "jupyterhub"  # jupyterhub.sqlite: where a restored home's hub finds it by default
SIGNATURE = "backup.json.sig"
SIGNING_ALG = "Ed25519"


class BackupError(EnclaveError):
    pass


def signing_key(path: Path) -> OKPKey:
    """This enclave's backup signing key, created (root-only) on first use."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(OKPKey.generate_key("Ed25519").as_dict(private=True)))
    return _load_key(path)


def _load_key(path: Path) -> OKPKey:
    """A private or public Ed25519 JWK; restoring on another host needs only the public half."""
    try:
        return OKPKey.import_key(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise BackupError(f"backup signing key {path} is not there: pass --key with the offline copy of the "
                          "key (or its public half) that signed the backup") from exc
    except (OSError, ValueError, JoseError) as exc:
        raise BackupError(f"{path} is not an Ed25519 key in JWK form ({exc})") from exc


def _sign(dest: Path, key: OKPKey) -> None:
    header = {"alg": SIGNING_ALG, "kid": key.thumbprint()}
    token = jws.serialize_compact(header, (dest / MANIFEST).read_bytes(), key, algorithms=[SIGNING_ALG])
    fd = os.open(dest / SIGNATURE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(jws.detach_content(token))


def _check_signature(src: Path, key: OKPKey) -> list[str]:
    """Empty when backup.json was signed by `key`, else why not."""
    try:
        token = (src / SIGNATURE).read_text().strip()
    except FileNotFoundError:
        return [f"{SIGNATURE}: missing, the backup is unsigned"]
    try:
        jws.deserialize_compact(token, key, payload=(src / MANIFEST).read_bytes(), algorithms=[SIGNING_ALG])
    except JoseError:
        return [f"{MANIFEST}: its signature does not verify with key {key.thumbprint()}: the backup was "
                "rewritten, or signed by another enclave"]
    return []


def check_no_password_on_command_line(url: str) -> None:
    """A database password given as an argument is readable by every local user (ps, /proc)."""
    try:
        password = make_url(url).password
    except ArgumentError as exc:
        raise BackupError(f"--db-url {url.split('://', 1)[0]}://...: not a database URL") from exc
    if password:
        raise BackupError("--db-url holds a password, which any local user can read on the command line: "
                          "set ENCLAVE_RESTORE_DB_URL in the environment instead")


@contextmanager
def pg_connection(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(conninfo without the password, environment with a private PGPASSFILE holding it) for libpq tools."""
    parsed = make_url(url).set(drivername="postgresql")
    conninfo = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database,
                          parsed.query).render_as_string(hide_password=False)
    env = dict(os.environ)
    if not parsed.password:
        yield conninfo, env
        return
    with tempfile.TemporaryDirectory(prefix="enclave-pg-") as tmp:  # mode 0700, removed afterwards
        passfile = Path(tmp) / "pgpass"
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        escaped = parsed.password.replace("\\", "\\\\").replace(":", "\\:")
        with os.fdopen(fd, "w") as fh:
            fh.write(f"*:*:*:*:{escaped}\n")
        env.update(PGPASSFILE=str(passfile))
        env.pop("PGPASSWORD", None)
        yield conninfo, env


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _copytree(src: Path, dst: Path, keep: Callable[[Path], bool] = lambda p: True) -> None:
    for path in sorted(src.rglob("*")) if src.exists() else []:
        if path.is_file() and not path.is_symlink() and keep(path):
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            os.chmod(target, 0o600)


def _db_snapshot(url: str, dest: Path, stem: str) -> str:
    """A consistent copy of one database into `dest` as `<stem>.sqlite` or `<stem>.pgdump`; its kind."""
    if url.startswith("sqlite"):
        src = sqlite3.connect(url.split("///", 1)[1])
        dst = sqlite3.connect(dest / f"{stem}.sqlite")
        with dst:
            src.backup(dst)  # a consistent copy while the enclave keeps writing
        src.close()
        dst.close()
        return "sqlite"
    if url.startswith("postgresql"):
        with open(dest / f"{stem}.pgdump", "wb") as out, pg_connection(url) as (conninfo, env):
            subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--dbname", conninfo], stdout=out,
                           env=env, check=True)
        return "postgresql"
    raise BackupError(f"cannot back up database {url.split(':', 1)[0]}")


def _hub_db_snapshot(settings: Settings, dest: Path) -> str | None:
    """The hub's own database (its users, servers and API tokens) beside the enclave's: a restored host
    keeps its researchers' tokens and named servers. None when the hub has never run (no SQLite file)."""
    url = settings.hub_db_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[1]).exists():
        return None
    return _db_snapshot(url, dest, HUB_DB)


def _dataset_manifests(dest: Path) -> None:
    from sqlalchemy import select

    from enclave.db import session_scope
    from enclave.models import Dataset

    dest.mkdir(parents=True, exist_ok=True)
    with session_scope() as s:
        for d in s.execute(select(Dataset)).scalars():
            (dest / f"{d.name}@{d.version}.json").write_text(json.dumps(d.manifest, indent=1, ensure_ascii=False))


def backup(settings: Settings, dest: Path, with_datasets: bool = False,
           progress: Callable[[str], None] = lambda _s: None) -> dict[str, Any]:
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: a backup goes into a new folder")
    key = signing_key(settings.backup_signing_key)  # first, so a key problem leaves no half backup
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    home = settings.home
    progress("audit anchor")
    if settings.audit_anchor.exists():
        _copytree(settings.audit_anchor.parent, dest / "audit", lambda p: p.name == "head.json")
    progress("database")
    db_kind = _db_snapshot(settings.db_url, dest, ENCLAVE_DB)
    progress("hub database")
    hub_kind = _hub_db_snapshot(settings, dest)
    progress("secrets")
    _copytree(settings.secrets_dir, dest / "secrets",
              lambda p: not p.name.startswith("demo-") and p not in (settings.backup_signing_key,
                                                                      settings.backup_password_path))
    progress("release store")
    _copytree(settings.egress_store, dest / "egress" / "store")
    progress("policies")
    _copytree(settings.policy_dir, dest / "policies", lambda p: p.suffix in (".yaml", ".yml"))
    progress("dataset manifests")
    _dataset_manifests(dest / "manifests")
    if with_datasets:
        progress("datasets")
        _copytree(settings.datasets_dir, dest / "datasets")
    for extra in ("index", "dummy", "imports"):  # imports: the files the airlock brought in, and their holds
        _copytree(home / extra, dest / extra)
    progress("checksums")
    files = {str(p.relative_to(dest)): {"sha256": _sha256(p), "bytes": p.stat().st_size}
             for p in sorted(dest.rglob("*")) if p.is_file()}
    manifest = {"created_at": datetime.now(UTC).isoformat(), "enclave": __version__, "source_home": str(home),
                "database": db_kind, "hub_database": hub_kind, "with_datasets": with_datasets, "files": files}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    os.chmod(dest / MANIFEST, 0o600)
    progress("signature")
    _sign(dest, key)
    return {"backup": str(dest), "files": len(files), "bytes": sum(f["bytes"] for f in files.values()),
            "database": db_kind, "hub_database": hub_kind, "with_datasets": with_datasets,
            "signed_by": key.thumbprint()}


def _check_files(src: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    listed = manifest["files"]
    present = {str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE}
    for name in sorted(set(listed) - present):
        problems.append(f"{name}: missing from the backup")
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: in the backup but not in its manifest")
    for name in sorted(present & set(listed)):
        if _sha256(src / name) != listed[name]["sha256"]:
            problems.append(f"{name}: checksum does not match the manifest (corrupted)")
    return problems


def restore(src: Path, target: Path, key_file: Path, verify: bool = True,
            db_url: str | None = None, hub_db_url: str | None = None, with_hub: bool = True) -> dict[str, Any]:
    """Restore into an empty place (a new ENCLAVE_HOME), then prove it is whole.

    `key_file` is the signing key (or its public half) the backup must have been signed with. A PostgreSQL
    backup goes into the empty databases `db_url` (the enclave's) and `hub_db_url` (the hub's; a SQLite
    hub database is restored as the home's own `jupyterhub.sqlite`). `with_hub=False` (the drill) checks the
    hub's dump against the manifest like every file but loads it nowhere.
    """
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src}: not a backup ({MANIFEST} unreadable: {exc})") from exc
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: restore goes into an empty place")
    problems = _check_signature(src, _load_key(key_file)) + _check_files(src, manifest)
    if problems:  # never restore from a damaged or rewritten backup
        return {"ok": False, "restored": None, "problems": problems}
    _check_database_targets(manifest, db_url, hub_db_url, with_hub)  # before anything is copied
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    for name in manifest["files"]:
        dst = target / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dst)
    url = db_url or f"sqlite:///{target / f'{ENCLAVE_DB}.sqlite'}"
    if manifest["database"] == "postgresql":
        _pg_restore(str(db_url), target / f"{ENCLAVE_DB}.pgdump")
    hub_kind = manifest.get("hub_database")
    hub_url = f"sqlite:///{target / f'{HUB_DB}.sqlite'}" if hub_kind == "sqlite" else hub_db_url
    if hub_kind == "postgresql" and with_hub:
        _pg_restore(str(hub_db_url), target / f"{HUB_DB}.pgdump")
    result: dict[str, Any] = {"ok": True, "restored": str(target), "db_url": _shown(url),
                              "hub_db_url": _shown(hub_url) if hub_url and with_hub else None,
                              "files": len(manifest["files"]), "problems": []}
    if verify:
        result.update(verify_home(target, url, manifest))
        if hub_url and with_hub:
            try:
                result["checked"]["hub_users"] = _hub_users(hub_url)
            except BackupError as exc:
                result.update(ok=False, problems=[*result["problems"], str(exc)])
    return result


def _hub_users(url: str) -> int:
    """The restored hub database opens and holds its users (the hub migrates its own schema at start)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM users")).scalar_one())
    except Exception as exc:  # noqa: BLE001 - any driver error means the same: not a usable hub database
        raise BackupError(f"the restored hub database cannot be read: {exc}") from exc
    finally:
        engine.dispose()


def _check_database_targets(manifest: dict[str, Any], db_url: str | None, hub_db_url: str | None,
                            with_hub: bool) -> None:
    """A PostgreSQL dump needs an empty database to go into: say which one is missing before copying."""
    if manifest["database"] == "postgresql" and not db_url:
        raise BackupError("a PostgreSQL backup needs --db-url of an empty database to restore into")
    if manifest.get("hub_database") == "postgresql" and with_hub and not hub_db_url:
        raise BackupError("this backup holds the hub's PostgreSQL database: give --hub-db-url of an empty "
                          "database to restore it into")


def _pg_restore(url: str, dump: Path) -> None:
    """Load a dump into the operator's empty database; a failure is one clear message, never a traceback."""
    with pg_connection(url) as (conninfo, env):
        res = subprocess.run(["pg_restore", "--no-owner", "--dbname", conninfo, str(dump)], env=env,
                             capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{dump.name} could not be loaded into {_shown(url)} ({last}); drop and re-create "
                          "that database empty before trying again")


def verify_home(home: Path, db_url: str, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Audit chain, release store and dataset checksums of a restored home, with its own key and anchor."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from enclave import audit
    from enclave.models import Dataset, ExportFile

    problems: list[str] = []
    key = (home / "secrets" / "audit.key").read_text().strip().encode() if (home / "secrets" / "audit.key").exists() \
        else None
    engine = create_engine(db_url)
    checked: dict[str, int] = {}
    try:
        with Session(engine) as s:
            if key is None:
                problems.append("secrets/audit.key is missing: the audit chain cannot be verified")
            else:
                report = audit.verify(s, home / "audit" / "head.json", key=key)
                checked["audit_records"] = report.records
                problems += [f"audit record {p.seq}: {p.message}" for p in report.problems]
            store = home / "egress" / "store"
            blobs = 0
            for blob in store.rglob("*") if store.exists() else []:
                if blob.is_file():
                    blobs += 1
                    if _sha256(blob) != blob.name:
                        problems.append(f"release store: {blob.name} does not match its content")
            checked["store_blobs"] = blobs
            for f in s.execute(select(ExportFile)).scalars():
                if not content_path(store, f.sha256).exists():
                    problems.append(f"export file {f.name} of request {f.request_id}: copy {f.sha256[:12]} missing")
            datasets = 0
            for d in s.execute(select(Dataset)).scalars():
                label = f"{d.name}@{d.version}"
                copy = home / "manifests" / f"{label}.json"
                if not copy.exists() or json.loads(copy.read_text()) != d.manifest:
                    problems.append(f"dataset {label}: its manifest file does not match the database")
                datasets += 1
                if manifest is None or manifest.get("with_datasets"):
                    problems += [f"dataset {label}: {p}"
                                 for p in verify_manifest(home / "datasets" / d.name / d.version, d.manifest)]
            checked["datasets"] = datasets
    finally:
        engine.dispose()
    return {"ok": not problems, "checked": checked, "problems": problems}


# --- the restic repository -----------------------------------------------------------------------

STAGED = "backup"  # the staged folder's name inside every snapshot (restic stores the relative path given)


class DrillOutcome(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"


def _snapshot_tags(result: dict[str, Any]) -> list[str]:
    tags = [f"enclave-version={__version__}", f"database={result['database']}", f"signed-by={result['signed_by']}"]
    return tags + (["with-datasets"] if result["with_datasets"] else [])


def init_repository(settings: Settings, check: bool = False) -> dict[str, Any]:
    """The configured repository, created (with a new password file when there is none) on first use;
    with `check`, whether it would be."""
    repo = Repository.of(settings)
    created = repo.init(check)
    return {"repository": repo.url, "created": created, "password_file": str(repo.password_file), "check": check}


def snapshot(settings: Settings, policy: BackupPolicy, with_datasets: bool | None = None,
             progress: Callable[[str], None] = lambda _s: None) -> dict[str, Any]:
    """Stage the same signed folder `backup` writes, snapshot it into the repository, apply retention."""
    repo = Repository.of(settings)
    signing_key(settings.backup_signing_key)  # before anything is staged: a key problem leaves nothing behind
    initialized = repo.init()
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=settings.home) as tmp:  # beside the data: room
        staged = backup(settings, Path(tmp) / STAGED, policy.with_datasets if with_datasets is None else with_datasets,
                        progress)
        progress("snapshot")
        snapshot_id = repo.backup(Path(tmp), STAGED, _snapshot_tags(staged))
    progress("retention")
    forgotten = repo.forget(policy)
    return {**{k: v for k, v in staged.items() if k != "backup"}, "snapshot": snapshot_id, "repository": repo.url,
            "repository_created": initialized, "forgotten": forgotten}


def snapshots(settings: Settings) -> list[dict[str, Any]]:
    repo = Repository.of(settings)
    repo.require()
    return [{"id": s["id"], "time": s["time"], "tags": s.get("tags") or []} for s in repo.snapshots()]


def _refused(snapshot_id: str | None, problems: list[str]) -> dict[str, Any]:
    return {"ok": False, "restored": None, "snapshot": snapshot_id, "problems": problems}


def restore_snapshot(settings: Settings, ref: str, target: Path, key_file: Path, policy: BackupPolicy,
                     verify: bool = True, db_url: str | None = None, hub_db_url: str | None = None,
                     with_hub: bool = True) -> dict[str, Any]:
    """Restore snapshot `ref` (an id or `latest`) into the empty `target` once it has proved whole.

    Everything happens in a scratch place beside the target: the repository is checked (with the policy's
    part of its data read back), the snapshot restored (restic authenticates every blob it reads), the
    signed manifest, checksums and audit chain verified. Only a snapshot that passes all of it is moved
    to `target`; anything else is refused with the reasons and leaves nothing behind.
    """
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: restore goes into an empty place")
    repo = Repository.of(settings)
    repo.require()
    snap_id = str(repo.snapshot(ref)["id"])
    _load_key(key_file)  # a missing key is an operator error, found before the data is read
    problems = repo.check(policy.read_data_subset)
    if problems:
        return _refused(snap_id, problems)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".enclave-restore-", dir=target.parent))
    try:
        try:
            repo.restore(snap_id, scratch / "snapshot")
        except ResticError as exc:
            return _refused(snap_id, [f"snapshot {snap_id[:8]} could not be read back: {exc}"])
        staged = scratch / "snapshot" / STAGED
        if not (staged / MANIFEST).exists():
            return _refused(snap_id, [f"snapshot {snap_id[:8]} holds no {MANIFEST}: not an enclave backup"])
        result = restore(staged, scratch / "home", key_file, verify, db_url, hub_db_url, with_hub)
        if not result["ok"]:
            return {**result, "restored": None, "snapshot": snap_id}
        if target.exists():
            target.rmdir()  # empty, checked above
        (scratch / "home").rename(target)
        moved = {"restored": str(target), "snapshot": snap_id}
        if not db_url:
            moved["db_url"] = _shown(f"sqlite:///{target / f'{ENCLAVE_DB}.sqlite'}")
        if (result.get("hub_db_url") or "").startswith("sqlite"):
            moved["hub_db_url"] = _shown(f"sqlite:///{target / f'{HUB_DB}.sqlite'}")
        return {**result, **moved}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def drill(settings: Settings, policy: BackupPolicy, actor: str, db_url: str | None = None) -> dict[str, Any]:
    """Restore the latest snapshot into a scratch place, verify it whole, remove it, record the outcome.

    The record goes into this enclave's own trail, pass or fail, with the snapshot id and the reasons.
    """
    from enclave import audit
    from enclave.db import session_scope

    scratch = Path(tempfile.mkdtemp(prefix=".enclave-drill-", dir=settings.home))
    try:
        result = restore_snapshot(settings, "latest", scratch / "home", settings.backup_signing_key, policy,
                                  True, db_url, with_hub=False)
    except EnclaveError as exc:
        result = _refused(None, [str(exc)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome = DrillOutcome.PASS if result["ok"] else DrillOutcome.FAIL
    with session_scope() as s:
        audit.record(s, actor, audit.AuditAction.BACKUP_DRILL, target=result.get("snapshot") or "",
                     outcome=outcome.value, checked=result.get("checked", {}), problems=result["problems"])
    return {**result, "drill": outcome.value, "restored": None, "scratch_removed": not scratch.exists()}
