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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from sqlalchemy.orm import selectinload
from tornado import ioloop, web

from egress_review import intake, limits, render, rules, workflow
from egress_review.collect import listing
from egress_review.findings import advice, guidance_topic, person_text
from egress_review.i18n import GUIDANCE_PAGE, message, translator
from egress_review.i18n import message as translated
from egress_review.owndata import IndexCache, OwnDataIndex
from egress_review.scopes import SCOPE_DOWNLOAD, SCOPE_REQUEST, SERVICE_ACCESS
from egress_review.views import file_view, release_files, release_record_view, request_view
from enclave import audit
from enclave.audit import AuditAction
from enclave.checksums import content_path
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Text, Unavailable
from enclave.models import Decision, ExportRequest, ExportState, Review
from enclave.pii.keyed import index_key, index_root
from enclave.projects import active_datasets, get_project, get_user
from enclave.settings import (
    EGRESS_PREFIX,
    EGRESS_SERVICE,
    JOBS_PREFIX,
    Settings,
    get_settings,
    hub_service_env,
)
from enclave.webpages import PageBasics
from enclave.workspaces import workspace_of
from policies import load_policies
from policies.loader import Policies

TEMPLATES = Path(__file__).resolve().parent / "templates"
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
        ws = workspace_of(self.settings, username)
        return (ws.project, set(ws.addresses)) if ws else None


def http_error(exc: EnclaveError, status: int | None = None) -> web.HTTPError:
    """The HTTP error for a domain error; it keeps the message's template, translated in `write_error`."""
    err = web.HTTPError(status or _status(exc), str(exc))
    err.text = exc.text  # type: ignore[attr-defined]
    return err


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


class Handler(PageBasics, HubOAuthenticated, web.RequestHandler):
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
    def t(self) -> Callable[[str], str]:
        return translator(self.lang)

    @property
    def username(self) -> str:
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, Text("only people can use export requests"))
        return str(user["name"])

    def page(self, template: str, **kw: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        kw.setdefault("explain", lambda f: person_text(f, self.lang, values=kw.get("reviewer", False)))
        kw.setdefault("advice", lambda f: advice(f, self.lang))
        kw.setdefault("topic", guidance_topic)
        kw.setdefault("msg", lambda text: message(text, self.lang))
        kw.setdefault("when", self.when)
        html = self.ctx.templates.get_template(template).render(
            t=self.t, lang=self.lang, user=self.username, prefix=EGRESS_PREFIX, xsrf=self.xsrf_token.decode(), **kw)
        self.finish(html)

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "text", None) or getattr(exc, "log_message", None) or self._reason  # a Text if it can
        if self.api or "application/json" in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"status": status_code, "error": translated(message, self.lang),
                                    "error_en": str(message)}, ensure_ascii=False))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.ctx.templates.get_template("error.html").render(
            t=self.t, lang=self.lang, status=status_code, message=translated(message, self.lang),
            prefix=EGRESS_PREFIX, user=None))

    def body_json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise web.HTTPError(400, Text("the body is not JSON: {problem}", problem=str(exc))) from exc
        if not isinstance(data, dict):
            raise web.HTTPError(400, Text("the body must be a JSON object"))
        return data

    def run(self, fn: Callable[[], Any]) -> Any:
        """Domain errors become HTTP errors with the domain's own message."""
        try:
            return fn()
        except EnclaveError as exc:
            raise http_error(exc) from exc


# --- JSON API (workspaces, personal tokens) -----------------------------------------------------


