"""The egress-review service: a JupyterHub service for export requests, reviews and releases.

Workspaces call its JSON API with their server's own token, which carries only the
`custom:enclave-export:request` scope: the project is the one the caller's running workspace was
started for (read from the container, and the call must come from that container's address), so a
token can only ever submit for its own project. People use the web pages after logging in through
the hub (OAuth); downloads need `custom:enclave-export:download`, which browser and personal tokens
have and workspace tokens do not. Who may review, withdraw or download is decided by
`egress_review.rules`, the same code the CLI uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from sqlalchemy.orm import selectinload
from tornado import ioloop, web

from egress_review import intake, render, rules, workflow
from egress_review.i18n import translator
from egress_review.owndata import IndexCache, OwnDataIndex
from egress_review.scopes import SCOPE_DOWNLOAD, SCOPE_REQUEST, SERVICE_ACCESS
from egress_review.views import file_view, release_files, release_record_view, request_view
from enclave import audit
from enclave.audit import AuditAction
from enclave.checksums import content_path
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Unavailable
from enclave.i18n import pick_language
from enclave.models import Decision, ExportRequest, ExportState, Review
from enclave.pii.keyed import index_key, index_root
from enclave.projects import active_datasets, get_project, get_user
from enclave.settings import EGRESS_PREFIX, EGRESS_SERVICE, Settings, get_settings
from policies import load_policies
from policies.loader import Policies

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
log = logging.getLogger("egress-review")


class Context:
    """What every handler shares: settings, policies, templates and the own-data index."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policies: Policies = load_policies(settings.policy_dir)
        self.templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self._indexes: IndexCache | None = None

    def own_index(self, session: Any, slug: str) -> OwnDataIndex | None:
        """The indexes of the datasets approved for the project now, and no others; cached per dataset version."""
        labels = [d.label for d in active_datasets(get_project(session, slug))]
        root = index_root(self.settings)
        if not labels or not root.exists():
            return None
        if self._indexes is None:
            self._indexes = IndexCache(root, index_key(self.settings))
        return self._indexes.for_datasets(labels)

    def workspace_of(self, username: str) -> tuple[str, set[str]] | None:
        """The project and addresses of the user's running workspace, from the container itself."""
        client = docker.from_env()
        try:
            for c in client.containers.list(filters={"status": "running", "label": [
                    f"org.enclave.instance={self.settings.instance}", f"org.enclave.user={username}"]}):
                nets = c.attrs["NetworkSettings"]["Networks"].values()
                return c.labels["org.enclave.project"], {n["IPAddress"] for n in nets if n.get("IPAddress")}
        finally:
            client.close()
        return None


def _status(exc: EnclaveError) -> int:
    if isinstance(exc, Unavailable):
        return 503
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, InvalidTransition):
        return 409
    return 400


