"""Reads the files an export request names from the project workspace, refusing every trick.

The workspace is researcher-controlled, so each path is checked on the host side: no absolute
paths or `..`, no symlink anywhere on the way, a regular file with a single link (a hard link could
point into a dataset), not over the size limit. The file is opened with O_NOFOLLOW and checked again
on the open descriptor, so it cannot be swapped between the check and the read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from enclave.errors import EnclaveError


class CollectError(EnclaveError):
    pass


def _clean(relpath: str) -> PurePosixPath:
    if any(ord(c) < 32 or c == "\x7f" for c in relpath):
        raise CollectError(f"{relpath!r}: file names with control characters are refused")
    p = PurePosixPath(relpath.removeprefix("/workspace/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise CollectError(f"{relpath}: only paths inside the project workspace can be exported")
    return p


def collect(workspace: Path, relpath: str, max_bytes: int) -> tuple[str, bytes]:
    rel = _clean(relpath)
    current = workspace
    for part in rel.parts[:-1]:
        current = current / part
        st = os.lstat(current) if os.path.lexists(current) else None
        if st is None:
            raise CollectError(f"{relpath}: no such file in the workspace")
        if stat.S_ISLNK(st.st_mode):
            raise CollectError(f"{relpath}: '{part}' is a symbolic link; links are refused")
        if not stat.S_ISDIR(st.st_mode):
            raise CollectError(f"{relpath}: '{part}' is not a folder")
    target = workspace / rel
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise CollectError(f"{relpath}: no such file in the workspace") from exc
    except OSError as exc:  # ELOOP: the last component is a symlink
        raise CollectError(f"{relpath}: symbolic links are refused") from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CollectError(f"{relpath}: not a regular file (devices, pipes and sockets are refused)")
        if st.st_nlink != 1:
            raise CollectError(f"{relpath}: has {st.st_nlink} hard links; hard links are refused")
        if st.st_size > max_bytes:
            raise CollectError(f"{relpath}: {st.st_size} bytes, over the limit of {max_bytes}")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CollectError(f"{relpath}: grew beyond the limit of {max_bytes} bytes while being read")
    return str(rel), data