def explained(view: dict[str, Any], lang: str) -> dict[str, Any]:
    """The requester's findings with a sentence in her language, what she can do, and the guidance page.

    The API serves requesters only, so the sentence is the requester's form (`values=False`): no value.
    """
    def add(files: list[dict[str, Any]]) -> None:
        for f in files:
            for finding in f.get("findings", []):
                finding.update(text=person_text(finding, lang), advice=advice(finding, lang),
                               guidance=f"{EGRESS_PREFIX}guidance#{guidance_topic(finding)}")
            add(f.get("members", []))

    if isinstance(view.get("files"), list):
        add(view["files"])
    return view


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
            raise web.HTTPError(400, Text("'files' must be a non-empty list of paths inside /workspace"))
        if not isinstance(justification, str):
            raise web.HTTPError(400, Text("'justification' must be text"))
        unknown = sorted(set(body) - {"files", "justification", "training_data", "holdout_data", "target", "revises"})
        if unknown:
            raise web.HTTPError(400, Text("unknown field(s): {names}", names=", ".join(unknown)))
        revises = body.get("revises")
        if revises is not None and (not isinstance(revises, int) or isinstance(revises, bool)):
            raise web.HTTPError(400, Text("'revises' must be the number of the returned request this one revises"))
        ws = await asyncio.to_thread(self.ctx.workspace_of, name)
        if ws is None:
            raise web.HTTPError(403, Text("export requests are made from your running workspace"))
        slug, ips = ws
        if self.request.remote_ip not in ips:
            raise web.HTTPError(403, Text("export requests are accepted only from your own workspace"))
        self.run(lambda: intake.check_submitter(name, slug, paths))  # refused (and audited) before a file is read
        rid = await asyncio.to_thread(self._submit, name, slug, paths, justification, body)
        with session_scope() as s:
            self.send_json(explained(request_view(workflow.get_request(s, rid), name), self.lang), status=201)

    def _submit(self, name: str, slug: str, paths: list[str], justification: str, body: dict[str, Any]) -> int:
        policy = self.ctx.policies.egress.for_project(slug)
        return self.run(lambda: intake.from_workspace(self.ctx.settings, policy, name, slug, paths, justification,
                                                      body, self.ctx.own_index))


class RequestApi(ApiHandler):
    @web.authenticated
    def get(self, rid: str) -> None:
        name = self.username
        with session_scope() as s:
            req = self.run(lambda: workflow.viewable(s, name, int(rid), by_token=True))  # the requester's only
            self.send_json(explained(request_view(req, name), self.lang))


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
            audit.record(s, name, AuditAction.EXPORT_DOWNLOAD, project=req.project, target=f"request:{rid}",
                         file="results.json")
        else:
            _, f = handler.run(lambda: workflow.downloadable_file(s, name, rid, what))  # refusals audited
            data = content_path(handler.ctx.settings.egress_store, f.sha256).read_bytes()
            handler.set_header("Content-Type", "application/octet-stream")
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f.name.rsplit("/", 1)[-1])
            handler.set_header("Content-Disposition", f'attachment; filename="{safe}"')
            handler.set_header("X-Enclave-Sha256", f.sha256)
            audit.record(s, name, AuditAction.EXPORT_DOWNLOAD, project=req.project, target=f"request:{rid}",
                         file=f.name, sha256=f.sha256)
    handler.finish(data)


# --- web pages (people, logged in through the hub) ----------------------------------------------


QUEUE_SORTS = ("waited", "newest", "project")