class Handler(HubOAuthenticated, web.RequestHandler):
    required_scope = SERVICE_ACCESS
    api = False

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def hub_scopes(self) -> set[str]:  # type: ignore[override]
        return {self.required_scope}

    def check_hub_user(self, model: dict[str, Any]) -> dict[str, Any]:
        """The scope itself, or filtered to the caller (`…!user=<name>`, as workspace tokens carry it)."""
        name, have = model["name"], set(model.get("scopes", []))
        if self.required_scope in have or f"{self.required_scope}!user={name}" in have:
            return model
        return super().check_hub_user(model)  # type: ignore[no-any-return]

    authenticated_by_token = False

    def get_current_user(self) -> dict[str, Any] | None:
        """Records whether the `Authorization` header's token is what authenticated the request.

        The hub tries the header first and falls back to the cookie when the token is not valid; only
        a request the token itself authenticated may skip the XSRF check.
        """
        self._authenticating = True
        try:
            user: dict[str, Any] | None = super().get_current_user()
        finally:
            self._authenticating = False
        self.authenticated_by_token = bool(user) and bool(getattr(self, "_token_authenticated", False))
        return user

    def check_xsrf_cookie(self) -> None:
        """Token calls (workspaces, the CLI) carry no cookie a browser could be tricked into sending.

        Tornado checks before the handler runs, so the caller is identified first; a check asked for
        while the hub falls back to the cookie is always made.
        """
        if not getattr(self, "_authenticating", False):
            _ = self.current_user
            if self.authenticated_by_token:
                return
        super().check_xsrf_cookie()

    @property
    def lang(self) -> str:
        return pick_language(self.request.headers.get("Accept-Language", ""))

    @property
    def t(self) -> Callable[[str], str]:
        return translator(self.lang)

    @property
    def username(self) -> str:
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, "only people can use export requests")
        return str(user["name"])

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def page(self, template: str, **kw: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        html = self.ctx.templates.get_template(template).render(
            t=self.t, lang=self.lang, user=self.username, prefix=EGRESS_PREFIX, xsrf=self.xsrf_token.decode(), **kw)
        self.finish(html)

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if self.api or "application/json" in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"status": status_code, "error": message}, ensure_ascii=False))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.ctx.templates.get_template("error.html").render(
            t=self.t, lang=self.lang, status=status_code, message=message, prefix=EGRESS_PREFIX, user=None))

    def body_json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise web.HTTPError(400, f"the body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        return data

    def run(self, fn: Callable[[], Any]) -> Any:
        """Domain errors become HTTP errors with the domain's own message."""
        try:
            return fn()
        except EnclaveError as exc:
            raise web.HTTPError(_status(exc), str(exc)) from exc


# --- JSON API (workspaces, personal tokens) -----------------------------------------------------


class ApiHandler(Handler):
    api = True
    required_scope = SCOPE_REQUEST


class RequestsApi(ApiHandler):
    @web.authenticated
    def get(self) -> None:
        name = self.username
        with session_scope() as s:
            reqs = self.run(lambda: workflow.own_requests(s, name))
            self.send_json([request_view(r, name, detail=False) for r in reqs])

    @web.authenticated
    async def post(self) -> None:
        name = self.username
        body = self.body_json()
        paths, justification = body.get("files"), body.get("justification", "")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths) or not paths:
            raise web.HTTPError(400, "'files' must be a non-empty list of paths inside /workspace")
        if not isinstance(justification, str):
            raise web.HTTPError(400, "'justification' must be text")
        unknown = sorted(set(body) - {"files", "justification", "training_data", "holdout_data", "target"})
        if unknown:
            raise web.HTTPError(400, f"unknown field(s): {', '.join(unknown)}")
        ws = await asyncio.to_thread(self.ctx.workspace_of, name)
        if ws is None:
            raise web.HTTPError(403, "export requests are made from your running workspace")
        slug, ips = ws
        if self.request.remote_ip not in ips:
            raise web.HTTPError(403, "export requests are accepted only from your own workspace")
        with session_scope() as s:  # refused before a single file is read
            self.run(lambda: workflow.check_submitter(s, name, slug))
        rid = await asyncio.to_thread(self._submit, name, slug, paths, justification, body)
        with session_scope() as s:
            self.send_json(request_view(workflow.get_request(s, rid), name), status=201)

    def _submit(self, name: str, slug: str, paths: list[str], justification: str, body: dict[str, Any]) -> int:
        policy = self.ctx.policies.egress.for_project(slug)
        return self.run(lambda: intake.from_workspace(self.ctx.settings, policy, name, slug, paths, justification,
                                                      body, self.ctx.own_index))


class RequestApi(ApiHandler):
    @web.authenticated
    def get(self, rid: str) -> None:
        name = self.username
        with session_scope() as s:
            req = self.run(lambda: workflow.visible_request(s, name, int(rid)))
            self.run(lambda: rules.check_can_see_via_api(req, *workflow.parties(s, name, req)))
            self.send_json(request_view(req, name))


class WithdrawApi(ApiHandler):
    @web.authenticated
    def post(self, rid: str) -> None:
        name = self.username
        with session_scope() as s:
            req = self.run(lambda: workflow.withdraw(s, name, int(rid)))
            self.send_json(request_view(req, name))


class DownloadApi(ApiHandler):
    required_scope = SCOPE_DOWNLOAD

    @web.authenticated
    def get(self, rid: str, what: str) -> None:
        _download(self, int(rid), what)


def _download(handler: Handler, rid: int, what: str) -> None:
    name = handler.username
    with session_scope() as s:
        req = handler.run(lambda: workflow.downloadable(s, name, rid))
        if what == "results.json":
            handler.set_header("Content-Type", "application/json; charset=utf-8")
            handler.set_header("Content-Disposition", f'attachment; filename="request-{rid}-results.json"')
            data = json.dumps(release_record_view(req.release.record), ensure_ascii=False, indent=2).encode()
            audit.record(s, name, "export.download", project=req.project, target=f"request:{rid}",
                         file="results.json")
        else:
            f = next((f for f in release_files(req) if str(f.id) == what), None)
            if f is None:
                raise web.HTTPError(404, f"request {rid} has no released file {what}")
            data = content_path(handler.ctx.settings.egress_store, f.sha256).read_bytes()
            handler.set_header("Content-Type", "application/octet-stream")
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f.name.rsplit("/", 1)[-1])
            handler.set_header("Content-Disposition", f'attachment; filename="{safe}"')
            handler.set_header("X-Enclave-Sha256", f.sha256)
            audit.record(s, name, "export.download", project=req.project, target=f"request:{rid}",
                         file=f.name, sha256=f.sha256)
    handler.finish(data)


