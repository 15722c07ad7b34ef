"""The hardening every researcher container gets, workspace or job: one definition for both.

Workspaces (hub.spawner) and blind-mode jobs (jobs.runner) run code a researcher wrote; both drop every
capability, forbid gaining privileges, run on a read-only root with only the tmpfs folders given here,
and are held to the pids and memory (no swap beyond it) limits of their policy.
"""

from __future__ import annotations

from typing import Any

from enclave.settings import WORKSPACE_GID, WORKSPACE_UID
from policies.schema import Limits

CONTAINER_USER = f"{WORKSPACE_UID}:{WORKSPACE_GID}"


def scratch_tmpfs(size: str, *, exec_ok: bool = False) -> str:
    """A researcher-writable tmpfs of `size` (never setuid or devices)."""
    return f"rw,nosuid,nodev,{'' if exec_ok else 'noexec,'}size={size}"


def home_tmpfs(size: str) -> str:
    return f"rw,nosuid,nodev,size={size},uid={WORKSPACE_UID},gid={WORKSPACE_GID},mode=0700"


def hardened_host_config(limits: Limits, tmpfs: dict[str, str]) -> dict[str, Any]:
    """Docker host config for a researcher container: the caller adds mounts, network and CPU."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "tmpfs": dict(tmpfs),
        "pids_limit": limits.pids_limit,
        "mem_limit": limits.mem_limit,
        "memswap_limit": limits.mem_limit,  # no swap beyond the memory limit
        "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1"},
        "ipc_mode": "private",
        "init": True,
    }