def waited(since: datetime, now: datetime, t: Callable[[str], str]) -> str:
    """How long a request has waited, in days and hours (minutes under an hour)."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days} {t('d')} {hours} {t('h')}"
    return f"{hours} {t('h')}" if hours else f"{minutes} {t('min')}"


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


class HomePage(Handler):
    """The reviewer's queue (waiting time, filters, sort, claims), what they reviewed, and the user's own requests."""

    @web.authenticated
    def get(self) -> None:
        name = self.username
        eager = (selectinload(ExportRequest.files), selectinload(ExportRequest.reviews))
        f = {k: self.get_query_argument(k, "") for k in ("project", "state", "verdict", "age", "sort")}
        now = datetime.now(UTC)
        with session_scope() as s:
            me = self.run(lambda: get_user(s, name))
            is_reviewer = rules.has_reviewer_role(me)
            queue, reviewed, projects_seen = [], [], set()
            if is_reviewer:
                projects: dict[str, Any] = {}  # per project, once per page
                open_ = s.query(ExportRequest).options(*eager).filter(ExportRequest.state.in_(
                    [*rules.OPEN_FOR_REVIEW, ExportState.CONFLICTED])).order_by(ExportRequest.id).all()
                for r in open_:
                    if r.project not in projects:
                        projects[r.project] = get_project(s, r.project)
                    if rules.can_review(r, me, projects[r.project]) or rules.can_resolve(r, me, projects[r.project]):
                        row = request_view(r, name, detail=False, reviewer=True)
                        row["waited_minutes"] = (now - _aware(r.created_at)).total_seconds() / 60
                        row["waited"] = waited(_aware(r.created_at), now, self.t)
                        projects_seen.add(r.project)
                        queue.append(row)
                queue = self._filtered(queue, f)
                done = s.query(ExportRequest).options(*eager).join(Review).filter(Review.reviewer == name)
                reviewed = [request_view(r, name, detail=False)
                            for r in done.order_by(ExportRequest.id.desc()).limit(200).all()]
            mine = [request_view(r, name, detail=False) for r in workflow.own_requests(s, name)]
            self.page("home.html", queue=queue, reviewed=reviewed, mine=mine, is_reviewer=is_reviewer, f=f,
                      projects=sorted(projects_seen), sorts=QUEUE_SORTS,
                      states=[x.value for x in (*rules.OPEN_FOR_REVIEW, ExportState.CONFLICTED)],
                      verdicts=["pass", "review", "block"], jobs_queue=JOBS_PREFIX)

    @staticmethod
    def _filtered(rows: list[dict[str, Any]], f: dict[str, str]) -> list[dict[str, Any]]:
        """Filters by project, state, verdict and days waited; sorted longest waiting first unless asked."""
        out = [r for r in rows if (not f["project"] or r["project"] == f["project"])
               and (not f["state"] or r["state"] == f["state"]) and (not f["verdict"] or r["verdict"] == f["verdict"])]
        if f["age"].strip().isdigit():
            out = [r for r in out if r["waited_minutes"] >= int(f["age"]) * 24 * 60]
        key = {"newest": lambda r: -r["id"], "project": lambda r: (r["project"], r["id"])}.get(
            f["sort"], lambda r: -r["waited_minutes"])
        return sorted(out, key=key)


class GuidancePage(Handler):
    """What each kind of finding means and what a researcher can do, in the reader's language."""

    @web.authenticated
    def get(self) -> None:
        self.page("guidance.html", topics=GUIDANCE_PAGE["zh-CN" if self.lang == "zh-CN" else "en"])


# How many rows or lines of each file the decision page shows beside its controls.
INLINE_ROWS, INLINE_LINES = 30, 80


