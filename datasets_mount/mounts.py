"""What a workspace container mounts: approved dataset versions read-only, the project workspace writable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enclave.settings import Settings
from enclave.workspace_fs import ensure_workspace


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool

    def docker_volume(self) -> tuple[str, dict[str, str]]:
        return str(self.host), {"bind": self.container, "mode": "ro" if self.read_only else "rw"}


def dataset_mount(location: Path, name: str) -> Mount:
    return Mount(location, f"/data/{name}", True)


def project_workspace(settings: Settings, slug: str, size_bytes: int) -> Path:
    """The project's shared writable folder, owned by the workspace user and closed to others: its own
    filesystem of `size_bytes` (the project's disk quota), mounted before every start."""
    return ensure_workspace(settings, slug, size_bytes)
