"""The output checkers' pages of the jobs service: the queue of held job outputs, and one job's held files.

People reach them through the proxy after logging in through the hub (OAuth), like the export review pages.
Who sees what is `jobs.rules` (`check_is_output_checker`, `check_can_see_held`, `check_can_release`); every
view of held content is audited (`job.inspect`), every refusal too (`job.refused`), answered as a page in
the reader's language. The decision is `jobs.workflow.decide`, the step the CLI takes: recorded, then the
workspace's `/workspace/jobs/<id>/` is written again. Without script (the CSP allows none): a first post
checks the form and asks for confirmation; mistakes come back on the job page beside their field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthenticated
from sqlalchemy.orm import Session
from tornado import web

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Unavailable
from enclave.models import Job, JobRelease
from enclave.projects import get_project, get_user
from enclave.settings import JOBS_PREFIX, Settings
from enclave.webpages import PageBasics, error_sentence
from jobs import results, rules, workflow
from jobs.files import read_blob
from jobs.i18n import message, translator, where
from jobs.scopes import SERVICE_ACCESS

TEMPLATES = Path(__file__).resolve().parent / "templates"
SHOWN_BYTES = 256 * 1024  # of a held file's checked content on the page; more is said to be cut
DECISIONS = {"release": True, "withhold": False}


def templates() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def _status(exc: EnclaveError) -> int:
    for kind, code in ((Unavailable, 503), (NotFound, 404), (NotAllowed, 403), (InvalidTransition, 409)):
        if isinstance(exc, kind):
            return code
    return 400



FAILED = {"page": "the jobs service failed on this page; tell the enclave administrators",
          "call": "the jobs service failed on this call; tell the enclave administrators"}

class PageHandler(PageBasics, HubOAuthenticated, web.RequestHandler):
    """A person's page, signed in through the hub (the service's own OAuth cookie; forms carry XSRF)."""

    def initialize(self, ctx: Any) -> None:
        self.ctx = ctx
        self.settings_: Settings = ctx.settings

    @property
    def hub_scopes(self) -> set[str]:  # type: ignore[override]
        return {SERVICE_ACCESS}

    authenticated_by_token = False

    def get_current_user(self) -> dict[str, Any] | None:
        """Records whether the `Authorization` header's token is what authenticated the request (as the export
        pages do): the hub tries the header first and falls back to the cookie when the token is not valid."""
        self._authenticating = True
        try:
            user: dict[str, Any] | None = super().get_current_user()
        finally:
            self._authenticating = False
        self.authenticated_by_token = bool(user) and bool(getattr(self, "_token_authenticated", False))
        return user

    def check_xsrf_cookie(self) -> None:
        """A cookie request needs the form's token; only a request its own token authenticated skips it.
        Asked while the hub falls back to the cookie, the check is made without identifying the caller again
        (which would ask for it once more, for ever)."""
        if not getattr(self, "_authenticating", False):
            _ = self.current_user
            if self.authenticated_by_token:
                return
        super().check_xsrf_cookie()

    @property
    def t(self) -> Callable[..., str]:
        return translator(self.lang)

    @property
    def username(self) -> str:
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, "only people can check job outputs")
        return str(user["name"])

    def html(self, template: str, **kw: Any) -> str:
        return self.ctx.templates.get_template(template).render(
            t=self.t, lang=self.lang, user=self.username, prefix=JOBS_PREFIX, xsrf=self.xsrf_token.decode(),
            when=self.when, **kw)

    def send(self, html: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)

    def page(self, template: str, status: int = 200, **kw: Any) -> None:
        self.send(self.html(template, **kw), status)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A page in the reader's language, one sentence, never a traceback."""
        text = error_sentence(kwargs, status_code, self._reason, FAILED["page"])
        self.set_header("Content-Type", "text/html; charset=utf-8")
        shown = self.t(text) if self.t(text) != text else message(text, self.lang)
        self.finish(self.ctx.templates.get_template("error.html").render(
            t=self.t, lang=self.lang, status=status_code, message=shown, prefix=JOBS_PREFIX, user=None))

    def refused(self, exc: EnclaveError) -> web.HTTPError:
        return web.HTTPError(_status(exc), "%s", str(exc))


def _kinds(job: Job) -> list[str]:
    return sorted({k for meta in job.outputs.values() if meta["verdict"] == "review" for k in meta["kinds"]})


class QueuePage(PageHandler):
    """Jobs with held outputs, for output checkers; a project the checker is or was a member of is left out."""

    @web.authenticated
    def get(self) -> None:
        name = self.username
        try:
            with session_scope() as s:
                with workflow.refusals_audited(s, name, "queue", None, "jobs:held"):
                    me = get_user(s, name)
                    rules.check_is_output_checker(me)
                rows = [{"id": j.id, "project": j.project, "submitter": j.submitter, "command": j.command,
                         "ended_at": j.ended_at, "kinds": _kinds(j)}
                        for j in workflow.jobs_of(s) if j.release == JobRelease.HELD
                        and rules.can_see_held(me, get_project(s, j.project))]
        except EnclaveError as exc:
            raise self.refused(exc) from exc
        self.page("queue.html", jobs=rows)