class RequestPage(Handler):
    """One request: each file's content, findings and controls together; votes, comments, versions, history."""

    @web.authenticated
    def get(self, rid: str) -> None:
        self.show(int(rid), done=self.get_query_argument("done", ""))

    def show(self, rid: int, form: dict[str, str] | None = None, problems: list[tuple[str, str]] | None = None,
             status: int = 200, done: str = "") -> None:
        name = self.username
        token = self.authenticated_by_token
        with session_scope() as s:  # the files are read, and a reviewer's reading recorded, before the page goes
            req = self.run(lambda: workflow.viewable(s, name, rid, by_token=token))
            me, project = workflow.parties(s, name, req)
            readable = rules.can_read_files(req, me, project, by_token=token)
            inline = self._inline(s, req, name, req.requester != name) if readable else {}
        with session_scope() as s:
            req = self.run(lambda: workflow.visible_request(s, name, rid, by_token=token))
            me, project = workflow.parties(s, name, req)
            reviewer = req.requester != name
            r = request_view(req, name, reviewer=reviewer)
            fields: dict[str, list[str]] = {}
            for field, text in problems or []:
                fields.setdefault(field, []).append(message(text, self.lang))
            self.set_status(status)
            self.page("request.html", r=r, inline=inline, form=form or {}, problems=fields, done=done,
                      can_review=rules.can_review(req, me, project), can_resolve=rules.can_resolve(req, me, project),
                      can_claim=rules.can_claim(req, me, project), can_unclaim=rules.can_unclaim(req, me),
                      can_withdraw=rules.can_withdraw(req, me), can_revise=rules.can_revise(req, me, project),
                      is_requester=not reviewer, approve_refusals=self._refusals(req),
                      mine=next((v for v in r.get("reviews", []) if v["reviewer"] == name), None),
                      history=self._history(s, req, reviewer),
                      diff=self._diff(s, req, readable, reviewer),
                      earlier=self._earlier(s, req, me) if reviewer else [],
                      explain=lambda f: person_text(f, self.lang, values=reviewer),
                      advice=lambda f: advice(f, self.lang), topic=guidance_topic)

    def _refusals(self, req: ExportRequest) -> dict[int, str]:
        """Why a file's approve option cannot be chosen, in the reader's language (`rules.check_can_approve_file`)."""
        out = {}
        for f in req.files:
            reason = rules.why_not(lambda f=f: rules.check_can_approve_file(f))  # type: ignore[misc]
            if reason:
                out[f.id] = message(reason, self.lang)
        return out

    def _inline(self, s: Any, req: ExportRequest, name: str, reviewer: bool) -> dict[int, Any]:
        """The beginning of each file's stored (rebuilt) form; a reviewer's reading is recorded as export.inspect."""
        out = {}
        for f in req.files:
            seen = file_view(f, reviewer=reviewer)
            try:
                data = content_path(self.ctx.settings.egress_store, f.sha256).read_bytes()
            except OSError:
                log.exception("stored copy of request %s file %s unreadable", req.id, f.id)
                out[f.id] = render.Rendered("none", "", [self.t("The stored copy cannot be read: tell the "
                                                                "enclave administrators.")])
                continue
            out[f.id] = render.render(data, {**f.scan, "findings": seen["findings"]},
                                      f"{EGRESS_PREFIX}requests/{req.id}/files/{f.id}/image", INLINE_ROWS, INLINE_LINES)
        if reviewer and out:
            audit.record(s, name, AuditAction.EXPORT_INSPECT, project=req.project, target=f"request:{req.id}",
                         files=[f.name for f in req.files], inline=True)
        return out

    @staticmethod
    def _history(s: Any, req: ExportRequest, reviewer: bool) -> list[dict[str, Any]]:
        """Earlier versions with what their reviewers said: in full for reviewers, the requester's form for her."""
        out = []
        for v in workflow.versions(s, req)[:-1]:
            seen = request_view(v, req.requester if not reviewer else "", reviewer=reviewer)
            if reviewer:  # both reviews of an earlier version were decided: all of them are shown
                seen["reviews"] = [{"reviewer": x.reviewer, "decision": x.decision.value, "files": x.file_votes,
                                    "comment_to_requester": x.comment_to_requester,
                                    "private_comment": x.private_comment} for x in v.reviews]
            seen["names"] = {str(f.id): f.name for f in v.files}
            out.append(seen)
        return out

    def _diff(self, s: Any, req: ExportRequest, readable: bool, reviewer: bool) -> dict[str, Any] | None:
        """Files added, removed, changed (by sha256 of the stored form) or unchanged since the previous version.

        A changed file small enough and text in both versions also gets its line diff, when the viewer may
        read the stored copies now (`rules.check_can_read_files`). The digests are shown to reviewers only:
        the requester's page carries no digest of a file not released (`views.file_view`).
        """
        if req.revision_of is None:
            return None
        prev = s.get(ExportRequest, req.revision_of)
        if prev is None:
            return None
        before, now = {f.name: f.sha256 for f in prev.files}, {f.name: f.sha256 for f in req.files}
        rows = [{"name": n, "before": before.get(n), "after": now[n],
                 "how": "added" if n not in before else "changed" if before[n] != now[n] else "unchanged"}
                for n in now] + [{"name": n, "before": before[n], "after": None, "how": "removed"}
                                 for n in before if n not in now]
        for row in rows:
            row["lines"] = self._text_diff(row["before"], row["after"]) if readable and row["how"] == "changed" \
                else None
            if not reviewer:
                row["before"] = row["after"] = None
        return {"version": prev.version, "id": prev.id, "rows": rows}

    def _text_diff(self, before: str, after: str) -> list[tuple[str, str]] | None:
        store = self.ctx.settings.egress_store
        try:
            return render.text_diff(content_path(store, before).read_bytes(), content_path(store, after).read_bytes())
        except OSError:
            return None

    @staticmethod
    def _earlier(s: Any, req: ExportRequest, me: Any) -> list[dict[str, Any]]:
        """The requester's other requests in the project: state and verdict; a link only where the reviewer may see."""
        project = get_project(s, req.project)
        return [{**request_view(r, me.username, detail=False), "link": rules.can_see(r, me, project)}
                for r in workflow.earlier_requests(s, req)]


