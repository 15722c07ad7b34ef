"""A job's log and outputs: checked like export requests, stored by content, delivered into the workspace.

The checks are the export checks (`egress_review.scan.scan_bytes`, with the project's own-data index and
disclosure control), so what a job brings back into a blind workspace passes the same gate as what
leaves the enclave. Only files that pass (or that an output checker released) are copied to
`/workspace/jobs/<id>/`, root-owned and read-only; `job.json` there always says the job's state, exit
code, resource use and, per file, the verdict and the kinds of finding - never a value.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import uuid
from typing import Any

from sqlalchemy.orm import Session

from egress_review.owndata import IndexCache
from egress_review.scan import scan_bytes
from enclave.errors import Unavailable
from enclave.models import Job, JobRelease
from enclave.pii.keyed import index_key, index_root
from enclave.provenance import provenance
from enclave.settings import WORKSPACE_JOBS, Settings
from jobs.files import read_blob, store_blob
from jobs.i18n import reason_zh
from policies import Policies

LOG_NAME = "log.txt"
STATUS_NAME = "job.json"
VISIBLE = frozenset({JobRelease.DELIVERED, JobRelease.RELEASED})


def _kinds(findings: list[dict[str, Any]]) -> list[str]:
    """The kinds of finding (check and entity or rule), which say why without showing what was found."""
    return sorted({f"{f['check']}:{f.get('entity') or f.get('rule') or ''}".rstrip(":")
                   for f in findings if f.get("verdict") != "pass"})


def _findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an output checker's page lists per finding: check, kind, verdict and where; never the detail,
    which may quote a value (the checker reads the content itself beside the list)."""
    return [{"check": f["check"], "kind": f.get("entity") or f.get("rule") or "", "verdict": f["verdict"],
             "location": f.get("location") or {}} for f in findings if f.get("verdict") != "pass"]


def check_files(settings: Settings, policies: Policies, session: Session, job: Job,
                files: dict[str, bytes]) -> tuple[dict[str, Any], JobRelease]:
    """Every file through the export checks; the rebuilt (checked) form is what is stored and delivered."""
    policy = policies.egress.for_project(job.project)
    labels = [f"{name}@{d['version']}" for name, d in job.datasets.items()]
    own = IndexCache(index_root(settings), index_key(settings)).for_datasets(labels) if labels else None
    out: dict[str, Any] = {}
    for name, data in files.items():
        result = scan_bytes(name, data, policy, own=own)
        kept = result.rebuilt if result.rebuilt is not None else b""
        d = result.to_dict(50)
        out[name] = {"sha256": store_blob(settings.jobs_store, kept), "original_sha256": result.original_sha256
                     or result.sha256, "bytes": len(kept), "verdict": d["verdict"], "kinds": _kinds(d["findings"]),
                     "findings": _findings(d["findings"])}
    verdicts = {v["verdict"] for v in out.values()}
    release = (JobRelease.BLOCKED if "block" in verdicts else JobRelease.HELD if "review" in verdicts
               else JobRelease.DELIVERED)
    return out, release


def _status(job: Job) -> dict[str, Any]:
    p = provenance(job)
    p["reason_zh-CN"] = reason_zh(job.reason)
    p["release"] = job.release.value
    p["files"] = {k: {"verdict": v["verdict"], "kinds": v["kinds"],
                      "in_workspace": v["verdict"] == "pass" or job.release == JobRelease.RELEASED}
                  for k, v in job.outputs.items()}
    return p


