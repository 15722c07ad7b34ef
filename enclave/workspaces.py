"""Stops a project's running workspaces when its approval no longer covers them.

Asked of the hub first (with a service token that may only list users and stop servers); the Docker
engine is the fallback when the hub does not answer, so a suspension never waits for the hub.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
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