class StoredFileHandler(Handler):
    def visible_file(self, session: Any, name: str, rid: str, fid: str) -> tuple[ExportRequest, Any, bytes]:
        """The request, file and stored bytes, for its requester or a reviewer who may see it; else 404."""
        req, f = self.run(lambda: workflow.visible_file(session, name, int(rid), fid,
                                                        by_token=self.authenticated_by_token))
        return req, f, content_path(self.ctx.settings.egress_store, f.sha256).read_bytes()


class FilePage(StoredFileHandler):
    @web.authenticated
    def get(self, rid: str, fid: str) -> None:
        name = self.username
        with session_scope() as s:
            req, f, data = self.visible_file(s, name, rid, fid)
            seen = file_view(f, reviewer=req.requester != name,  # marks in the file only what the viewer may see
                             released=f in release_files(req))
            shown = render.render(data, {"type": seen["type"], "findings": seen["findings"]},
                                  f"{EGRESS_PREFIX}requests/{rid}/files/{fid}/image")
            if req.requester != name:
                audit.record(s, name, AuditAction.EXPORT_INSPECT, project=req.project, target=f"request:{rid}",
                             file=f.name)
            self.page("file.html", r=request_view(req, name, reviewer=req.requester != name), f=seen,
                      shown=shown, reviewer=req.requester != name)


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
            raise web.HTTPError(415, Text("only PNG and JPEG images are shown"))
        self.set_header("Content-Type", img[1])
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(img[0])


def _form(handler: web.RequestHandler) -> dict[str, str]:
    return {k: handler.get_body_argument(k, "") for k in handler.request.body_arguments if k != "_xsrf"}


class DecisionAction(RequestPage):
    """Review and resolve: the form is checked, confirmed on a page of its own, then recorded.

    Without JavaScript (the pages allow none): the first post shows what will happen and asks; the
    confirming post records it. Problems come back on the request page, beside their fields, with
    everything typed kept; nothing is recorded until the confirmation.
    """

    resolving = False

    def file_votes(self, req: ExportRequest) -> dict[str, dict[str, str]]:
        """The form's vote and comment on each file of the request (checked by `rules.check_decision`)."""
        return {str(f.id): {"decision": self.get_body_argument(f"file-{f.id}", ""),
                            "comment": self.get_body_argument(f"comment-{f.id}", "")} for f in req.files}

    def explanation(self) -> str:
        return self.get_body_argument("reason" if self.resolving else "comment_to_requester", "")

    def check(self, s: Any, name: str, req: ExportRequest, decision: Decision | None,
              votes: dict[str, dict[str, str]]) -> None:
        me, project = workflow.parties(s, name, req)
        if self.resolving:
            rules.check_can_resolve(req, me, project)
        else:
            rules.check_can_review(req, me, project)
        problems = []
        if decision is None:
            problems.append(("decision", Text("choose a decision: approve, return or reject")))
        try:
            rules.check_decision(req, decision or Decision.REJECT, votes, self.explanation(), resolving=self.resolving)
        except rules.DecisionRefused as exc:
            problems += [p for p in exc.problems if decision is not None or p[0] != self.text_field]
        if problems:
            raise rules.DecisionRefused(problems)

    @property
    def text_field(self) -> str:
        return "reason" if self.resolving else "comment_to_requester"

    def record(self, s: Any, name: str, rid: int, decision: Decision, votes: dict[str, dict[str, str]]) -> None:
        raise NotImplementedError

    @web.authenticated
    def post(self, rid_: str) -> None:
        name, rid, form = self.username, int(rid_), _form(self)
        try:
            decision: Decision | None = Decision(form.get("decision", ""))
        except ValueError:
            decision = None
        if "change" in form:
            return self.show(rid, form=form)
        try:
            with session_scope() as s:
                req = workflow.decidable(s, name, rid, resolving=self.resolving,  # refusals audited
                                         by_token=self.authenticated_by_token)
                votes = self.file_votes(req)
                if form.get("confirm") != "yes" or decision is None:  # without a decision, check says so
                    self.check(s, name, req, decision, votes)
                    return self._confirm(req, decision, votes, form)
                self.record(s, name, rid, decision, votes)
                workflow.settle(s, rid)
        except rules.DecisionRefused as exc:
            return self.show(rid, form=form, problems=exc.problems, status=_status(exc))
        except NotFound as exc:
            raise http_error(exc, 404) from exc
        except EnclaveError as exc:
            return self.show(rid, form=form, problems=[("decision", exc.text)], status=_status(exc))
        self.redirect(f"{EGRESS_PREFIX}requests/{rid}?done={'resolved' if self.resolving else 'reviewed'}")

    def _confirm(self, req: ExportRequest, decision: Decision | None, votes: dict[str, dict[str, str]],
                 form: dict[str, str]) -> None:
        files = [{"name": f.name, "vote": votes[str(f.id)]["decision"],
                  "out": decision == Decision.APPROVE and votes[str(f.id)]["decision"] == "approve"}
                 for f in req.files]
        step = "resolve" if self.resolving else "review"
        self.page("confirm.html", action=f"{EGRESS_PREFIX}requests/{req.id}/{step}", rid=req.id,
                  what=decision.value if decision else "", files=files, form=form, withdraw=False)


