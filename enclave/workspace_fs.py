"""Each project's `/workspace` is its own filesystem: a sparse ext4 image loop-mounted on the host.

Without it a workspace could fill the disk that holds the database, the audit anchor and the export
store (researchers' code writes as much as it likes). The image's size is the project's quota: a
write past it fails with ENOSPC inside the workspace and the host's disk is untouched. The image is
mounted on demand before every start (idempotent, so it survives host reboots and re-mounts), with
`nosuid,nodev`; the bare mount point underneath is root-owned and read-only, so a workspace started
on it by mistake could not write to the host disk either. Hosts that cannot loop-mount refuse to
start workspaces with a message saying so, rather than run them without a limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from enclave.errors import EnclaveError, Unavailable
from enclave.settings import WORKSPACE_GID, WORKSPACE_UID, Settings

log = logging.getLogger("enclave")
MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"
TOOLS = ("mkfs.ext4", "e2fsck", "resize2fs", "mount", "umount", "losetup")


def check_loop_support() -> None:
    """Loop devices and the tools exist and we may use them; otherwise say what is missing."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise Unavailable(f"per-project workspace quotas need {', '.join(missing)} on the host; no workspace "
                          "starts without its quota (install e2fsprogs and mount)")
    if not os.path.exists("/dev/loop-control"):
        raise Unavailable("per-project workspace quotas need loop devices (/dev/loop-control is missing: "
                          "load the 'loop' kernel module); no workspace starts without its quota")
    if os.geteuid() != 0:
        raise Unavailable("per-project workspace quotas need root to loop-mount the workspace images; no "
                          "workspace starts without its quota")


def _run(*cmd: str, ok: tuple[int, ...] = (0,)) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if r.returncode not in ok:
        raise Unavailable(f"{cmd[0]} failed: {(r.stderr or r.stdout).strip()[-500:]}")


@contextlib.contextmanager
def _locked(settings: Settings, slug: str) -> Iterator[None]:
    """One change to a project's workspace filesystem at a time (two members starting at once)."""
    lock = settings.projects_dir / slug / ".workspace.lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def is_mounted(path: Path) -> bool:
    return os.path.ismount(path)


def _create_image(image: Path, size_bytes: int) -> None:
    """A sparse file the size of the quota, formatted ext4 with its root owned by the workspace user."""
    tmp = image.with_suffix(".img.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.ftruncate(fd, size_bytes)
    finally:
        os.close(fd)
    # -m 0: no blocks reserved for root (nothing in a workspace runs as root)
    _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"root_owner={WORKSPACE_UID}:{WORKSPACE_GID}",
         "-L", "enclave-ws", str(tmp))
    os.replace(tmp, image)


def _seal_mount_point(mount_point: Path) -> None:
    """The folder under the mount: root's and unwritable, so nothing lands on the host disk unmounted."""
    os.chown(mount_point, 0, 0, follow_symlinks=False)
    os.chmod(mount_point, 0o555)


def _mount(image: Path, mount_point: Path) -> None:
    _run("mount", "-o", MOUNT_OPTIONS, str(image), str(mount_point))
    os.chown(mount_point, WORKSPACE_UID, WORKSPACE_GID)
    os.chmod(mount_point, 0o770)
    lost = mount_point / "lost+found"
    if lost.is_dir() and not lost.is_symlink() and not any(lost.iterdir()):
        lost.rmdir()  # e2fsck recreates it when it needs it; researchers need not see it


def _migrate(old: Path, image: Path, mount_point: Path) -> None:
    """A workspace made before quotas (a plain folder): its files move into the new filesystem."""
    staging = old.with_name("workspace.migrating")
    staging.mkdir(mode=0o700, exist_ok=True)
    quota = image.stat().st_size
    _mount(image, staging)
    try:
        _run("cp", "-a", "--no-dereference", "--", f"{old}/.", f"{staging}/")
    except Unavailable as exc:
        _run("umount", str(staging))
        staging.rmdir()
        image.unlink()
        raise EnclaveError(f"the workspace's files do not fit in its quota of {quota} bytes and were left where "
                           f"they are; raise workspace_size in policies/workspace.yaml ({exc})") from exc
    _run("umount", str(staging))
    staging.rmdir()
    shutil.rmtree(old)
    mount_point.mkdir()


