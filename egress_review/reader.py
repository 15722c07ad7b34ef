"""Reads export files from a workspace as the workspace's own uid, every path component below one open folder.

`egress_review.collect` starts this file as a short-lived child process (`python -I -S reader.py FD UID GID`)
with the workspace root as the already-open directory descriptor FD. Before it reads anything it drops
to the workspace user's uid and gid with no supplementary groups (`become`), so a file the researcher
cannot read is not read, whatever the path. It uses only the standard library, all imported before
the drop, so it runs without the enclave's environment.

Each path is opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)` relative to
FD, so the kernel refuses a symbolic link on any component, `..`, and other filesystems, in the same
lookup that opens the file: there is no gap between a check and an open for a racing process to swap
a folder for a link. Where the kernel has no `openat2`, the same is done one component at a time with
`openat(O_NOFOLLOW | O_DIRECTORY)` and a same-device check on each folder.

Protocol: stdin holds one JSON object `{"paths": [...], "max_file_bytes": N, "max_total_bytes": M}`
(paths already cleaned by the parent). Every file is opened and checked first; stdout then gets one
JSON line, `{"errors": [...]}` (and nothing else) or `{"sizes": [...]}`, followed by each file in turn
as frames: `D` + 4-byte length + bytes, `E` + 4 zero bytes at its end, or `X` + length + a message when
the file changed while being read.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import struct
import sys
from typing import BinaryIO

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
SYS_OPENAT2 = 437  # the same number on every Linux architecture (added in 5.6)
CHUNK = 1 << 20
FRAME = struct.Struct(">cI")


class Refused(Exception):
    """A path the reader will not open; the message says why and is shown to the requester."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_have_openat2: bool | None = None


def _openat2(root: int, rel: str, flags: int) -> int:
    """One lookup in the kernel: no link, no '..' escape, no other filesystem on the way."""
    how = _OpenHow(flags | os.O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV
                   | RESOLVE_NO_MAGICLINKS)
    fd = _libc.syscall(SYS_OPENAT2, ctypes.c_int(root), rel.encode("utf-8", "surrogateescape"),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), rel)
    return int(fd)


def _walk(root: int, rel: str, flags: int) -> int:
    """The same without openat2: each folder opened by name below the previous one's descriptor."""
    root_dev = os.fstat(root).st_dev
    parts = rel.split("/")
    fd = os.dup(root)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if os.fstat(fd).st_dev != root_dev:
                raise OSError(errno.EXDEV, "another filesystem on the way", rel)
        out = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)
    if os.fstat(out).st_dev != root_dev:
        os.close(out)
        raise OSError(errno.EXDEV, "another filesystem", rel)
    return out


def open_beneath(root: int, rel: str, flags: int = os.O_RDONLY | os.O_NONBLOCK) -> int:
    """Opens `rel` (a clean relative path) strictly inside the folder `root`, following no link at all."""
    global _have_openat2
    if _have_openat2 is not False:
        try:
            fd = _openat2(root, rel, flags)
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM) or _have_openat2:
                raise
            _have_openat2 = False  # old kernel, or a seccomp filter that hides the call
        else:
            _have_openat2 = True
            return fd
    return _walk(root, rel, flags)


def _link_on_path(root: int, rel: str) -> str | None:
    """For the message only: the first component that is a symbolic link now."""
    parts = rel.split("/")
    for i in range(len(parts)):
        try:
            st = os.stat("/".join(parts[: i + 1]), dir_fd=root, follow_symlinks=False)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return parts[i]
    return None


def _why(root: int, rel: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"{rel}: no such file in the workspace"
    if exc.errno == errno.ELOOP:
        link = _link_on_path(root, rel)
        where = f"'{link}' is a symbolic link" if link else "a symbolic link is on the path"
        return f"{rel}: {where}; symbolic links are refused"
    if exc.errno == errno.ENOTDIR:
        return f"{rel}: a part of the path is not a folder"
    if exc.errno == errno.EXDEV:
        return f"{rel}: leaves the workspace's filesystem; only files inside the workspace can be exported"
    if exc.errno == errno.EACCES:
        return f"{rel}: the workspace user cannot read it (permission denied)"
    if exc.errno == errno.EAGAIN:
        return f"{rel}: the path changed while it was opened; try again"
    return f"{rel}: cannot be opened ({os.strerror(exc.errno or 0)})"


def check_open(root: int, rel: str, max_file_bytes: int) -> tuple[int, int]:
    """An open descriptor and the size of a regular, single-link file inside the workspace."""
    try:
        fd = open_beneath(root, rel)
    except OSError as exc:
        raise Refused(_why(root, rel, exc)) from exc
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = f"{rel}: not a regular file (folders, devices, pipes and sockets are refused)"
    elif st.st_nlink != 1:
        problem = f"{rel}: has {st.st_nlink} hard links; hard links are refused"
    elif st.st_size > max_file_bytes:
        problem = f"{rel}: {st.st_size} bytes, over the limit of {max_file_bytes}"
    if problem:
        os.close(fd)
        raise Refused(problem)
    return fd, st.st_size


def _send(out: BinaryIO, kind: bytes, payload: bytes = b"") -> None:
    out.write(FRAME.pack(kind, len(payload)))
    out.write(payload)


def stream(out: BinaryIO, fd: int, rel: str, max_file_bytes: int) -> None:
    """The file's bytes as frames; over the limit while reading (it grew) ends with an `X` frame."""
    sent = 0
    while True:
        chunk = os.read(fd, min(CHUNK, max_file_bytes + 1 - sent))
        if not chunk:
            _send(out, b"E")
            return
        sent += len(chunk)
        if sent > max_file_bytes:
            _send(out, b"X", f"{rel}: grew beyond the limit of {max_file_bytes} bytes while being read".encode())
            return
        _send(out, b"D", chunk)


def become(uid: int, gid: int) -> None:
    """Drop every root identity for good before touching the workspace (started as root so that the
    interpreter and its modules, which may sit in root-only folders, are loaded first)."""
    if uid == 0 or gid == 0:
        raise SystemExit("the reader never reads as root")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if 0 in (*os.getresuid(), *os.getresgid(), *os.getgroups()):
        raise SystemExit("the reader could not drop root's uid, gid or groups")


def main() -> None:
    root, uid, gid = (int(a) for a in sys.argv[1:4])
    become(uid, gid)
    job = json.loads(sys.stdin.buffer.read())
    max_file, max_total = int(job["max_file_bytes"]), int(job["max_total_bytes"])
    opened: list[tuple[str, int]] = []
    sizes, errors = [], []
    for rel in job["paths"]:
        try:
            fd, size = check_open(root, rel, max_file)
        except Refused as exc:
            errors.append(str(exc))
            continue
        opened.append((rel, fd))
        sizes.append(size)
    if not errors and sum(sizes) > max_total:
        errors.append(f"the files add up to {sum(sizes)} bytes, over the limit of {max_total} per request")
    out = sys.stdout.buffer
    out.write(json.dumps({"errors": errors} if errors else {"sizes": sizes}).encode() + b"\n")
    if not errors:
        for rel, fd in opened:
            stream(out, fd, rel, max_file)
    out.flush()


if __name__ == "__main__":
    main()
