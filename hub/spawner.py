"""EnclaveSpawner: one hardened container per user per approved project, on the project's own network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Unicode

from datasets_mount.mounts import Mount, data_mounts, project_workspace
from enclave import audit
from enclave.access import check_can_start, projects_for
from enclave.audit import AuditAction
from enclave.containers import CONTAINER_USER, hardened_host_config, home_tmpfs, scratch_tmpfs
from enclave.db import session_scope
from enclave.errors import EnclaveError, text_of
from enclave.modes import workspace_mode
from enclave.projects import SLUG, active_datasets
from enclave.settings import (
    ACTIVITY_PREFIX,
    EGRESS_PREFIX,
    IMPORTS_MOUNT,
    INSTANCE_LABEL,
    JOBS_PREFIX,
    PACKAGES_PREFIX,
    PROJECT_LABEL,
    USER_LABEL,
    WORKSPACE_MOUNT,
    Settings,
    get_settings,
)
from hub.i18n import handler_language
from hub.network import ensure_firewall, ensure_project_network
from hub.spawn_form import Progress, limits_text, mounts_text, project_form, ready_event, refusal
from policies import load_policies
from policies.schema import size_to_bytes


def _t(en: str, zh: str) -> str:
    """Both languages in the page; the hub's page shows the one matching the browser."""
    return f'<span class="i18n" lang="en">{en}</span><span class="i18n" lang="zh-CN">{zh}</span>'


def package_index_env(settings: Settings, gateway: str) -> dict[str, str]:
    """pip in the workspace reads the enclave's own index (packages.service, at the gateway: plain HTTP on the
    project network, hence trusted-host) and nothing else; enclave-packages asks the same service for more."""
    base = f"http://{gateway}:{settings.packages_port}"
    return {"PIP_INDEX_URL": f"{base}/simple/", "PIP_TRUSTED_HOST": gateway, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1", "PIP_RETRIES": "1", "PIP_TIMEOUT": "30",
            "ENCLAVE_PACKAGES_URL": f"{base}{PACKAGES_PREFIX}"}


def _check_user_options(spawner: EnclaveSpawner, user_options: dict[str, Any]) -> None:
    """User options come from a form or the REST API: only a project name is accepted."""
    unknown = sorted(set(user_options) - {"project"})
    if unknown:
        raise web.HTTPError(400, f"unknown option(s) {', '.join(unknown)}; only 'project' may be given")
    project = user_options.get("project", "")
    if project and not (isinstance(project, str) and SLUG.match(project)):
        raise web.HTTPError(400, f"'{project}' is not a project name")