def _grow(image: Path, size_bytes: int) -> None:
    """A larger quota in the policy grows the filesystem before it is mounted (a mounted workspace is in
    use: it grows at its next mount); a smaller one never shrinks it."""
    if image.stat().st_size >= size_bytes:
        return
    os.truncate(image, size_bytes)
    _run("e2fsck", "-f", "-p", str(image), ok=(0, 1))  # 1: corrected (lost+found made again)
    _run("resize2fs", str(image))


def ensure_workspace(settings: Settings, slug: str, size_bytes: int) -> Path:
    """The project's workspace, mounted from its own filesystem of `size_bytes` (created the first time,
    grown at the next mount when the policy's size grew)."""
    check_loop_support()
    mount_point, image = settings.workspace_dir(slug), settings.workspace_image(slug)
    mount_point.parent.mkdir(parents=True, exist_ok=True)
    with _locked(settings, slug):
        if is_mounted(mount_point):
            return mount_point
        if not image.exists():
            _create_image(image, size_bytes)
            if mount_point.is_dir() and not mount_point.is_symlink() and any(mount_point.iterdir()):
                _migrate(mount_point, image, mount_point)
        if mount_point.is_symlink() or (mount_point.exists() and not mount_point.is_dir()):
            raise EnclaveError(f"{mount_point} is not a folder; the workspace cannot be mounted there")
        _grow(image, size_bytes)
        mount_point.mkdir(exist_ok=True)
        _seal_mount_point(mount_point)
        _mount(image, mount_point)
    return mount_point


def mount_existing(settings: Settings, slug: str) -> Path | None:
    """The mounted workspace when the project has its own filesystem (to archive it); None when it has none."""
    mount_point, image = settings.workspace_dir(slug), settings.workspace_image(slug)
    if not image.exists():
        return None
    with _locked(settings, slug):
        if not is_mounted(mount_point):
            check_loop_support()
            mount_point.mkdir(exist_ok=True)
            _seal_mount_point(mount_point)
            _mount(image, mount_point)
    return mount_point


def release_workspace(settings: Settings, slug: str) -> None:
    """Unmount and delete the project's filesystem (after its files were archived)."""
    mount_point, image = settings.workspace_dir(slug), settings.workspace_image(slug)
    if not (settings.projects_dir / slug).exists():
        return
    with _locked(settings, slug):
        if is_mounted(mount_point):
            try:
                _run("umount", str(mount_point))
            except Unavailable as exc:
                raise EnclaveError(f"the workspace of '{slug}' is still in use and cannot be unmounted; stop its "
                                   f"workspaces and try again ({exc})") from exc
        image.unlink(missing_ok=True)
        if mount_point.is_symlink():
            mount_point.unlink()
        elif mount_point.is_dir():
            try:
                shutil.rmtree(mount_point)  # also a plain folder from before quotas; rmtree never follows links
            except OSError as exc:
                raise EnclaveError(f"the workspace of '{slug}' is still being written to and cannot be removed; "
                                   f"stop its workspaces and try again ({exc.strerror})") from exc


def unmount_all(settings: Settings) -> list[str]:
    """Every project's workspace filesystem unmounted (the enclave is going down; starts mount them again).

    One still in use (a shell on the host inside it) stays mounted and is named in the log; the next
    start uses it as it is.
    """
    done = []
    for image in sorted(settings.projects_dir.glob("*/workspace.img")) if settings.projects_dir.exists() else []:
        slug = image.parent.name
        with _locked(settings, slug):
            if is_mounted(settings.workspace_dir(slug)):
                try:
                    _run("umount", str(settings.workspace_dir(slug)))
                except Unavailable as exc:
                    log.warning("workspace of %s stays mounted: %s", slug, exc)
                    continue
                done.append(slug)
    return done