class ReviewAction(DecisionAction):
    def record(self, s: Any, name: str, rid: int, decision: Decision, votes: dict[str, dict[str, str]]) -> None:
        workflow.review(s, name, rid, decision, votes, self.get_body_argument("comment_to_requester", ""),
                        self.get_body_argument("private_comment", ""))


class ResolveAction(DecisionAction):
    resolving = True

    def record(self, s: Any, name: str, rid: int, decision: Decision, votes: dict[str, dict[str, str]]) -> None:
        workflow.resolve(s, name, rid, decision, votes, self.get_body_argument("reason", ""))


class WithdrawAction(RequestPage):
    """Asks first (a page of its own, no script), then withdraws and says so; a refusal comes back on the page."""

    @web.authenticated
    def post(self, rid_: str) -> None:
        name, rid = self.username, int(rid_)
        try:
            with session_scope() as s:
                req = self.run(lambda: workflow.visible_request(s, name, rid))
                if self.get_body_argument("confirm", "") != "yes":
                    rules.check_can_withdraw(req, get_user(s, name))
                    return self.page("confirm.html", action=f"{EGRESS_PREFIX}requests/{rid}/withdraw", rid=rid,
                                     what="withdraw", files=[], form={}, withdraw=True)
                workflow.withdraw(s, name, rid)
        except NotFound as exc:
            raise http_error(exc, 404) from exc
        except EnclaveError as exc:
            return self.show(rid, problems=[("withdraw", exc.text)], status=_status(exc))
        self.redirect(f"{EGRESS_PREFIX}requests/{rid}?done=withdrawn")


def revision_paths(picked: list[str], other: str) -> list[str]:
    """The files a revision names: the ticked ones, then each line typed (blank lines and repeats dropped)."""
    out: list[str] = []
    for p in [*picked, *other.splitlines()]:
        p = p.strip()
        if p and p not in out:
            out.append(p)
    return out


