"""The code recorder service: workspaces post every executed cell and terminal command here, on the host.

It listens on 127.0.0.1 (Settings.activity_port); workspaces reach it at their network's gateway, redirected
with their source address kept (hub.network). A call is authenticated exactly as the jobs and export services
authenticate one: the workspace server's own token (which carries `custom:enclave-activity:record` filtered to
its owner) checked by the hub, and the call must come from that user's running container. User, project and
workspace come from the token and the container, never from the body (`activity.records.check_entry` refuses
a body that names them). There is no API to change or remove a record: `POST api/records` only appends, and
the records live in the enclave's database, which no workspace can reach. Refusals are audited
(`code.record.refused`) and answered in the caller's language.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from docker.errors import DockerException
from jupyterhub.services.auth import HubAuth
from tornado import ioloop, web

from activity import records
from activity.i18n import message
from activity.scopes import SCOPE_RECORD
from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, NotAllowed, Unavailable
from enclave.settings import ACTIVITY_PREFIX, ACTIVITY_SERVICE, Settings, get_settings, hub_service_env
from enclave.webpages import WorkspaceTokenApi
from enclave.workspaces import workspace_of

log = logging.getLogger("enclave-activity-service")
BODY_FIELDS = {"records", "gap"}
MAX_BODY = 8 * 1024 * 1024


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub_auth = HubAuth()  # its own, not a process-wide instance another service in the process made


def status_of(exc: EnclaveError) -> int:
    for kind, code in ((Unavailable, 503), (NotAllowed, 403)):
        if isinstance(exc, kind):
            return code
    return 400


class RecordsApi(WorkspaceTokenApi, web.RequestHandler):
    """`POST api/records` {"records": [...], "gap": {...}}: appends; JSON answers only, token calls only."""

    token_scope = SCOPE_RECORD
    token_needed = "a workspace token is needed: the recorder in your workspace sends it"
    people_only = "only people's workspaces are recorded"

    failed = "the code recorder failed on this call; tell the enclave administrators"

    def translated(self, text: str) -> str:
        return message(text, self.lang)

    async def post(self) -> None:
        name = self.caller()  # a call without a workspace token is refused before its body is read
        data = self.json_object(BODY_FIELDS)
        address = self.request.remote_ip or ""
        try:
            answer = await asyncio.to_thread(self._store, name, address, data)
        except EnclaveError as exc:
            raise web.HTTPError(status_of(exc), "%s", str(exc)) from exc
        self.set_status(201)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(answer))

    def _store(self, name: str, address: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            ws = workspace_of(self.ctx.settings, name)
        except DockerException as exc:
            raise Unavailable("the container engine does not answer; try again in a few minutes") from exc
        try:
            who = records.check_from_own_workspace(ws, address, name, ws.name if ws else "")
        except NotAllowed as exc:
            with session_scope() as s:
                audit.record(s, name, AuditAction.CODE_RECORD_REFUSED, project=ws.project if ws else None,
                             target=f"address:{address}", reason=str(exc))
            raise
        if not BODY_FIELDS & set(data):
            raise records.BadRecord("the body holds neither 'records' nor 'gap'")
        answer: dict[str, Any] = {}
        with session_scope() as s:  # the batch and its gap notice: both kept, or neither
            if "records" in data:
                answer.update(records.accept(s, who, data["records"]))
            if "gap" in data:
                answer["gap"] = records.note_gap(s, who, data["gap"])
        return answer


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


def make_app(ctx: Context) -> web.Application:
    p, d = ACTIVITY_PREFIX, {"ctx": ctx}
    return web.Application([(p + "health", Health), (p + "api/records", RecordsApi, d)])


def hub_env(settings: Settings) -> dict[str, str]:
    return hub_service_env(settings, ACTIVITY_SERVICE, ACTIVITY_PREFIX, settings.activity_port, "activity-token")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    for key, value in hub_env(settings).items():
        os.environ.setdefault(key, value)
    app = make_app(Context(settings))
    # loopback only, no xheaders: a workspace's call arrives from its own address (hub.network keeps the source)
    app.listen(settings.activity_port, address=settings.internal_address, xheaders=False, max_body_size=MAX_BODY)
    log.info("code recorder listening on %s:%d%s", settings.internal_address, settings.activity_port, ACTIVITY_PREFIX)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
