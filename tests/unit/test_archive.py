"""Archiving a closed project copies its folders and plain files into a root-owned read-only archive and
never follows a link: a host file a link points to keeps its mode, even while links keep appearing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from enclave import audit
from enclave.archive import ARCHIVED_IMPORTS, archive_dir, archive_workspace, purge_archives
from enclave.db import session_scope
from enclave.settings import WORKSPACE_GID, WORKSPACE_UID, Settings, get_settings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="archives are made root-owned")

# A process left running in the workspace: plants links to a host file, as fast as it can, for a while.
PLANTER = r"""
import os, sys, time
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    for name in ("evil", "a.csv"):
        try:
            os.symlink(sys.argv[1], name)
        except OSError:
            pass
"""


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    f = tmp_path / "host-secret.key"
    f.write_text("not the workspace's\n")
    os.chmod(f, 0o640)
    return f


def plain_workspace(settings: Settings, slug: str, files: int = 3) -> Path:
    """A workspace folder (the layout before quotas) with a few folders and files of the workspace user."""
    ws = settings.workspace_dir(slug)
    (ws / "sub" / "deeper").mkdir(parents=True)
    for i in range(files):
        (ws / "sub" / f"t{i}.csv").write_text(f"g,n\na,{i}\n")
    (ws / "sub" / "deeper" / "notes.md").write_text("# notes\n")
    for p in [ws, *ws.rglob("*")]:
        os.chown(p, WORKSPACE_UID, WORKSPACE_GID, follow_symlinks=False)
    return ws


def test_an_archive_holds_plain_files_read_only_and_no_links(enclave_home: Path, host_file: Path):
    settings = get_settings()
    ws = plain_workspace(settings, "study")
    (ws / "sub" / "to-host").symlink_to(host_file)
    (ws / "dirlink").symlink_to(host_file.parent)
    os.mkfifo(ws / "pipe")
    info = archive_workspace(settings, "study", "steward")
    arch = archive_dir(settings, "study")
    assert (info["files"], info["left_out"]) == (4, 3)
    assert not ws.exists() and (arch / "sub" / "t0.csv").read_text() == "g,n\na,0\n"
    assert not any(p.is_symlink() for p in arch.rglob("*"))
    for p in arch.rglob("*"):
        st = p.lstat()
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == (0o500 if p.is_dir() else 0o400), p
    assert stat.S_IMODE(host_file.stat().st_mode) == 0o640 and host_file.stat().st_uid == 0
    assert archive_workspace(settings, "study", "steward") == info  # archiving again changes nothing
    from datetime import UTC, datetime, timedelta
    assert purge_archives(settings, 30, "steward", now=datetime.now(UTC) + timedelta(days=31))
    assert not arch.exists() and stat.S_IMODE(host_file.stat().st_mode) == 0o640
    with session_scope() as s:
        assert [e["action"] for e in audit.query(s, action="workspace.*")] == ["workspace.archive", "workspace.purge"]


def test_the_projects_released_imports_are_archived_with_it_and_leave_the_host(enclave_home: Path, host_file: Path):
    settings = get_settings()
    plain_workspace(settings, "study", files=1)
    released = settings.imports_dir("study") / "7"
    released.mkdir(parents=True)
    (released / "icd10.csv").write_text("code,name\nE11,diabetes\n")
    (released / "link").symlink_to(host_file)
    info = archive_workspace(settings, "study", "steward")
    arch = archive_dir(settings, "study")
    assert (arch / ARCHIVED_IMPORTS / "7" / "icd10.csv").read_text() == "code,name\nE11,diabetes\n"
    assert (info["files"], info["left_out"]) == (3, 1)  # the workspace's two files, the import; not the link
    assert not settings.imports_dir("study").exists()
    assert stat.S_IMODE((arch / ARCHIVED_IMPORTS).stat().st_mode) == 0o500


def test_links_planted_while_archiving_never_change_a_host_file(enclave_home: Path, host_file: Path):
    """A process still in the workspace keeps planting links (to a host file) where files were."""
    settings = get_settings()
    ws = plain_workspace(settings, "study", files=400)
    planter = subprocess.Popen([sys.executable, "-c", PLANTER, str(host_file), "4"], cwd=ws / "sub")
    time.sleep(0.3)
    try:
        for _ in range(20):  # archiving finishes once the workspace is quiet
            try:
                archive_workspace(settings, "study", "steward")
                break
            except Exception:  # noqa: BLE001 - still being written to
                time.sleep(0.5)
    finally:
        planter.wait(timeout=30)
    assert stat.S_IMODE(host_file.stat().st_mode) == 0o640 and host_file.stat().st_uid == 0
    arch = archive_dir(settings, "study")
    assert not any(p.is_symlink() for p in arch.rglob("*")) and (arch / "sub" / "t399.csv").exists()


def test_a_huge_sparse_file_stays_sparse_in_the_archive(enclave_home: Path):
    """A terabyte of holes inside a small quota must not become a terabyte on the host's disk when archived."""
    settings = get_settings()
    ws = plain_workspace(settings, "study")
    with open(ws / "sparse.bin", "wb") as fh:
        fh.write(b"head")
        fh.truncate(1024**4)
        fh.seek(1024**4 - 4)
        fh.write(b"tail")
    archive_workspace(settings, "study", "steward")
    kept = archive_dir(settings, "study") / "sparse.bin"
    st = kept.stat()
    assert st.st_size == 1024**4 and st.st_blocks * 512 < 1024**2
    with open(kept, "rb") as fh:
        head = fh.read(4)
        fh.seek(1024**4 - 4)
        assert (head, fh.read(4)) == (b"head", b"tail")
