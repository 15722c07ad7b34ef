"""Reads the files an export request names from the project workspace, refusing every trick.

The workspace is researcher-controlled and a process in it may change it while we read, so nothing
is checked by path and then opened by path. Names are checked first (no absolute paths or `..`, no
control, invisible or direction-changing characters). Then a short-lived child process
(`egress_review.reader`) running as the workspace's own uid, not root, opens every file below an
already-open descriptor of the workspace root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
RESOLVE_NO_XDEV)`: no link anywhere on the path, no other filesystem, a regular file with a single
link (a hard link could point into a dataset), not over the size limits - each checked on the open
descriptor. The bytes are streamed back and handed to a sink (a root-only staging folder on the host)
one chunk at a time, so a request is never held in memory whole while it is read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, TypeVar

import regex

from egress_review import reader
from enclave.errors import EnclaveError
from enclave.settings import WORKSPACE_GID, WORKSPACE_MOUNT, WORKSPACE_UID

log = logging.getLogger("egress-review")
T = TypeVar("T")
READER_TIMEOUT_SECONDS = 300

# Control, format (bidirectional overrides and isolates, zero-width, U+061C...), unassigned, private-use,
# line/paragraph separators and every default-ignorable code point (Hangul fillers, variation selectors):
# characters that make a name look like another one to the reviewer.
_HIDDEN = regex.compile(r"[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]")


class CollectError(EnclaveError):
    pass


def shown(name: str) -> str:
    """The name with every hidden character spelled out, so a message cannot itself be disguised."""
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", name)


def clean(relpath: str) -> str:
    """The workspace-relative path a request names, or CollectError saying what is wrong with it."""
    hidden = _HIDDEN.findall(relpath)
    if any(ord(c) < 32 or c == "\x7f" for c in hidden):
        raise CollectError("{name!r}: file names with control characters are refused", name=shown(relpath))
    if hidden:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in hidden}))
        raise CollectError("{name!r}: file names with invisible or direction-changing characters "
                           "({codes}) are refused; rename the file", name=shown(relpath), codes=codes)
    check_normalised(relpath)
    p = PurePosixPath(relpath.removeprefix(WORKSPACE_MOUNT + "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise CollectError("{relpath}: only paths inside the project workspace can be exported", relpath=relpath)
    return str(p)


def _ambiguous(char: str) -> bool:
    """A character NFKC folds into letters or digits (ligatures, full-width or circled letters, superscripts):
    it reads as another name. Full-width punctuation (`（终稿）`) is common in Chinese names and stays."""
    folded = unicodedata.normalize("NFKC", char)
    return folded != char and any(c.isalnum() for c in folded)


def check_normalised(relpath: str) -> None:
    """A name must be the one form of its spelling (NFC) and mean one thing once compatibility forms are
    folded (NFKC): `ﬁle.txt` shows as `file.txt` to a reviewer, `Å.txt` decomposed as the composed one.
    CollectError otherwise, naming the rule broken."""
    if unicodedata.normalize("NFC", relpath) != relpath:
        raise CollectError("{name!r}: the file name is not in Unicode normal form (NFC): it can "
                           "show the same as another name; rename the file", name=shown(relpath))
    if any(_ambiguous(c) for c in relpath):
        raise CollectError("{name!r}: the file name holds compatibility characters (such as "
                           "ligatures or full-width letters) that read the same as other names; "
                           "rename the file", name=shown(relpath))


def _frames(out: IO[bytes], rel: str, max_file_bytes: int, budget: list[int]) -> Iterator[bytes]:
    """One file's bytes from the reader; the limits are enforced here too, not only in the child."""
    got = 0
    while True:
        head = out.read(reader.FRAME.size)
        if len(head) != reader.FRAME.size:
            raise CollectError("{rel}: the workspace reader stopped before the end of the file", rel=rel)
        kind, length = reader.FRAME.unpack(head)
        payload = out.read(length)
        if len(payload) != length:
            raise CollectError("{rel}: the workspace reader stopped before the end of the file", rel=rel)
        if kind == b"E":
            return
        if kind == b"X":
            raise CollectError(payload.decode(errors="replace"))
        if kind != b"D":
            raise CollectError("{rel}: the workspace reader sent something unreadable; nothing was kept", rel=rel)
        got += length
        budget[0] -= length
        if got > max_file_bytes:
            raise CollectError("{rel}: grew beyond the limit of {max_file_bytes} bytes while being read",
                               rel=rel, max_file_bytes=max_file_bytes)
        if budget[0] < 0:
            raise CollectError("{rel}: the files grew beyond the request's limit while being read", rel=rel)
        yield payload


