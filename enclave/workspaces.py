"""Running workspaces as the container engine sees them: whose, for which project, at which addresses;
and stopping a project's workspaces when its approval no longer covers them.

The services that workspaces call (export requests, jobs) learn the caller's project from the caller's
running container (its labels, set by the spawner), never from the request, and accept a call only from
that container's addresses: `workspace_of` is that one lookup, shared by both.

Stopping is asked of the hub first (with a service token that may only list users and stop servers); the
Docker engine is the fallback when the hub does not answer, so a suspension never waits for the hub.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import docker

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.settings import INSTANCE_LABEL, PROJECT_LABEL, USER_LABEL, Settings

HUB_SERVICE = "enclave-admin"
HUB_SCOPES = ["list:users", "read:users", "read:servers", "delete:servers"]


def _hub(settings: Settings, method: str, path: str) -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{settings.hub_api_port}/hub/api{path}", method=method,
                                 headers={"Authorization": f"token {settings.secret('hub-admin-token')}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def stop_project_workspaces(settings: Settings, slug: str, reason: str, actor: str) -> list[str]:
    """Stop every running workspace of `slug`; returns the users whose workspace was stopped."""
    stopped: list[str] = []
    try:
        for user in _hub(settings, "GET", "/users?state=active"):
            for server_name, server in (user.get("servers") or {}).items():
                if (server.get("user_options") or {}).get("project") == slug:
                    suffix = f"/servers/{server_name}" if server_name else "/server"
                    _hub(settings, "DELETE", f"/users/{user['name']}{suffix}")
                    stopped.append(user["name"])
    except (urllib.error.URLError, OSError):
        pass  # hub down: the containers are removed directly below
    try:
        client = docker.from_env()
        containers = client.containers.list(all=True, filters={"label": [f"{PROJECT_LABEL}={slug}",
                                                                          f"{INSTANCE_LABEL}={settings.instance}"]})
    except docker.errors.DockerException:
        # No engine answers: it runs without live-restore, so no container of it runs either, and the
        # spawner checks the project's state before anything starts again.
        containers = []
    for c in containers:
        c.remove(force=True)
        user = c.labels.get(USER_LABEL, "")
        if user not in stopped:
            stopped.append(user)
    if stopped:
        with session_scope() as s:
            audit.record(s, actor, AuditAction.WORKSPACE_STOPPED_BY_POLICY, project=slug, target=",".join(stopped),
                         reason=reason)
    return stopped


@dataclass(frozen=True)
class RunningWorkspace:
    """A user's running workspace: the project it was started for and its addresses on the project network."""

    project: str
    addresses: frozenset[str]
    name: str = ""  # the container's name (the code record names the workspace by it)

    def is_at(self, address: str) -> bool:
        """Whether a connection from `address` comes from this container (the source is kept: hub.network)."""
        return address in self.addresses


def workspace_of(settings: Settings, username: str) -> RunningWorkspace | None:
    """The user's running workspace of this enclave instance, read from the container itself (None: none runs).

    The project is the container's label, which only the spawner sets; a caller never names it.
    """
    client = docker.from_env()
    try:
        for c in client.containers.list(filters={"status": "running", "label": [
                f"{INSTANCE_LABEL}={settings.instance}", f"{USER_LABEL}={username}"]}):
            if PROJECT_LABEL not in c.labels:
                continue
            nets = c.attrs["NetworkSettings"]["Networks"].values()
            return RunningWorkspace(c.labels[PROJECT_LABEL],
                                    frozenset(n["IPAddress"] for n in nets if n.get("IPAddress")), c.name)
    finally:
        client.close()
    return None
