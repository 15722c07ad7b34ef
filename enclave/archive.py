"""Closing a project: its workspace is archived read-only, then deleted after the retention period."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enclave import audit, workspace_fs
from enclave.db import session_scope
from enclave.settings import Settings

MARKER = "ARCHIVED.json"


def archive_dir(settings: Settings, slug: str) -> Path:
    return settings.projects_dir / slug / "archive"


# Folders nested deeper than this are left out of the archive (and counted): the walk is recursive.
MAX_DEPTH = 200


@dataclass
class Copied:
    files: int = 0
    bytes: int = 0
    left_out: int = 0  # links, pipes, sockets, devices, folders too deep: the archive keeps plain files only


def _copy_file(src_dir: int, name: str, dst: Path, counts: Copied) -> None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src_dir)
    except OSError:  # replaced by a link or removed since it was listed
        counts.left_out += 1
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            counts.left_out += 1
            return
        out = os.open(dst / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o400)
        try:
            counts.bytes += _copy_data(fd, out)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    counts.files += 1


def _copy_data(src: int, dst: int) -> int:
    """Only the parts of the file that hold data, holes kept as holes: a sparse file of a terabyte inside a
    small quota stays small in the archive instead of filling the host's disk. Returns the file's size."""
    size = os.fstat(src).st_size
    pos = 0
    while pos < size:
        try:
            start = os.lseek(src, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                break
            raise
        end = os.lseek(src, start, os.SEEK_HOLE)
        while start < end:
            chunk = os.pread(src, min(1 << 20, end - start), start)
            if not chunk:
                break
            os.pwrite(dst, chunk, start)
            start += len(chunk)
        pos = end
    os.ftruncate(dst, size)
    return size


def _copy_tree(src_dir: int, dst: Path, counts: Copied, depth: int = 0) -> None:
    """Folders and regular files below the open folder `src_dir`, each opened by name relative to its
    parent's descriptor with O_NOFOLLOW: a link, wherever it is and whenever it appears, is never
    followed (the workspace's own modes are never touched: the archive is a root-owned copy)."""
    with os.scandir(src_dir) as entries:
        names = [e.name for e in entries]
    for name in names:
        try:
            st = os.stat(name, dir_fd=src_dir, follow_symlinks=False)
        except OSError:
            counts.left_out += 1
            continue
        if stat.S_ISREG(st.st_mode):
            _copy_file(src_dir, name, dst, counts)
        elif stat.S_ISDIR(st.st_mode) and depth < MAX_DEPTH:
            try:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
            except OSError:
                counts.left_out += 1
                continue
            try:
                (dst / name).mkdir(mode=0o700)
                _copy_tree(sub, dst / name, counts, depth + 1)
            finally:
                os.close(sub)
            os.chmod(dst / name, 0o500)
        else:
            counts.left_out += 1


def _workspace_root(settings: Settings, slug: str) -> Path | None:
    """The workspace to archive: its own filesystem, mounted; or a plain folder made before quotas."""
    mounted = workspace_fs.mount_existing(settings, slug)
    if mounted is not None:
        return mounted
    src = settings.workspace_dir(slug)
    return src if src.is_dir() and not src.is_symlink() else None


# Where a project's released imports (Settings.imports_dir, mounted read-only at /workspace/imports) go in its
# archive: beside the workspace's own files, under a name of their own.
ARCHIVED_IMPORTS = "released-imports"


def _archive_imports(settings: Settings, slug: str, dst: Path, counts: Copied) -> None:
    """The files the import airlock brought into the project are part of its record: archived with it."""
    imports = settings.imports_dir(slug)
    if not imports.is_dir() or imports.is_symlink():
        return
    name = ARCHIVED_IMPORTS
    while (dst / name).exists():  # the workspace had a folder of that name
        name += "_"
    (dst / name).mkdir(mode=0o700)
    root = os.open(imports, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _copy_tree(root, dst / name, counts)
    finally:
        os.close(root)
    os.chmod(dst / name, 0o500)


def _drop_imports(settings: Settings, slug: str) -> None:
    """After the archive holds them, the project's imports leave the live host paths with its workspace."""
    imports = settings.imports_dir(slug)
    if imports.is_symlink():
        imports.unlink()
    elif imports.is_dir():
        shutil.rmtree(imports)


def archive_workspace(settings: Settings, slug: str, actor: str) -> dict[str, Any]:
    """Copy the workspace's folders and regular files, and the project's released imports, into a root-owned,
    read-only archive (SATRE 3.1.14), then remove the workspace (its filesystem is unmounted and deleted) and the
    imports."""
    dst = archive_dir(settings, slug)
    if (dst / MARKER).exists():
        workspace_fs.release_workspace(settings, slug)  # finishes an archive cut off after the copy
        _drop_imports(settings, slug)
        return dict(json.loads((dst / MARKER).read_text()))
    if dst.exists():
        shutil.rmtree(dst)  # a copy cut off half-way: start again
    dst.mkdir(parents=True, mode=0o700)
    counts = Copied()
    src = _workspace_root(settings, slug)
    if src is not None:
        root = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            _copy_tree(root, dst, counts)
        finally:
            os.close(root)
    _archive_imports(settings, slug, dst, counts)
    info = {"project": slug, "archived_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": counts.files,
            "bytes": counts.bytes, "left_out": counts.left_out}
    marker = os.open(dst / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    with os.fdopen(marker, "w") as fh:
        fh.write(json.dumps(info))
    os.chmod(dst, 0o500)
    workspace_fs.release_workspace(settings, slug)
    _drop_imports(settings, slug)
    with session_scope() as s:
        audit.record(s, actor, audit.AuditAction.WORKSPACE_ARCHIVE, project=slug, target=str(dst),
                     files=counts.files, bytes=counts.bytes, left_out=counts.left_out)
    return info


def purge_archives(settings: Settings, retention_days: int, actor: str, *, dry_run: bool = False,
                   now: datetime | None = None) -> list[dict[str, Any]]:
    """Delete archives older than the retention period; each deletion is audited."""
    now = now or datetime.now(UTC)
    due = []
    if not settings.projects_dir.exists():
        return due
    for marker in sorted(settings.projects_dir.glob(f"*/archive/{MARKER}")):
        info = json.loads(marker.read_text())
        if datetime.fromisoformat(info["archived_at"]) + timedelta(days=retention_days) <= now:
            due.append(info)
            if not dry_run:
                shutil.rmtree(marker.parent)
                with session_scope() as s:
                    audit.record(s, actor, audit.AuditAction.WORKSPACE_PURGE, project=info["project"],
                                 target=str(marker.parent), archived_at=info["archived_at"],
                                 retention_days=retention_days)
    return due