# --- web pages (people, logged in through the hub) ----------------------------------------------


class HomePage(Handler):
    @web.authenticated
    def get(self) -> None:
        name = self.username
        eager = (selectinload(ExportRequest.files), selectinload(ExportRequest.reviews))
        with session_scope() as s:
            me = self.run(lambda: get_user(s, name))
            is_reviewer = rules.has_reviewer_role(me)
            queue, reviewed = [], []
            if is_reviewer:
                projects: dict[str, Any] = {}  # per project, once per page
                open_ = s.query(ExportRequest).options(*eager).filter(ExportRequest.state.in_(
                    [*rules.OPEN_FOR_REVIEW, ExportState.CONFLICTED])).order_by(ExportRequest.id).all()
                for r in open_:
                    if r.project not in projects:
                        projects[r.project] = get_project(s, r.project)
                    if rules.can_review(r, me, projects[r.project]) or rules.can_resolve(r, me, projects[r.project]):
                        queue.append(request_view(r, name, detail=False))
                done = s.query(ExportRequest).options(*eager).join(Review).filter(Review.reviewer == name)
                reviewed = [request_view(r, name, detail=False)
                            for r in done.order_by(ExportRequest.id.desc()).limit(200).all()]
            mine = [request_view(r, name, detail=False) for r in workflow.own_requests(s, name)]
            self.page("home.html", queue=queue, reviewed=reviewed, mine=mine, is_reviewer=is_reviewer)


class RequestPage(Handler):
    @web.authenticated
    def get(self, rid: str) -> None:
        name = self.username
        with session_scope() as s:
            req = self.run(lambda: workflow.visible_request(s, name, int(rid)))
            me, project = workflow.parties(s, name, req)
            self.page("request.html", r=request_view(req, name, reviewer=req.requester != name),
                      can_review=rules.can_review(req, me, project), can_resolve=rules.can_resolve(req, me, project),
                      is_requester=req.requester == name)


class StoredFileHandler(Handler):
    def visible_file(self, session: Any, name: str, rid: str, fid: str) -> tuple[ExportRequest, Any, bytes]:
        """The request, file and stored bytes, for its requester or a reviewer who may see it; else 404."""
        req, f = self.run(lambda: workflow.visible_file(session, name, int(rid), fid))
        return req, f, content_path(self.ctx.settings.egress_store, f.sha256).read_bytes()


class FilePage(StoredFileHandler):
    @web.authenticated
    def get(self, rid: str, fid: str) -> None:
        name = self.username
        with session_scope() as s:
            req, f, data = self.visible_file(s, name, rid, fid)
            seen = file_view(f, reviewer=req.requester != name)  # marks in the file only what the viewer may see
            shown = render.render(data, {"type": seen["type"], "findings": seen["findings"]},
                                  f"{EGRESS_PREFIX}requests/{rid}/files/{fid}/image")
            if req.requester != name:
                audit.record(s, name, AuditAction.EXPORT_INSPECT, project=req.project, target=f"request:{rid}",
                             file=f.name)
            self.page("file.html", r=request_view(req, name, reviewer=req.requester != name), f=seen,
                      shown=shown)


class ImageRaw(StoredFileHandler):
    """Raster images only, served with a sandbox CSP and nosniff; anything else is refused."""

    @web.authenticated
    def get(self, rid: str, fid: str) -> None:
        name = self.username
        with session_scope() as s:
            req, f, data = self.visible_file(s, name, rid, fid)
            if req.requester != name:  # the bytes are what a reviewer inspects: recorded as the page is
                audit.record(s, name, AuditAction.EXPORT_INSPECT, project=req.project, target=f"request:{rid}",
                             file=f.name, image=True)
        img = render.image_bytes(data, str(f.scan.get("type")))
        if img is None:
            raise web.HTTPError(415, "only PNG and JPEG images are shown")
        self.set_header("Content-Type", img[1])
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(img[0])


class DecisionAction(Handler):
    def decision(self) -> Decision:
        """The form's approve / return / reject; anything else is a 400."""
        decision = self.get_body_argument("decision", "")
        try:
            return Decision(decision)
        except ValueError as exc:
            raise web.HTTPError(400, f"unknown decision '{decision}'") from exc

    def file_votes(self, req: ExportRequest) -> dict[str, dict[str, str]]:
        """The form's vote and comment on each file of the request (checked by `rules.check_decision`)."""
        return {str(f.id): {"decision": self.get_body_argument(f"file-{f.id}", ""),
                            "comment": self.get_body_argument(f"comment-{f.id}", "")} for f in req.files}


