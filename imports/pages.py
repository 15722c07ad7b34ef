"""The import airlock's pages, served by the governance service (outside every workspace).

A researcher uploads a file for a project they are a member of, with a purpose, and reads the checks'
outcome; an import steward reviews held files. The pages are the governance service's kind: hub OAuth login,
the service's XSRF cookie on every form, no script, zh-CN and en. `routes` is what the service mounts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from enclave import audit
from enclave.access import projects_for
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Unavailable
from enclave.projects import get_project, get_user
from enclave.settings import GOVERNANCE_PREFIX, GOVERNANCE_SERVICE, IMPORTS_MOUNT, Settings
from enclave.webpages import PageBasics
from imports import rules, workflow
from imports.i18n import finding_in, reason_in, translator
from imports.models import ImportRequest
from policies import load_policies
from policies.schema import ImportPolicy

TEMPLATES = Path(__file__).resolve().parent / "templates"
log = logging.getLogger("imports")
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)


def _http_error(exc: EnclaveError, status: int) -> web.HTTPError:
    """Keeps the message's template for `write_error`, which shows it in the reader's language."""
    text = exc.text  # the domain error's own Text: its template is translated in write_error
    err = web.HTTPError(status, text)
    err.text = text  # type: ignore[attr-defined]
    return err


def _status(exc: EnclaveError) -> int:
    for cls, code in ((Unavailable, 503), (NotFound, 404), (NotAllowed, 403), (InvalidTransition, 409)):
        if isinstance(exc, cls):
            return code
    return 400


class ImportHandler(PageBasics, HubOAuthenticated, web.RequestHandler):
    def initialize(self, settings: Settings) -> None:
        self.enclave = settings

    @property
    def hub_scopes(self) -> set[str]:  # type: ignore[override]
        return {f"access:services!service={GOVERNANCE_SERVICE}"}

    @property
    def policy(self) -> ImportPolicy:
        """Read per request: a steward added to imports.yaml reviews on the next page."""
        return load_policies(self.enclave.policy_dir).imports

    @property
    def username(self) -> str:
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, "only people use the governance pages")
        return str(user["name"])

    @property
    def t(self) -> Callable[[str], str]:
        return translator(self.lang)

    def page(self, template: str, status: int = 200, **kw: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_ENV.get_template(template).render(
            t=self.t, lang=self.lang, user=self.username, prefix=GOVERNANCE_PREFIX, xsrf=self.xsrf_token.decode(),
            say=lambda r: reason_in(r, self.lang), finding=lambda f: finding_in(f, self.lang), when=self.when,
            mount=IMPORTS_MOUNT, **kw))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "text", None) or getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_ENV.get_template("import_error.html").render(
            t=self.t, lang=self.lang, status=status_code, message=reason_in(message, self.lang),
            prefix=GOVERNANCE_PREFIX, user=None))

    def run(self, fn: Callable[[], Any]) -> Any:
        """Domain errors become HTTP errors that keep the domain's message (shown in the reader's language)."""
        try:
            return fn()
        except EnclaveError as exc:
            raise _http_error(exc, _status(exc)) from exc


class ImportsPage(ImportHandler):
    """The upload form, the imports of the reader's projects, and (for stewards) the held ones."""

    @web.authenticated
    def get(self) -> None:
        policy = self.policy
        with session_scope() as s:
            me = self.run(lambda: get_user(s, self.username))
            mine = [p.project for p in projects_for(s, me.username)]
            open_projects = [slug for slug in mine if rules.can_import(me, get_project(s, slug))]
            steward = rules.is_steward(me.username, policy)
            self.page("imports.html", projects=open_projects, imports=workflow.imports_of(s, mine),
                      held=workflow.held(s) if steward else [], steward=steward)

    @web.authenticated
    async def post(self) -> None:
        project, purpose = self.get_body_argument("project", ""), self.get_body_argument("purpose", "")
        upload = next((f for f in self.request.files.get("file", []) if f.get("filename")), None)
        if upload is None:
            self._refuse_missing(project)
        policy, settings, user = self.policy, self.enclave, self.username

        def submit() -> int:
            with session_scope() as s:
                return int(workflow.submit(s, settings, policy, user, project, upload["filename"], upload["body"],
                                           purpose).id)

        import_id = await asyncio.get_running_loop().run_in_executor(None, lambda: self.run(submit))  # clamscan
        # runs off the event loop: other pages keep answering meanwhile
        self.redirect(f"{GOVERNANCE_PREFIX}imports/{import_id}")

    def _refuse_missing(self, project: str) -> None:
        exc = NotAllowed("choose a file to import")
        with session_scope() as s:
            audit.record(s, self.username, AuditAction.IMPORT_REFUSED, project=project or None, target="",
                         reason=str(exc))
        raise _http_error(exc, 400)


class ImportPage(ImportHandler):
    @web.authenticated
    def get(self, import_id: str) -> None:
        policy = self.policy
        with session_scope() as s:
            req: ImportRequest = self.run(lambda: workflow.visible_import(s, policy, self.username, int(import_id)))
            self.page("import.html", r=req, can_review=rules.can_review(self.username, req, policy))


class ReviewAction(ImportHandler):
    @web.authenticated
    def post(self, import_id: str) -> None:
        decision, reason = self.get_body_argument("decision", ""), self.get_body_argument("reason", "")
        act = workflow.approve if decision == "approve" else workflow.refuse
        with session_scope() as s:
            self.run(lambda: act(s, self.enclave, self.policy, self.username, int(import_id), reason))
        self.redirect(f"{GOVERNANCE_PREFIX}imports/{import_id}")


def routes(prefix: str, settings: Settings) -> list[tuple[str, type[web.RequestHandler], dict[str, Any]]]:
    """What the governance service mounts (before its own catch-all home page)."""
    d = {"settings": settings}
    return [(prefix + "imports", ImportsPage, d), (prefix + r"imports/(\d+)", ImportPage, d),
            (prefix + r"imports/(\d+)/review", ReviewAction, d)]


def max_body_bytes(settings: Settings) -> int:
    """The largest upload the service must take in: the policy's largest file, and a little for the form."""
    return load_policies(settings.policy_dir).imports.max_file_bytes + 1024**2
