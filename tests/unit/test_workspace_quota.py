"""Each project's /workspace is its own filesystem of the policy's size: a workspace that writes past it
gets ENOSPC and the host's disk is untouched; the mount survives re-mounts and is made idempotently."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from datasets_mount.mounts import project_workspace
from enclave import workspace_fs
from enclave.errors import Unavailable
from enclave.settings import REPO_ROOT, WORKSPACE_GID, WORKSPACE_UID, Settings
from policies import load_policies
from policies.schema import size_to_bytes

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/loop-control"),
                                reason="loop-mounting needs root and loop devices")

QUOTA = 32 * 1024**2


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1] for line in fh]
    return [p for p in points if p == str(path) or p.startswith(f"{path}/")]


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(home=tmp_path / "home", db_url="sqlite://", policy_dir=REPO_ROOT / "policies")
    yield s
    for point in reversed(mounts_under(tmp_path)):  # never leave a loop device behind
        subprocess.run(["umount", point], check=False)


def as_workspace_user(cwd: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    """A workspace process: the workspace user, in the folder (entered before the uid changes)."""
    return subprocess.run(cmd, user=WORKSPACE_UID, group=WORKSPACE_GID, extra_groups=[], capture_output=True,
                          text=True, cwd=cwd)


def test_the_policy_gives_every_workspace_a_size():
    assert size_to_bytes(load_policies(REPO_ROOT / "policies").workspace.workspace_size) >= 1024**3


def test_writing_past_the_quota_fails_with_enospc_and_the_host_disk_is_untouched(settings: Settings):
    ws = project_workspace(settings, "study", QUOTA)
    assert os.path.ismount(ws) and os.stat(ws).st_dev != os.stat(settings.home).st_dev
    st = os.stat(ws)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (WORKSPACE_UID, WORKSPACE_GID, 0o770)
    r = as_workspace_user(ws, "dd", "if=/dev/zero", "of=fill.bin", "bs=1M", "count=128")
    assert r.returncode != 0 and "No space left on device" in r.stderr, r.stderr
    assert (ws / "fill.bin").stat().st_size <= QUOTA
    image = settings.workspace_image("study")
    assert image.stat().st_blocks * 512 <= QUOTA  # everything written is inside the image, which cannot grow
    host = [p for p in settings.home.rglob("*") if p.is_file() and p != image and not str(p).startswith(str(ws))]
    assert sum(p.stat().st_size for p in host) < 4096  # nothing else on the host disk (a lock file)


def test_the_workspace_survives_unmounting_and_is_mounted_once(settings: Settings):
    ws = project_workspace(settings, "study", QUOTA)
    assert as_workspace_user(ws, "sh", "-c", "echo kept > notes.txt").returncode == 0
    assert project_workspace(settings, "study", QUOTA) == ws and len(mounts_under(ws)) == 1
    subprocess.run(["umount", str(ws)], check=True)  # e.g. a host reboot
    assert not (ws / "notes.txt").exists()
    r = as_workspace_user(ws, "sh", "-c", "echo leak > leak.txt")  # the bare mount point takes nothing
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert project_workspace(settings, "study", QUOTA) == ws and (ws / "notes.txt").read_text() == "kept\n"


def test_a_workspace_from_before_quotas_moves_into_its_own_filesystem(settings: Settings):
    old = settings.workspace_dir("study")
    (old / "results").mkdir(parents=True)
    (old / "results" / "table.csv").write_text("g,n\na,50\n")
    (old / "link").symlink_to("/etc/passwd")
    for p in (old, old / "results", old / "results" / "table.csv"):
        os.chown(p, WORKSPACE_UID, WORKSPACE_GID, follow_symlinks=False)
    ws = project_workspace(settings, "study", QUOTA)
    assert os.path.ismount(ws) and (ws / "results" / "table.csv").read_text() == "g,n\na,50\n"
    assert (ws / "results" / "table.csv").stat().st_uid == WORKSPACE_UID
    assert os.readlink(ws / "link") == "/etc/passwd"  # copied as a link, never followed
    assert sorted(p.name for p in (settings.projects_dir / "study").iterdir()) == [
        ".workspace.lock", "workspace", "workspace.img"]


def test_without_loop_devices_no_workspace_is_made(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    real = os.path.exists
    monkeypatch.setattr(workspace_fs.os.path, "exists", lambda p: False if p == "/dev/loop-control" else real(p))
    with pytest.raises(Unavailable, match="need loop devices .* no workspace starts without its quota"):
        project_workspace(settings, "study", QUOTA)
    monkeypatch.undo()
    which = shutil.which
    monkeypatch.setattr(workspace_fs.shutil, "which", lambda t: None if t == "mkfs.ext4" else which(t))
    with pytest.raises(Unavailable, match="need mkfs.ext4"):
        project_workspace(settings, "study", QUOTA)
    assert not settings.workspace_dir("study").exists()


def test_a_larger_quota_in_the_policy_grows_the_workspace_at_its_next_mount(settings: Settings):
    ws = project_workspace(settings, "study", QUOTA)
    (ws / "kept.txt").write_text("kept\n")
    before = os.statvfs(ws).f_blocks * os.statvfs(ws).f_frsize
    subprocess.run(["umount", str(ws)], check=True)  # all its workspaces stopped
    assert project_workspace(settings, "study", 2 * QUOTA) == ws
    after = os.statvfs(ws)
    assert after.f_blocks * after.f_frsize > 1.8 * before and (ws / "kept.txt").read_text() == "kept\n"
    subprocess.run(["umount", str(ws)], check=True)
    assert project_workspace(settings, "study", QUOTA) == ws  # never shrunk
    assert os.statvfs(ws).f_blocks == after.f_blocks


def test_going_down_unmounts_every_workspace_and_the_next_start_mounts_it_again(settings: Settings):
    a, b = project_workspace(settings, "study", QUOTA), project_workspace(settings, "other", QUOTA)
    assert workspace_fs.unmount_all(settings) == ["other", "study"]
    assert not os.path.ismount(a) and not os.path.ismount(b) and mounts_under(settings.home) == []
    assert project_workspace(settings, "study", QUOTA) == a and os.path.ismount(a)


def test_the_enclave_refuses_to_start_without_loop_devices(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    from enclave_demo import runner

    started: list[str] = []
    monkeypatch.setattr(runner, "start_process", lambda s, name, *a, **k: started.append(name))
    real = os.path.exists
    monkeypatch.setattr(workspace_fs.os.path, "exists", lambda p: False if p == "/dev/loop-control" else real(p))
    with pytest.raises(Unavailable, match="need loop devices"):
        runner.start_all(settings, settings.home / "idp.json")
    assert started == []