class ReviewAction(DecisionAction):
    @web.authenticated
    def post(self, rid: str) -> None:
        name, choice = self.username, self.decision()
        with session_scope() as s:
            votes = self.file_votes(self.run(lambda: workflow.get_request(s, int(rid))))
            self.run(lambda: workflow.review(s, name, int(rid), choice, votes,
                                             self.get_body_argument("comment_to_requester", ""),
                                             self.get_body_argument("private_comment", "")))
            self.run(lambda: workflow.settle(s, int(rid)))
        self.redirect(f"{EGRESS_PREFIX}requests/{rid}")


class ResolveAction(DecisionAction):
    @web.authenticated
    def post(self, rid: str) -> None:
        name, choice = self.username, self.decision()
        with session_scope() as s:
            votes = self.file_votes(self.run(lambda: workflow.get_request(s, int(rid))))
            self.run(lambda: workflow.resolve(s, name, int(rid), choice, votes, self.get_body_argument("reason", "")))
            self.run(lambda: workflow.settle(s, int(rid)))
        self.redirect(f"{EGRESS_PREFIX}requests/{rid}")


class WithdrawAction(Handler):
    @web.authenticated
    def post(self, rid: str) -> None:
        name = self.username
        with session_scope() as s:
            self.run(lambda: workflow.withdraw(s, name, int(rid)))
        self.redirect(f"{EGRESS_PREFIX}requests/{rid}")


class DownloadPage(Handler):
    required_scope = SCOPE_DOWNLOAD

    @web.authenticated
    def get(self, rid: str, what: str) -> None:
        _download(self, int(rid), what)


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


def make_app(ctx: Context) -> web.Application:
    p = EGRESS_PREFIX
    d = {"ctx": ctx}
    return web.Application([
        (p + "health", Health),
        (p + "oauth_callback", HubOAuthCallbackHandler),
        (p + r"api/requests", RequestsApi, d),
        (p + r"api/requests/(\d+)", RequestApi, d),
        (p + r"api/requests/(\d+)/withdraw", WithdrawApi, d),
        (p + r"api/requests/(\d+)/download/(\d+|results\.json)", DownloadApi, d),
        (p + r"requests/(\d+)", RequestPage, d),
        (p + r"requests/(\d+)/files/(\d+)", FilePage, d),
        (p + r"requests/(\d+)/files/(\d+)/image", ImageRaw, d),
        (p + r"requests/(\d+)/review", ReviewAction, d),
        (p + r"requests/(\d+)/resolve", ResolveAction, d),
        (p + r"requests/(\d+)/withdraw", WithdrawAction, d),
        (p + r"requests/(\d+)/download/(\d+|results\.json)", DownloadPage, d),
        (p.rstrip("/") + r"/?", HomePage, d),
    ], cookie_secret=bytes.fromhex(ctx.settings.secret("egress-cookie")), xsrf_cookies=True)


def hub_env(settings: Settings) -> dict[str, str]:
    """What JupyterHub would give a managed service; this one runs on its own (runner or systemd)."""
    return {
        "JUPYTERHUB_SERVICE_NAME": EGRESS_SERVICE, "JUPYTERHUB_API_TOKEN": settings.secret("egress-review-token"),
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{settings.hub_api_port}/hub/api", "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_PREFIX": EGRESS_PREFIX, "JUPYTERHUB_CLIENT_ID": f"service-{EGRESS_SERVICE}",
        "JUPYTERHUB_HOST": "", "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{EGRESS_PREFIX}oauth_callback",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps([SERVICE_ACCESS]),
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{settings.egress_port}",
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    for key, value in hub_env(settings).items():
        os.environ.setdefault(key, value)
    ctx = Context(settings)
    settings.egress_store.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(settings.egress_store, 0o700)
    for partial in settings.egress_store.glob("*/*.tmp"):  # left by a copy cut off when the service died
        partial.unlink(missing_ok=True)
    intake.clear_staging(settings)
    app = make_app(ctx)
    # plain HTTP, loopback only: workspaces come through their gateway, redirected (hub.network)
    app.listen(settings.egress_port, address=settings.internal_address, xheaders=False, max_body_size=1024**2)
    log.info("egress-review listening on %s:%d%s", settings.internal_address, settings.egress_port, EGRESS_PREFIX)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