class HeldJobPage(PageHandler):
    """One job's held files, their checked content and findings, beside the release / withhold form."""

    @web.authenticated
    def get(self, job_id: str) -> None:
        done = self.get_query_argument("done", "")
        self.show(int(job_id), form={"decision": "", "reason": ""}, done=done)

    def _job(self, s: Session, name: str, jid: int) -> Job:
        """The job, once the rules say this checker may see its held content (refusals audited)."""
        with workflow.refusals_audited(s, name, "inspect", None, f"job:{jid}"):
            job = s.get(Job, jid)
            if job is None:
                raise rules.NotYourJob("no job {job_id}", job_id=jid)
            me = get_user(s, name)
            rules.check_can_see_held(me, get_project(s, job.project))
        return job

    def _file(self, name: str, meta: dict[str, Any]) -> dict[str, Any]:
        t = self.t
        out = {"name": name, "verdict": meta["verdict"], "kinds": meta["kinds"], "text": None,
               "findings": [{**f, "where": where(f.get("location") or {}, self.lang)}
                            for f in meta.get("findings", [])]}
        try:
            data = read_blob(self.settings_.jobs_store, meta["sha256"])
        except OSError:
            out["extent"] = t("The checked copy of this file is missing from the jobs store; tell the enclave "
                              "administrators.")
            return out
        if b"\x00" in data[:SHOWN_BYTES]:
            out["extent"] = t("This file is not text ({n} bytes); its content is not shown here.", n=len(data))
            return out
        out["text"] = data[:SHOWN_BYTES].decode("utf-8", errors="replace")
        out["extent"] = (t("Shown in full ({n} bytes).", n=len(data)) if len(data) <= SHOWN_BYTES else
                         t("Only part is shown: the first {shown} of {n} bytes.", shown=SHOWN_BYTES, n=len(data)))
        return out

    def show(self, jid: int, form: dict[str, str], problems: dict[str, list[str]] | None = None,
             done: str = "", status: int = 200) -> None:
        name = self.username
        try:
            with session_scope() as s:
                job = self._job(s, name, jid)
                held = {k: v for k, v in sorted(job.outputs.items()) if v["verdict"] == "review"}
                files = [self._file(k, v) for k, v in held.items()]
                others = [{"name": k, "verdict": v["verdict"], "kinds": v["kinds"]}
                          for k, v in sorted(job.outputs.items()) if k not in held]
                audit.record(s, name, AuditAction.JOB_INSPECT, project=job.project, target=f"job:{job.id}",
                             files={k: v["sha256"] for k, v in held.items()})
                me, project = get_user(s, name), get_project(s, job.project)
                why_not = rules.why_not(lambda: rules.check_can_release(job, me, project))
                html = self.html("job.html", job=job, files=files, others=others, form=form,
                                 problems=problems or {}, can_release=why_not is None,
                                 why_not=message(why_not, self.lang) if why_not else "", done=self._done(job, done))
        except EnclaveError as exc:
            raise self.refused(exc) from exc
        self.send(html, status)  # only once the view's audit record is committed

    def _done(self, job: Job, done: str) -> str:
        if done == "withheld" and job.release == JobRelease.WITHHELD:
            return self.t("Withheld: the held files stay out of the workspace for good.")
        if done == "released" and job.release == JobRelease.RELEASED:
            there = results.delivered(self.settings_, job)
            return self.t("Released: the held files are now in /workspace/jobs/{id}/ of project {project}." if there
                          else "Released: the files are delivered into /workspace/jobs/{id}/ once project "
                               "{project}'s workspace is mounted.", id=job.id, project=job.project)
        return ""

    def _problems(self, form: dict[str, str]) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        if form["decision"] not in DECISIONS:
            problems["decision"] = [self.t("choose release or withhold")]
        if not form["reason"].strip():
            problems["reason"] = [message("a reason is required: say what you checked", self.lang)]
        return problems

    @web.authenticated
    async def post(self, job_id: str) -> None:
        name, jid = self.username, int(job_id)
        form = {"decision": self.get_body_argument("decision", ""), "reason": self.get_body_argument("reason", "")}
        if self.get_body_argument("change", ""):
            return self.show(jid, form)
        problems = self._problems(form)
        if problems:
            return self.show(jid, form, problems, status=400)
        if self.get_body_argument("confirm", "") != "yes":
            return self.confirm(name, jid, form)
        try:
            await asyncio.to_thread(workflow.decide, self.settings_, name, jid,
                                    release_it=DECISIONS[form["decision"]], reason=form["reason"])
        except NotFound as exc:
            raise self.refused(exc) from exc
        except EnclaveError as exc:  # refused (audited there) or decided meanwhile: said beside the decision
            return self.show(jid, form, {"decision": [message(str(exc), self.lang)]}, status=_status(exc))
        self.redirect(f"{JOBS_PREFIX}held/{jid}?done={'released' if DECISIONS[form['decision']] else 'withheld'}")

    def confirm(self, name: str, jid: int, form: dict[str, str]) -> None:
        """What will happen, asked before anything is recorded (the release rules checked first)."""
        with session_scope() as s:
            try:
                job = self._job(s, name, jid)
            except EnclaveError as exc:
                raise self.refused(exc) from exc
            try:
                with workflow.refusals_audited(s, name, "release", job.project, f"job:{jid}"):
                    rules.check_can_release(job, get_user(s, name), get_project(s, job.project))
            except NotAllowed as exc:
                refusal = str(exc)
            else:
                names = sorted(k for k, v in job.outputs.items() if v["verdict"] == "review")
                return self.page("confirm.html", job=job, names=names, form=form)
        self.show(jid, form, {"decision": [message(refusal, self.lang)]}, status=403)
