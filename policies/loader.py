"""Loads `policies/*.yaml`; a wrong file stops start-up with a message naming file, key and problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from policies.schema import (
    SECTIONS,
    BackupPolicy,
    DatasetPolicy,
    EgressPolicy,
    GovernancePolicy,
    ImportPolicy,
    Limits,
    PackagePolicy,
    WorkspacePolicy,
    size_to_bytes,
)


class PolicyError(ValueError):
    """A policy file is missing, unreadable or invalid; the message says where and why."""


@dataclass(frozen=True)
class Policies:
    workspace: WorkspacePolicy
    datasets: DatasetPolicy
    egress: EgressPolicy
    backup: BackupPolicy
    governance: GovernancePolicy
    packages: PackagePolicy
    imports: ImportPolicy
    source: Path

    def limits_for(self, cpu: float | None, mem: str | None, pids: int | None) -> Limits:
        """A project's limits: its own where set, else the default; never above the maximum."""
        d, m = self.workspace.defaults, self.workspace.maximum
        want = Limits(cpu_limit=cpu or d.cpu_limit, mem_limit=mem or d.mem_limit,
                      pids_limit=pids or d.pids_limit)
        problems = []
        if want.cpu_limit > m.cpu_limit:
            problems.append(f"cpu_limit {want.cpu_limit} is above the maximum {m.cpu_limit}")
        if size_to_bytes(want.mem_limit) > size_to_bytes(m.mem_limit):
            problems.append(f"mem_limit {want.mem_limit} is above the maximum {m.mem_limit}")
        if want.pids_limit > m.pids_limit:
            problems.append(f"pids_limit {want.pids_limit} is above the maximum {m.pids_limit}")
        if problems:
            raise PolicyError("; ".join(problems))
        return want


def _format(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid policy"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  key '{key}': {e['msg']}")
    return "\n".join(lines)


def load_section(path: Path, section: str) -> object:
    """One policy file, validated against its section's schema."""
    model = SECTIONS.get(section)
    if model is None:
        raise PolicyError(f"{path}: unknown policy file; expected one of " + ", ".join(f"{s}.yaml" for s in SECTIONS))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: key '(top level)': expected a mapping of settings")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_format(path, exc)) from exc


def load_policies(directory: Path) -> Policies:
    if not directory.is_dir():
        raise PolicyError(f"{directory}: policy directory does not exist")
    loaded = {path.stem: load_section(path, path.stem) for path in sorted(directory.glob("*.yaml"))}
    missing = [s for s in SECTIONS if s not in loaded]
    if missing:
        raise PolicyError(f"{directory}: missing policy file(s): " + ", ".join(f"{s}.yaml" for s in missing))
    return Policies(source=directory, **loaded)  # type: ignore[arg-type]