def _imports_folder(path: Path) -> Path:
    """The project's imports folder, made if it is not there yet (a bind mount needs its source)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


class EnclaveSpawner(DockerSpawner):
    """Adds to DockerSpawner what it leaves out: project choice, per-project internal networks,
    the host firewall, dataset mounts from approvals, hardening and limits from policy, and audit."""

    project = Unicode("", help="Slug of the project this server was started for (persisted in state).")
    empty_resolv_conf = Unicode(
        help="Host path of an empty resolv.conf mounted into workspaces, so they have no DNS resolver."
    ).tag(config=True)

    def _options_form_default(self) -> Any:
        return self._project_form

    def _project_form(self, spawner: EnclaveSpawner) -> str:
        return project_form(spawner.user.name)

    def _progress_ready_hook_default(self) -> Any:
        return lambda spawner, event: ready_event(getattr(spawner, "_spawn_lang", "en"), event)

    def _lang(self) -> str:
        """The language of the request that is starting this server (en without one)."""
        return handler_language(getattr(self, "handler", None))

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        """The steps of this start (image, network, mounts, container, server), for the pending page."""
        progress = getattr(self, "_progress", None)
        if progress is not None:
            async for event in progress.follow():
                yield event

    def _apply_user_options_default(self) -> Any:
        return _check_user_options

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        return {"project": (formdata.get("project") or [""])[0]}

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.project:
            state["project"] = self.project
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.project = state.get("project", "")

    def clear_state(self) -> None:
        super().clear_state()
        self.project = ""

    def _choose_project(self) -> str:
        wanted = (self.user_options or {}).get("project", "")
        if wanted:
            return wanted
        with session_scope() as s:
            ok = [r.project for r in projects_for(s, self.user.name) if r.can_start]
        if len(ok) == 1:
            return ok[0]
        if not ok:
            raise refusal(403, self._lang(), "You have no active approved project, so you cannot start a workspace.")
        raise refusal(400, self._lang(), "Choose a project: you are a member of " + ", ".join(ok))

    async def start(self) -> Any:
        lang = self._lang()
        self._progress = progress = Progress(lang)
        self._spawn_lang = lang
        try:
            return await self._start(lang, progress)
        finally:
            progress.finish()

    async def _start(self, lang: str, progress: Progress) -> Any:
        settings = get_settings()
        policies = load_policies(settings.policy_dir)
        slug = self._choose_project()
        progress.stage("check", project=slug)
        try:
            with session_scope() as s:
                project = check_can_start(s, self.user.name, slug)
                limits = policies.limits_for(project.cpu_limit, project.mem_limit, project.pids_limit)
                mode = workspace_mode(policies, project)  # blind: the dummy versions only, never the real files
                mounts = data_mounts(settings, active_datasets(project), mode)
                datasets = [d.label for d in active_datasets(project)]
        except EnclaveError as exc:
            with session_scope() as s:
                audit.record(s, self.user.name, audit.AuditAction.WORKSPACE_DENIED, project=slug,
                             target=self.user.name, reason=str(exc))
            raise refusal(403, lang, text_of(exc)) from exc  # its Text: translated by template, names too

        progress.stage("image", image=str(self.image))
        # docker-py and iptables calls block; run them off the hub's event loop.
        try:
            client = await asyncio.to_thread(docker.from_env)
            net = await asyncio.to_thread(ensure_project_network, client, settings.instance, slug)
        except docker.errors.DockerException as exc:
            raise refusal(503, lang, "The container engine does not answer; no workspace can start until it is "
                                     "back. Please try again in a few minutes.") from exc
        progress.stage("network", network=net.name)
        await asyncio.to_thread(ensure_firewall, settings.gateway_ports, net.bridge)
        try:
            workspace = await asyncio.to_thread(project_workspace, settings, slug,
                                                size_to_bytes(policies.workspace.workspace_size))
        except EnclaveError as exc:  # no quota, no workspace: never a workspace on the host's own disk
            with session_scope() as s:
                audit.record(s, self.user.name, audit.AuditAction.WORKSPACE_DENIED, project=slug,
                             target=self.user.name, reason=str(exc))
            raise refusal(503, lang, f"The project's workspace cannot be mounted: {exc}") from exc
        progress.stage("mounts", mounts=mounts_text(lang, datasets))
        mounts.append(Mount(workspace, WORKSPACE_MOUNT, False))
        # the project's released imports (imports/), read-only; a bind of the folder shows new ones at once
        mounts.append(Mount(await asyncio.to_thread(_imports_folder, settings.imports_dir(slug)), IMPORTS_MOUNT, True))
        mounts.append(Mount(Path(self.empty_resolv_conf), "/etc/resolv.conf", True))

        self.project = slug
        self.object_name = f"{settings.instance}-ws-{self.escaped_name}-{slug}"
        self.network_name = net.name
        self.hub_connect_url = f"http://{net.gateway}:{settings.hub_api_port}"
        self.volumes = dict(m.docker_volume() for m in mounts)
        self.mem_limit = limits.mem_limit
        self.cpu_limit = limits.cpu_limit
        scratch = policies.workspace.scratch_size
        self.extra_host_config = hardened_host_config(
            limits, {"/tmp": scratch_tmpfs(scratch), "/home/researcher": home_tmpfs(scratch)})
        self.extra_create_kwargs = {"user": CONTAINER_USER,
                                    "labels": {PROJECT_LABEL: slug, USER_LABEL: self.user.name,
                                               INSTANCE_LABEL: settings.instance}}
        # enclave-export and enclave-job talk to the export and jobs services on the host (at the gateway,
        # redirected to 127.0.0.1 by hub.network), with the server's own token
        # ENCLAVE_LANG and LANG: the user's language for the workspace's messages and enclave-export's
        # Accept-Language; the image has no zh_CN locale, so the C library keeps C.UTF-8 (no warning, UTF-8)
        self.environment = {"ENCLAVE_PROJECT": slug, "ENCLAVE_LANG": lang,
                            "LANG": "zh_CN.UTF-8" if lang == "zh-CN" else "C.UTF-8", "ENCLAVE_WORK_MODE": mode.value,
                            "ENCLAVE_EXPORT_URL": f"http://{net.gateway}:{settings.egress_port}{EGRESS_PREFIX}",
                            "ENCLAVE_JOBS_URL": f"http://{net.gateway}:{settings.jobs_port}{JOBS_PREFIX}",
                            # every executed cell and terminal command goes on the record (activity.service)
                            "ENCLAVE_RECORD_URL": f"http://{net.gateway}:{settings.activity_port}{ACTIVITY_PREFIX}",
                            **package_index_env(settings, net.gateway)}
        with session_scope() as s:
            audit.record(s, self.user.name, AuditAction.WORKSPACE_START, project=slug, target=self.object_name,
                         network=net.name, datasets=datasets, work_mode=mode.value,
                         mounts=[{"host": str(m.host), "container": m.container, "read_only": m.read_only}
                                 for m in mounts],
                         limits=limits.model_dump())
        progress.stage("container", limits=limits_text(lang, limits))
        started = await super().start()
        progress.stage("server")
        return started

    async def stop(self, now: bool = False) -> None:
        project = self.project
        await super().stop(now=now)
        with session_scope() as s:
            audit.record(s, self.user.name, AuditAction.WORKSPACE_STOP, project=project or None,
                         target=self.object_name)
