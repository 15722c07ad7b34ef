"""The jobs service: a JupyterHub service through which a researcher submits blind-mode jobs from her workspace.

Output checkers use its pages (`jobs.pages`) after logging in through the hub: the proxy routes
/services/enclave-jobs/ here. Its JSON API answers workspaces only, authenticated like the export service's:
the workspace server's own token, which carries `custom:enclave-jobs:submit` filtered to its owner, and the
call must come from that user's running workspace container (the address is kept on the way in,
hub.network). The project is read from the container's labels (`enclave.workspaces.workspace_of`), never
from the request, so a token can only ever submit for its own project, from its own container. Who may
submit or see what is `jobs.rules`, the code the CLI uses; refusals are audited (`job.refused`) and answered
in the caller's language.

What it can do: snapshot the project's code folder and queue a job (`jobs.workflow.submit`), and show the
project's jobs with their state, exit code, run time, resource use and, per file, whether it came back
into `/workspace/jobs/<id>/` or is held, with the kinds of finding. What it cannot do: return a log or an
output to a workspace (those reach it only through the checks, written by the runner), start a container,
or show a workspace any value a check found; only an independent output checker's page shows held content.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from docker.errors import DockerException
from jupyterhub.services.auth import HubAuth, HubOAuthCallbackHandler
from tornado import ioloop, web

from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Unavailable
from enclave.models import Job, JobRelease
from enclave.projects import get_project, get_user
from enclave.settings import (
    JOBS_PREFIX,
    JOBS_SERVICE,
    WORKSPACE_JOBS,
    WORKSPACE_MOUNT,
    Settings,
    get_settings,
    hub_service_env,
)
from enclave.webpages import WorkspaceTokenApi
from enclave.workspaces import workspace_of
from jobs import pages, rules, workflow
from jobs.i18n import message
from jobs.results import LOG_NAME
from jobs.scopes import SCOPE_SUBMIT
from policies import load_policies
from policies.loader import Policies

log = logging.getLogger("enclave-jobs-service")
FIELDS = {"run", "outputs", "code"}


class Context:
    """What every handler shares: settings, policies and the service's own hub-auth client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policies: Policies = load_policies(settings.policy_dir)
        # its own object, not the process-wide HubAuth.instance() another service in the process may have made
        self.hub_auth = HubAuth()
        self.templates = pages.templates()


def status_of(exc: EnclaveError) -> int:
    """The HTTP status for a domain error; a job of another project is "not found" (rules.NotYourJob)."""
    for kind, code in ((Unavailable, 503), (NotFound, 404), (NotAllowed, 403), (InvalidTransition, 409)):
        if isinstance(exc, kind):
            return code
    return 400


def _run_seconds(job: Job) -> float | None:
    if "wall_seconds" in (job.resources or {}):
        return float(job.resources["wall_seconds"])
    if job.started_at and job.ended_at:
        return round((job.ended_at - job.started_at).total_seconds(), 3)
    return None


RELEASE_TEXT = {
    JobRelease.PENDING: "not checked yet: nothing of the job has come back",
    JobRelease.DELIVERED: "the checks passed the log and outputs: they are in {folder}",
    JobRelease.HELD: "held for an output checker: the files marked held are not in your workspace until one "
                     "releases them",
    JobRelease.BLOCKED: "blocked by the checks: the files marked blocked never come back into your workspace",
    JobRelease.RELEASED: "an output checker released the held files: they are in {folder}",
    JobRelease.WITHHELD: "an output checker kept the held files back: they do not come into your workspace",
}
RELEASE_ZH = {
    JobRelease.PENDING: "尚未检查：作业的任何内容都还没有返回",
    JobRelease.DELIVERED: "日志和输出已通过检查，位于 {folder}",
    JobRelease.HELD: "等待输出审核员审核：标记为待审的文件在审核员放行前不会出现在您的工作区",
    JobRelease.BLOCKED: "已被检查拦截：标记为拦截的文件永远不会返回您的工作区",
    JobRelease.RELEASED: "输出审核员已放行待审文件，位于 {folder}",
    JobRelease.WITHHELD: "输出审核员决定不放行待审文件，它们不会进入您的工作区",
}


def job_view(job: Job, lang: str) -> dict[str, Any]:
    """A job as its project's members see it from the workspace: state, exit code, run time, resource use, and
    per file whether it is in `/workspace/jobs/<id>/` or held, with the kinds of finding - never a value."""
    folder = f"{WORKSPACE_MOUNT}/{WORKSPACE_JOBS}/{job.id}/"
    back = job.release != JobRelease.PENDING
    files = [{"name": name, "verdict": meta["verdict"], "kinds": meta["kinds"], "bytes": meta["bytes"],
              "in_workspace": back and (meta["verdict"] == "pass" or job.release == JobRelease.RELEASED),
              "log": name == LOG_NAME} for name, meta in sorted(job.outputs.items())]
    for f in files:
        f["path"] = folder + str(f["name"]) if f["in_workspace"] else None
    text = (RELEASE_ZH if lang == "zh-CN" else RELEASE_TEXT)[job.release].format(folder=folder)
    return {"id": job.id, "project": job.project, "submitter": job.submitter, "command": job.command,
            "outputs_dir": job.outputs_dir, "code_sha256": job.code_sha256, "state": job.state.value,
            "reason": message(job.reason, lang), "exit_code": job.exit_code, "run_seconds": _run_seconds(job),
            "resources": job.resources, "limits": job.limits, "release": job.release.value, "release_text": text,
            "folder": folder if back else None, "files": files, "created_at": job.created_at,
            "started_at": job.started_at, "ended_at": job.ended_at, "rerun_of": job.rerun_of}


