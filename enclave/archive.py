"""Closing a project: its workspace is archived read-only, then deleted after the retention period."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enclave import audit
from enclave.db import session_scope
from enclave.settings import Settings

MARKER = "ARCHIVED.json"


def archive_dir(settings: Settings, slug: str) -> Path:
    return settings.projects_dir / slug / "archive"


def archive_workspace(settings: Settings, slug: str, actor: str) -> dict[str, Any]:
    """Move the workspace aside and make every file read-only and root-owned (SATRE 3.1.14)."""
    src = settings.projects_dir / slug / "workspace"
    dst = archive_dir(settings, slug)
    if dst.exists():
        return json.loads((dst / MARKER).read_text())
    files = total = 0
    if src.exists():
        src.rename(dst)
        for path in dst.rglob("*"):
            if path.is_symlink():
                path.unlink()  # a link could point anywhere; the archive keeps plain files only
                continue
            if path.is_file():
                files += 1
                total += path.stat().st_size
    else:
        dst.mkdir(parents=True)
    info = {"project": slug, "archived_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": files,
            "bytes": total}
    (dst / MARKER).write_text(json.dumps(info))
    for path in [dst, *dst.rglob("*")]:
        os.chown(path, 0, 0, follow_symlinks=False)
        os.chmod(path, 0o500 if path.is_dir() else 0o400)
    with session_scope() as s:
        audit.record(s, actor, "workspace.archive", project=slug, target=str(dst), files=files, bytes=total)
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
                    audit.record(s, actor, "workspace.purge", project=info["project"], target=str(marker.parent),
                                 archived_at=info["archived_at"], retention_days=retention_days)
    return due