def _open_dir(name: str, dir_fd: int) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def _jobs_dir_fd(root_fd: int) -> int:
    """`/workspace/jobs`, root-owned: one a researcher made or replaced (even by a link) is moved aside."""
    try:
        fd = _open_dir(WORKSPACE_JOBS, root_fd)
        if os.fstat(fd).st_uid == 0:
            return fd
        os.close(fd)
    except FileNotFoundError:
        pass
    except OSError:  # a link or a file in its place
        pass
    try:
        os.stat(WORKSPACE_JOBS, dir_fd=root_fd, follow_symlinks=False)
        os.rename(WORKSPACE_JOBS, f"{WORKSPACE_JOBS}.moved-{uuid.uuid4().hex[:8]}", src_dir_fd=root_fd,
                  dst_dir_fd=root_fd)
    except FileNotFoundError:
        pass
    os.mkdir(WORKSPACE_JOBS, 0o755, dir_fd=root_fd)
    fd = _open_dir(WORKSPACE_JOBS, root_fd)
    os.fchown(fd, 0, 0)
    os.fchmod(fd, 0o755)
    return fd


def _write(name: str, data: bytes, dir_fd: int) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _makedirs(rel: str, dir_fd: int) -> int:
    """Nested folders below `dir_fd` (all ours, made just now); the innermost's descriptor."""
    fd = os.dup(dir_fd)
    for part in rel.split("/"):
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=fd)
        nxt = _open_dir(part, fd)
        os.close(fd)
        fd = nxt
    return fd


def deliver(settings: Settings, job: Job) -> list[str]:
    """Write `/workspace/jobs/<id>/` afresh (idempotent: after a restart it is written again whole).

    Built under a temporary name and renamed into place, so the workspace never shows half a job.
    Returns the files delivered.
    """
    root = settings.workspace_dir(job.project)
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise Unavailable(f"the workspace of project '{job.project}' is not mounted; job {job.id}'s results "
                          "are kept and delivered when it is") from exc
    delivered: list[str] = []
    try:
        jobs_fd = _jobs_dir_fd(root_fd)
        try:
            tmp = f".{job.id}.{uuid.uuid4().hex[:8]}"
            os.mkdir(tmp, 0o755, dir_fd=jobs_fd)
            tmp_fd = _open_dir(tmp, jobs_fd)
            try:
                for name, meta in sorted(job.outputs.items()):
                    if not (meta["verdict"] == "pass" or job.release == JobRelease.RELEASED):
                        continue
                    parent, _, base = name.rpartition("/")
                    fd = _makedirs(parent, tmp_fd) if parent else os.dup(tmp_fd)
                    try:
                        _write(base, read_blob(settings.jobs_store, meta["sha256"]), fd)
                        os.fchmod(fd, 0o555)
                    finally:
                        os.close(fd)
                    delivered.append(name)
                _write(STATUS_NAME, json.dumps(_status(job), ensure_ascii=False, indent=1, default=str).encode(),
                       tmp_fd)
                os.fchmod(tmp_fd, 0o555)
            finally:
                os.close(tmp_fd)
            _replace(jobs_fd, tmp, str(job.id))
        finally:
            os.close(jobs_fd)
    finally:
        os.close(root_fd)
    return delivered


def _replace(jobs_fd: int, tmp: str, final: str) -> None:
    """Put the new folder in place of an older delivery of the same job (after a release, or a restart)."""
    try:
        os.rename(tmp, final, src_dir_fd=jobs_fd, dst_dir_fd=jobs_fd)
        return
    except OSError:
        pass
    old = f".{final}.old-{uuid.uuid4().hex[:8]}"
    os.rename(final, old, src_dir_fd=jobs_fd, dst_dir_fd=jobs_fd)
    os.rename(tmp, final, src_dir_fd=jobs_fd, dst_dir_fd=jobs_fd)
    _remove_tree(old, jobs_fd)


def _remove_tree(name: str, dir_fd: int) -> None:
    fd = _open_dir(name, dir_fd)
    try:
        os.fchmod(fd, 0o755)
        for entry in os.listdir(fd):
            st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                _remove_tree(entry, fd)
            else:
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def delivered(settings: Settings, job: Job) -> bool:
    """Whether the workspace shows this job's status (the last step of finishing it)."""
    path = settings.workspace_dir(job.project) / WORKSPACE_JOBS / str(job.id) / STATUS_NAME
    try:
        return json.loads(path.read_text()).get("release") == job.release.value
    except (OSError, ValueError):
        return False
