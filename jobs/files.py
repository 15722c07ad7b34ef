"""Reading researcher-written folders on the host, and the content-addressed store jobs keep.

The code folder (in the project workspace) and a job's outputs folder are written by researchers'
code, and the host reads them as root: every folder is opened below an already-open descriptor
(`os.fwalk`, which never follows links) and every file with O_NOFOLLOW, checked to be a regular file
on the open descriptor. A link, a FIFO or a device is skipped and named, never followed, so no
file of the host can be pulled into a snapshot or an output. Both live on filesystems of their own
(the workspace image, the job's tmpfs), so a hard link into a dataset cannot exist there.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from enclave.checksums import content_path
from enclave.errors import EnclaveError, Unavailable

SKIPPED_DIRS = frozenset({"jobs", "__pycache__", ".ipynb_checkpoints", ".git"})


@dataclass
class Folder:
    """The regular files of a folder: relative path -> bytes, and what was skipped (with the reason)."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _open_regular(name: str, dir_fd: int) -> int | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def read_folder(root: Path, *, max_bytes: int, max_files: int, skip_top: frozenset[str] = frozenset(),
                what: str = "folder") -> Folder:
    """Every regular file under `root` (hidden names and `skip_top` folders at the top left out)."""
    out = Folder()
    total = 0
    try:
        walker: Iterator[tuple[str, list[str], list[str], int]] = os.fwalk(root, follow_symlinks=False)
        for dirpath, dirnames, filenames, dir_fd in walker:
            rel_dir = os.path.relpath(dirpath, root)
            top = rel_dir == "."
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS
                                 and not (top and d in skip_top))
            for name in sorted(filenames):
                rel = name if top else f"{rel_dir}/{name}"
                if name.startswith("."):
                    continue
                fd = _open_regular(name, dir_fd)
                if fd is None:
                    out.skipped.append(f"{rel}: not a regular file (a link, FIFO or device), left out")
                    continue
                with os.fdopen(fd, "rb") as fh:
                    data = fh.read(max_bytes - total + 1)
                total += len(data)
                if total > max_bytes:
                    raise EnclaveError(f"the {what} holds more than {max_bytes} bytes; keep data and large "
                                       "files out of it")
                out.files[rel] = data
                if len(out.files) > max_files:
                    raise EnclaveError(f"the {what} holds more than {max_files} files")
    except FileNotFoundError as exc:
        raise EnclaveError(f"the {what} does not exist") from exc
    return out


def store_blob(store: Path, data: bytes) -> str:
    """Write once under its sha256, read-only; the same bytes twice are one copy."""
    digest = hashlib.sha256(data).hexdigest()
    path = content_path(store, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{digest}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_bytes(data)
            os.chmod(tmp, 0o400)
            tmp.rename(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise Unavailable(f"the job store cannot be written ({exc.strerror}); tell the enclave "
                              "administrators") from exc
    return digest


def read_blob(store: Path, digest: str) -> bytes:
    return content_path(store, digest).read_bytes()


def snapshot(store: Path, folder: Folder) -> tuple[str, dict[str, str]]:
    """The code as submitted: each file stored by content, and the manifest's own hash names the snapshot."""
    manifest = {rel: store_blob(store, data) for rel, data in sorted(folder.files.items())}
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return digest, manifest


def materialise(store: Path, manifest: dict[str, str], dest: Path, mountpoints: list[str]) -> None:
    """The snapshot as a read-only folder for the job's container; `mountpoints` are empty folders in it
    (the outputs folder), made here so the engine never creates anything in it."""
    dest.mkdir(parents=True, exist_ok=False)
    for rel, digest in manifest.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read_blob(store, digest))
        os.chmod(target, 0o444)
    for rel in mountpoints:
        (dest / rel).mkdir(parents=True, exist_ok=True)
    for path in sorted((p for p in dest.rglob("*") if p.is_dir()), reverse=True):
        os.chmod(path, 0o555)
    os.chmod(dest, 0o555)