class RevisePage(RequestPage):
    """A returned request revised in the browser: files picked again from the workspace, justification kept.

    The form (GET) shows the reviewers' comments, the returned version's files ticked and the workspace's
    other files; a post is checked (`rules.check_can_revise`, `limits.check_request_files`,
    `rules.check_justification`), then confirmed on a page of its own, then made by `intake.from_workspace`
    with `revises`, which reads and checks every file again: the same path as a revision from the workspace.
    Problems come back on the form beside their field, with everything chosen and typed kept.
    """

    @web.authenticated
    def get(self, rid: str) -> None:
        self.revise_form(int(rid))

    def revise_form(self, rid: int, form: dict[str, Any] | None = None,
                    problems: list[tuple[str, str]] | None = None, status: int = 200) -> None:
        name = self.username
        with session_scope() as s:
            req = self.run(lambda: workflow.visible_request(s, name, rid))
            me, project = workflow.parties(s, name, req)
            if req.requester != name:
                raise web.HTTPError(403, Text("only the requester can revise a request"))
            refusal = rules.why_not(lambda: rules.check_can_revise(req, me, project))
            problems = list(problems or [])
            if refusal and ("revise", refusal) not in problems:
                problems.insert(0, ("revise", refusal))
            previous = [f.name for f in req.files]
            listed, more = listing(self.ctx.settings.workspace_dir(req.project))
            form = form or {"files": previous, "other": "", "justification": req.justification}
            listed = [p for p in listed if p not in previous]
            typed = [p for p in form["files"] if p not in previous and p not in listed]  # back from confirming
            if typed:
                form = {**form, "other": "\n".join([*typed, *[x for x in form["other"].splitlines() if x.strip()]])}
            fields: dict[str, list[str]] = {}
            for field, text in problems:
                fields.setdefault(field, []).append(message(text, self.lang))
            self.set_status(403 if refusal and status == 200 else status)
            self.page("revise.html", r=request_view(req, name), previous=previous,
                      listed=listed, more=more, form=form, problems=fields,
                      can_revise=refusal is None)

    def _problems(self, s: Any, name: str, rid: int, paths: list[str], justification: str) -> tuple[str, list[Any]]:
        """The project of the request, and what is wrong with the form (field, message); nothing is read yet."""
        req = self.run(lambda: workflow.visible_request(s, name, rid))
        problems: list[tuple[str, str]] = []
        refusal = rules.why_not(lambda: rules.check_can_revise(req, *workflow.parties(s, name, req)))
        if refusal:
            problems.append(("revise", refusal))
        policy = self.ctx.policies.egress.for_project(req.project)
        for field, check in (("files", lambda: limits.check_request_files(paths, policy)),
                             ("justification", lambda: rules.check_justification(justification))):
            reason = rules.why_not(check)
            if reason:
                problems.append((field, reason))
        return req.project, problems

    @web.authenticated
    async def post(self, rid_: str) -> None:
        name, rid = self.username, int(rid_)
        picked, other = self.get_body_arguments("file"), self.get_body_argument("other", "")
        justification = self.get_body_argument("justification", "")
        form = {"files": picked, "other": other, "justification": justification}
        if self.get_body_argument("change", ""):
            return self.revise_form(rid, form)
        paths = revision_paths(picked, other)
        with session_scope() as s:
            slug, problems = self._problems(s, name, rid, paths, justification)
            previous = [f.name for f in workflow.get_request(s, rid).files]
        if problems:
            return self.revise_form(rid, form, problems, status=403 if problems[0][0] == "revise" else 400)
        if self.get_body_argument("confirm", "") != "yes":
            return self.page("revise_confirm.html", rid=rid, paths=paths, previous=previous,
                             dropped=[p for p in previous if p not in paths], justification=justification)
        policy = self.ctx.policies.egress.for_project(slug)
        try:
            new = await asyncio.to_thread(intake.from_workspace, self.ctx.settings, policy, name, slug, paths,
                                          justification, {"revises": rid}, self.ctx.own_index)
        except EnclaveError as exc:  # a file that cannot be read or is refused, a limit: beside the files
            return self.revise_form(rid, form, [("files", exc.text)], status=_status(exc))
        self.redirect(f"{EGRESS_PREFIX}requests/{new}?done=revised")


class ClaimAction(RequestPage):
    """A reviewer claims a request (or gives the claim up); recorded, and refusals come back on the page."""

    @web.authenticated
    def post(self, rid_: str, what: str) -> None:
        name, rid = self.username, int(rid_)
        try:
            with session_scope() as s:
                (workflow.claim if what == "claim" else workflow.unclaim)(s, name, rid)
        except NotFound as exc:
            raise http_error(exc, 404) from exc
        except EnclaveError as exc:
            return self.show(rid, problems=[("claim", exc.text)], status=_status(exc))
        self.redirect(f"{EGRESS_PREFIX}requests/{rid}?done={'claimed' if what == 'claim' else 'unclaimed'}")


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
        (p + r"requests/(\d+)/revise", RevisePage, d),
        (p + r"requests/(\d+)/(claim|unclaim)", ClaimAction, d),
        (p + r"guidance", GuidancePage, d),
        (p + r"requests/(\d+)/download/(\d+|results\.json)", DownloadPage, d),
        (p.rstrip("/") + r"/?", HomePage, d),
    ], cookie_secret=bytes.fromhex(ctx.settings.secret("egress-cookie")), xsrf_cookies=True)


def hub_env(settings: Settings) -> dict[str, str]:
    return hub_service_env(settings, EGRESS_SERVICE, EGRESS_PREFIX, settings.egress_port, "egress-review-token")


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
