"""What a workspace container mounts: approved dataset versions read-only, the project workspace writable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WORKSPACE_UID = 1000


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool

    def docker_volume(self) -> tuple[str, dict[str, str]]:
        return str(self.host), {"bind": self.container, "mode": "ro" if self.read_only else "rw"}


def dataset_mount(location: Path, name: str) -> Mount:
    return Mount(location, f"/data/{name}", True)


def project_workspace(projects_root: Path, slug: str) -> Path:
    """The project's shared writable folder, owned by the workspace user and closed to others."""
    path = projects_root / slug / "workspace"
    if not path.exists():
        path.mkdir(parents=True)
        import os

        os.chown(path, WORKSPACE_UID, WORKSPACE_UID)
        os.chmod(path, 0o770)
    return path