class ApiHandler(WorkspaceTokenApi, web.RequestHandler):
    """Token calls from workspaces only (no pages, no cookies, hence no XSRF): every answer is JSON."""

    token_scope = SCOPE_SUBMIT
    token_needed = ("a workspace token is needed: call this from your workspace "
                    "(enclave-job, or enclave_job in a notebook)")
    people_only = "only people can submit and follow jobs"

    failed = pages.FAILED["call"]

    def translated(self, text: str) -> str:
        return message(text, self.lang)

    async def call(self, step: str, fn: Callable[[str, str], Any]) -> Any:
        """`fn(user, project)` off the event loop, once the call is known to come from the caller's own
        workspace; domain errors become their HTTP status with the domain's own sentence."""
        name = self.caller()
        address = self.request.remote_ip or ""
        try:
            return await asyncio.to_thread(self._checked, step, name, address, fn)
        except EnclaveError as exc:
            raise web.HTTPError(status_of(exc), "%s", str(exc)) from exc

    def _checked(self, step: str, name: str, address: str, fn: Callable[[str, str], Any]) -> Any:
        try:
            ws = workspace_of(self.ctx.settings, name)
        except DockerException as exc:
            raise Unavailable("the container engine does not answer; try again in a few minutes") from exc
        with session_scope() as s, workflow.refusals_audited(s, name, step, ws.project if ws else None,
                                                             f"address:{address}"):
            slug = rules.check_from_own_workspace(ws, address)
        return fn(name, slug)


class JobsApi(ApiHandler):
    async def get(self) -> None:
        """The project's jobs, newest first."""
        def listed(name: str, slug: str) -> list[dict[str, Any]]:
            with session_scope() as s:
                with workflow.refusals_audited(s, name, "list", slug, f"project:{slug}"):
                    rules.check_can_follow(get_user(s, name), get_project(s, slug))
                return [job_view(j, self.lang) for j in reversed(workflow.jobs_of(s, slug))]

        self.send_json(await self.call("list", listed))

    async def post(self) -> None:
        """Snapshot the code folder and queue the job; 201 with the job as `GET api/jobs/<id>` shows it."""
        self.caller()  # a call without a workspace token is refused before its body is read
        body = self.json_object()
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise web.HTTPError(400, "%s", f"unknown field(s): {', '.join(unknown)}")
        for key in FIELDS & set(body):
            if not isinstance(body[key], str):
                raise web.HTTPError(400, "%s", f"'{key}' must be text")
        run, outputs, code = body.get("run", ""), body.get("outputs", "results"), body.get("code", ".")

        def submitted(name: str, slug: str) -> dict[str, Any]:
            with session_scope() as s:
                job = workflow.submit(s, self.ctx.settings, self.ctx.policies, name, slug, run, code=code,
                                      outputs=outputs)  # refusals audited there
                return job_view(job, self.lang)

        self.send_json(await self.call("submit", submitted), status=201)


class JobApi(ApiHandler):
    async def get(self, job_id: str) -> None:
        jid = int(job_id)

        def shown(name: str, slug: str) -> dict[str, Any]:
            with session_scope() as s:
                with workflow.refusals_audited(s, name, "show", slug, f"job:{jid}"):
                    job = rules.check_can_see(s.get(Job, jid), jid, get_user(s, name), get_project(s, slug))
                return job_view(job, self.lang)

        self.send_json(await self.call("show", shown))


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


def make_app(ctx: Context) -> web.Application:
    p, d = JOBS_PREFIX, {"ctx": ctx}
    return web.Application([
        (p + "health", Health),
        (p + r"api/jobs", JobsApi, d),
        (p + r"api/jobs/(\d+)", JobApi, d),
        (p + "oauth_callback", HubOAuthCallbackHandler),
        (p + r"held/(\d+)", pages.HeldJobPage, d),
        (p.rstrip("/") + r"/?", pages.QueuePage, d),
    ], cookie_secret=bytes.fromhex(ctx.settings.secret("jobs-cookie")), xsrf_cookies=True)


def hub_env(settings: Settings) -> dict[str, str]:
    return hub_service_env(settings, JOBS_SERVICE, JOBS_PREFIX, settings.jobs_port, "jobs-service-token")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    for key, value in hub_env(settings).items():
        os.environ.setdefault(key, value)
    app = make_app(Context(settings))
    # plain HTTP, loopback only: workspaces come through their gateway, redirected (hub.network), source kept;
    # no xheaders, so a call through the proxy is from 127.0.0.1 whatever X-Forwarded-For says (the API refuses it)
    app.listen(settings.jobs_port, address=settings.internal_address, xheaders=False, max_body_size=64 * 1024)
    log.info("jobs service listening on %s:%d%s", settings.internal_address, settings.jobs_port, JOBS_PREFIX)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
