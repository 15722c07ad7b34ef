"""What a workspace container mounts: approved dataset versions read-only (the real files, or in blind
mode their dummy versions), the project workspace writable."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from enclave.errors import Unavailable
from enclave.models import Dataset, WorkMode
from enclave.settings import DATA_MOUNT, SYNTHETIC_NOTICE, Settings
from enclave.workspace_fs import ensure_workspace


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool

    def docker_volume(self) -> tuple[str, dict[str, str]]:
        return str(self.host), {"bind": self.container, "mode": "ro" if self.read_only else "rw"}


def dataset_mount(location: Path, name: str) -> Mount:
    return Mount(location, f"{DATA_MOUNT}/{name}", True)


NOTICE = """# Synthetic data / 合成数据

**The files in /data are NOT the real data.** This project works in *blind mode*: every table here is a
dummy version made at ingestion, with the same files, columns and types as the real one, and made-up
values. Nothing you see here describes a real person. Write and test your code against it, then run it
on the real data with `enclave-job submit --run "python analysis/main.py"`; checked results come back
in /workspace/jobs/<id>/.

**/data 中的文件不是真实数据。** 本项目采用"可用不可见"（盲态）模式：这里的每个表都是入库时生成的模拟版本，
文件、列和类型与真实数据相同，数值为虚构，不描述任何真实的人。请用它编写和测试代码，然后用
`enclave-job submit --run "python analysis/main.py"` 在真实数据上运行；通过检查的结果会出现在
/workspace/jobs/<编号>/ 中。
"""


def notice_file(settings: Settings) -> Path:
    """The synthetic-data notice on the host, written once (root-owned, world-readable)."""
    path = settings.home / "dummy" / SYNTHETIC_NOTICE
    if not path.exists() or path.read_text(encoding="utf-8") != NOTICE:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(NOTICE, encoding="utf-8")
        os.chmod(tmp, 0o444)
        tmp.replace(path)
    return path


def _dummy_view(settings: Settings, ds: Dataset) -> Path:
    """The dummy version of `ds` with the notice beside its files; refused if ingestion made none."""
    folder = settings.dummy_dir(ds.name, ds.version)
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise Unavailable(f"dataset {ds.label} has no dummy version, so a blind workspace cannot show it; "
                          "a data steward must ingest it again")
    notice = folder / SYNTHETIC_NOTICE
    if not notice.exists():
        notice.write_text(NOTICE, encoding="utf-8")
        os.chmod(notice, 0o444)
    return folder


def data_mounts(settings: Settings, datasets: Sequence[Dataset], mode: WorkMode) -> list[Mount]:
    """The plan's data part: interactive mounts the real versions; blind mounts only the dummies (the real
    files are never named), with the notice in /data and at the root of JupyterLab's file browser."""
    if mode == WorkMode.INTERACTIVE:
        return [dataset_mount(Path(d.location), d.name) for d in datasets]
    mounts = [dataset_mount(_dummy_view(settings, d), d.name) for d in datasets]
    notice = notice_file(settings)
    mounts += [Mount(notice, f"{DATA_MOUNT}/{SYNTHETIC_NOTICE}", True),
               Mount(notice, f"/srv/enclave/{SYNTHETIC_NOTICE}", True)]  # JupyterLab's file browser root
    return mounts


def project_workspace(settings: Settings, slug: str, size_bytes: int) -> Path:
    """The project's shared writable folder, owned by the workspace user and closed to others: its own
    filesystem of `size_bytes` (the project's disk quota), mounted before every start."""
    return ensure_workspace(settings, slug, size_bytes)
