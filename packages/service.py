"""The package index inside the enclave: what `pip` in a workspace installs from, and where it asks for more.

One process, one port (`Settings.packages_port`, 127.0.0.1 only; workspaces reach it at their network's
gateway, redirected by hub.network, and nothing else does):

- `/simple/` and `/packages/`: pypiserver serving `Settings.wheelhouse_dir` read-only, GET and HEAD only. It
  lists the folder on every request (its simple-dir backend), so a wheel a steward's approval checked into the
  wheelhouse is installable at once, without a restart; it never falls back to pypi.org, so a name that is
  not in the wheelhouse is "not found" and pip says so. Only `packages.wheelhouse` writes that folder, after
  its checks (wheel, size, sha256), so nothing unchecked is ever served.
- `/services/enclave-packages/api/requests`: the workspace's package requests (`enclave-packages` in a
  terminal). Authenticated like the jobs and export services: the workspace server's own token, which
  carries `custom:enclave-packages:request` filtered to its owner, and the call must come from that user's
  running workspace container; the project is that container's label, never a field of the call. GET lists
  the project's requests, POST asks (`packages.workflow.request_package`, whose rules and audit apply).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pypiserver
from docker.errors import DockerException
from jupyterhub.services.auth import HubAuth
from tornado import ioloop, web, wsgi

from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Unavailable
from enclave.projects import get_project, get_user
from enclave.settings import PACKAGES_PREFIX, PACKAGES_SERVICE, Settings, get_settings, hub_service_env
from enclave.webpages import WorkspaceTokenApi
from enclave.workspaces import workspace_of
from packages import rules
from packages.i18n import reason_zh
from packages.scopes import SCOPE_REQUEST
from packages.workflow import list_requests, refused_call, request_dict, request_package
from policies import load_policies
from policies.schema import PackagePolicy

log = logging.getLogger("enclave-packages-service")
FIELDS = {"spec", "reason"}
FAILED = "the package service failed on this call; tell the enclave administrators"


def index_app(settings: Settings) -> Any:
    """pypiserver over the wheelhouse: rescanned on every request, no uploads, no fallback to pypi.org, and
    sha256 in every link so pip checks each file it downloads."""
    settings.wheelhouse_dir.mkdir(parents=True, exist_ok=True)
    return pypiserver.app(roots=[settings.wheelhouse_dir], backend_arg="simple-dir", disable_fallback=True,
                          hash_algo="sha256", overwrite=False)


class Context:
    """What every handler shares: settings, the index (a WSGI app run in threads) and its own hub-auth client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub_auth = HubAuth()  # its own, not the process-wide HubAuth.instance()
        self.index = wsgi.WSGIContainer(index_app(settings), executor=ThreadPoolExecutor(4))

    def policy(self) -> PackagePolicy:
        """The allow-list as it is now: a steward's approval changes it while the service runs."""
        return load_policies(self.settings.policy_dir).packages


def status_of(exc: EnclaveError) -> int:
    for kind, code in ((Unavailable, 503), (NotFound, 404), (NotAllowed, 403), (InvalidTransition, 409)):
        if isinstance(exc, kind):
            return code
    return 400


def message(text: str, lang: str) -> str:
    return reason_zh(text) if lang == "zh-CN" else text


class Index(web.RequestHandler):
    """The read-only index: GET and HEAD handed to pypiserver, every other method refused."""

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx

    async def get(self, *_args: str) -> None:
        await self.ctx.index.handle_request(self.request)  # type: ignore[attr-defined]
        self._finished = True

    head = get


class RequestsApi(WorkspaceTokenApi, web.RequestHandler):
    """Token calls from workspaces only (no pages, no cookies, hence no XSRF): every answer is JSON."""

    token_scope = SCOPE_REQUEST
    token_needed = "a workspace token is needed: call this from your workspace (enclave-packages)"
    people_only = "only people can ask for packages"

    failed = FAILED

    def translated(self, text: str) -> str:
        return message(text, self.lang)

    def body_json(self) -> dict[str, str]:
        data = self.json_object(FIELDS)
        for key in FIELDS:
            if not isinstance(data.get(key, ""), str):
                raise web.HTTPError(400, "%s", f"'{key}' must be text")
        return {k: data.get(k, "") for k in FIELDS}

    async def call(self, fn: Callable[[str, str], Any]) -> Any:
        """`fn(user, project)` off the event loop, once the call is known to come from the caller's own
        workspace; domain errors become their HTTP status with the domain's own sentence."""
        name, address = self.caller(), self.request.remote_ip or ""
        try:
            return await asyncio.to_thread(self._checked, name, address, fn)
        except EnclaveError as exc:
            raise web.HTTPError(status_of(exc), "%s", str(exc)) from exc

    def _checked(self, name: str, address: str, fn: Callable[[str, str], Any]) -> Any:
        try:
            ws = workspace_of(self.ctx.settings, name)
        except DockerException as exc:
            raise Unavailable("the container engine does not answer; try again in a few minutes") from exc
        try:
            slug = rules.check_from_own_workspace(ws, address)
        except EnclaveError as exc:
            refused_call(name, ws.project if ws else None, address, exc)
            raise
        return fn(name, slug)

    async def get(self) -> None:
        """The project's package requests, oldest first, each with its state and the steward's reason."""
        def listed(name: str, slug: str) -> list[dict[str, Any]]:
            with session_scope() as s:
                rules.check_can_follow(get_user(s, name), get_project(s, slug))
                return [view(request_dict(r), self.lang) for r in list_requests(s) if r.project == slug]

        self.send_json(await self.call(listed))

    async def post(self) -> None:
        """Ask for a package for the caller's project: 201 with the request; a refusal is one sentence."""
        self.caller()  # a call without a workspace token is refused before its body is read
        body = self.body_json()
        policy = self.ctx.policy()

        def asked(name: str, slug: str) -> dict[str, Any]:
            with session_scope() as s:  # refusals are audited by request_package itself
                return view(request_dict(request_package(s, policy, name, slug, body["spec"], body["reason"])),
                            self.lang)

        self.send_json(await self.call(asked), status=201)


def view(d: dict[str, Any], lang: str) -> dict[str, Any]:
    """A request as its project's members read it: the fetch reason in their language."""
    d["fetch_text"] = (d.get("fetch_i18n") or {}).get(lang, d["fetch"]) if d["fetch"] not in ("", "ok") else ""
    return d


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


def make_app(ctx: Context) -> web.Application:
    p, d = PACKAGES_PREFIX, {"ctx": ctx}
    return web.Application([
        (p + "health", Health),
        (p + "api/requests", RequestsApi, d),
        (r"/simple/(.*)", Index, d),
        (r"/packages/(.*)", Index, d),
    ], xsrf_cookies=False)


def hub_env(settings: Settings) -> dict[str, str]:
    return hub_service_env(settings, PACKAGES_SERVICE, PACKAGES_PREFIX, settings.packages_port,
                           "packages-service-token")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    for key, value in hub_env(settings).items():
        os.environ.setdefault(key, value)
    app = make_app(Context(settings))
    # plain HTTP, loopback only: workspaces come through their gateway, redirected (hub.network), source kept
    app.listen(settings.packages_port, address=settings.internal_address, xheaders=False, max_body_size=64 * 1024)
    log.info("package index listening on %s:%d (/simple/, %sapi/requests)", settings.internal_address,
             settings.packages_port, PACKAGES_PREFIX)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