def _start_reader(root_fd: int) -> subprocess.Popen[bytes]:
    """The reader, which becomes the workspace user (no root uid, gid or group) before it reads; empty
    environment, no site packages, only the workspace root's descriptor inherited."""
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", reader.__file__, str(root_fd), str(WORKSPACE_UID), str(WORKSPACE_GID)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(root_fd,), cwd="/",
            env={})
    except (OSError, subprocess.SubprocessError) as exc:
        raise CollectError("the workspace reader could not start as the workspace user; nothing "
                           "was read ({exc})", exc=exc) from exc


def collect(workspace: Path, relpaths: Sequence[str], max_file_bytes: int, max_total_bytes: int,
            sink: Callable[[Iterator[bytes]], T]) -> list[tuple[str, T]]:
    """Every file, or none: all are opened and checked before the first byte goes to `sink`.

    `sink` consumes one file's chunks and returns what the caller keeps (where it staged the copy).
    """
    names = [clean(p) for p in relpaths]
    try:
        root_fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise CollectError("the project's workspace is not available; nothing was read") from exc
    try:
        proc = _start_reader(root_fd)
    finally:
        os.close(root_fd)
    watchdog = threading.Timer(READER_TIMEOUT_SECONDS, proc.kill)
    watchdog.start()
    try:
        return _exchange(proc, names, max_file_bytes, max_total_bytes, sink)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
        _close_pipes(proc)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    """After the reader has ended: its complaints go to the service log, never to the requester."""
    assert proc.stderr is not None and proc.stdout is not None
    with contextlib.suppress(OSError, ValueError):
        err = proc.stderr.read()
        if proc.returncode not in (0, -9) and err:
            log.warning("workspace reader exited %s: %s", proc.returncode, err.decode(errors="replace")[-2000:])
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError, ValueError):
            if pipe is not None:
                pipe.close()


def _exchange(proc: subprocess.Popen[bytes], names: list[str], max_file_bytes: int, max_total_bytes: int,
              sink: Callable[[Iterator[bytes]], T]) -> list[tuple[str, T]]:
    assert proc.stdin is not None and proc.stdout is not None
    job = {"paths": names, "max_file_bytes": max_file_bytes, "max_total_bytes": max_total_bytes}
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        first = proc.stdout.readline()
        head = json.loads(first) if first else None
    except (OSError, ValueError):
        head = None
    if not isinstance(head, dict):
        raise CollectError("the workspace reader failed; nothing was read")
    if head.get("errors"):
        raise CollectError("; ".join(head["errors"]))
    budget = [max_total_bytes]
    try:
        return [(rel, sink(_frames(proc.stdout, rel, max_file_bytes, budget))) for rel in names]
    except struct.error as exc:
        raise CollectError("the workspace reader sent something unreadable; nothing was kept") from exc


def _in_memory(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


def collect_one(workspace: Path, relpath: str, max_bytes: int) -> tuple[str, bytes]:
    """One small file kept in memory (a model's training data for the membership-inference test)."""
    return collect(workspace, [relpath], max_bytes, max_bytes, _in_memory)[0]


# Folders a file picker never lists: tool state, not results.
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "lost+found"})


def listing(workspace: Path, limit: int = 500, depth: int = 6) -> tuple[list[str], bool]:
    """The workspace's regular files as request paths (sorted), and whether there were more than `limit`.

    Only names are read, to offer them in the browser's revise form; what is then requested is still read by
    `collect` with all its checks. Every folder is opened below its parent's descriptor without following a
    link (`O_NOFOLLOW`) and on the workspace's own filesystem only, so a folder swapped for a link while we
    list never lists a host folder. Hidden entries, links and names `clean` refuses are left out.
    """
    try:
        root = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return [], False
    found: list[str] = []
    try:
        more = _list_below(root, "", os.fstat(root).st_dev, found, limit, depth)
    finally:
        os.close(root)
    return sorted(found), more


def _list_below(fd: int, prefix: str, dev: int, found: list[str], limit: int, depth: int) -> bool:
    """Adds the files below the open folder `fd`; True once `limit` is passed."""
    try:
        entries = sorted(os.scandir(fd), key=lambda e: e.name)
    except OSError:
        return False
    for entry in entries:
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        rel = prefix + entry.name
        try:
            clean(rel)
        except CollectError:
            continue
        if entry.is_file(follow_symlinks=False):
            if len(found) >= limit:
                return True
            found.append(rel)
        elif (entry.is_dir(follow_symlinks=False) and depth > 1 and entry.name not in SKIPPED_FOLDERS
              and _list_folder(fd, entry.name, rel + "/", dev, found, limit, depth - 1)):
            return True
    return False


def _list_folder(parent: int, name: str, prefix: str, dev: int, found: list[str], limit: int, depth: int) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return False
    try:
        if os.fstat(fd).st_dev != dev:  # another filesystem mounted inside: not the workspace's
            return False
        return _list_below(fd, prefix, dev, found, limit, depth)
    finally:
        os.close(fd)
