"""The governance service: a JupyterHub service (hub OAuth login) for the data catalogue, project applications
and their approvals, accreditation, the audit view, the dashboard and the operations view.

Built like the egress-review service (its own process, registered with the hub as an external service,
CSP without script, zh-CN and en) but sharing only the core: models, `enclave.projects`, the audit trail
and policies. Who may see or do what is decided in `governance.rules`; what changes is done in
`governance.workflow` and `governance.catalogue`. A refused action is recorded in the audit trail.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from sqlalchemy import select
from tornado import ioloop, web

import packages.rules as package_rules
import packages.workflow as package_workflow
from enclave import audit
from enclave.access import accreditation_of, projects_for, record_accreditation, standing
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Unavailable
from enclave.models import Accreditation, Project, Role, StepDecision, User
from enclave.projects import get_project, get_user, today
from enclave.settings import GOVERNANCE_PREFIX, GOVERNANCE_SERVICE, Settings, get_settings, hub_service_env
from enclave.webpages import PageBasics
from governance import catalogue, documents, notify, operations, rules, supervision, workflow
from governance.i18n import message as refusal_in
from governance.i18n import translator
from governance.workflow import FIELDS, ApplicationInvalid
from imports.pages import max_body_bytes as import_body_bytes
from imports.pages import routes as import_routes
from packages.i18n import reason_zh
from packages.models import PackageRequest, RequestState
from policies import load_policies
from policies.loader import Policies
from policies.schema import PackagePolicy

TEMPLATES = Path(__file__).resolve().parent / "templates"
SERVICE_ACCESS = f"access:services!service={GOVERNANCE_SERVICE}"
log = logging.getLogger("governance")


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policies: Policies = load_policies(settings.policy_dir)
        # compiled once per process, not checked against the file on every page (they change with a deployment)
        self.templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                                     auto_reload=False)
        self._packages: tuple[tuple[int, int], PackagePolicy] | None = None

    def package_policy(self) -> PackagePolicy:
        """packages.yaml as it is now: approvals (from these pages or the CLI) rewrite it while the service runs,
        so it is read again whenever the file changed."""
        st = package_workflow.policy_path(self.settings).stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if self._packages is None or self._packages[0] != stamp:
            self._packages = (stamp, package_workflow.current_policy(self.settings))
        return self._packages[1]


def _http_error(exc: EnclaveError, status: int) -> web.HTTPError:
    """Keeps the message's template for `write_error`, which shows it in the reader's language."""
    err = web.HTTPError(status, str(exc))
    err.text = exc.text  # type: ignore[attr-defined]
    return err


def _status(exc: EnclaveError) -> int:
    for cls, code in ((Unavailable, 503), (NotFound, 404), (NotAllowed, 403), (InvalidTransition, 409)):
        if isinstance(exc, cls):
            return code
    return 400


class Handler(PageBasics, HubOAuthenticated, web.RequestHandler):
    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def hub_scopes(self) -> set[str]:  # type: ignore[override]
        return {SERVICE_ACCESS}

    @property
    def policies(self) -> Policies:
        return self.ctx.policies

    @property
    def t(self) -> Callable[[str], str]:
        return translator(self.lang)

    def say(self, text: str) -> str:
        """A domain message (an accreditation's standing, why a workspace cannot start) in the reader's language."""
        return refusal_in(text, self.lang)

    @property
    def username(self) -> str:
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, "only people use the governance pages")
        return str(user["name"])

    def me(self, session: Any) -> User:
        return self.run(lambda: get_user(session, self.username))

    def nav(self, me: User) -> dict[str, bool]:
        gov = self.policies.governance
        return {"apply": rules.can_apply(me), "approver": rules.is_approver(me, gov),
                "audit": rules.can_see_audit(me), "dashboard": rules.can_see_dashboard(me, gov),
                "ops": rules.can_see_operations(me), "accreditation": rules.can_set_accreditation(me),
                "packages": rules.has_role(me, Role.RESEARCHER) or bool(me.memberships)
                or package_rules.is_steward(me.username, self.ctx.package_policy()),
                "package_queue": package_rules.can_see_queue(self.ctx.package_policy(), me.username)}

    def page(self, template: str, me: User, status: int = 200, **kw: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.ctx.templates.get_template(template).render(
            t=self.t, say=self.say, lang=self.lang, user=me.username, prefix=GOVERNANCE_PREFIX, nav=self.nav(me),
            xsrf=self.xsrf_token.decode(), **kw))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "text", None) or getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.ctx.templates.get_template("error.html").render(
            t=self.t, lang=self.lang, status=status_code, message=refusal_in(message, self.lang),
            prefix=GOVERNANCE_PREFIX, user=None, nav={}))

    def run(self, fn: Callable[[], Any]) -> Any:
        """Domain errors become HTTP errors with the domain's own message; refusals are recorded."""
        try:
            return fn()
        except NotAllowed as exc:
            self.refused(str(exc))
            raise _http_error(exc, 403) from exc
        except EnclaveError as exc:
            raise _http_error(exc, _status(exc)) from exc

    def refused(self, reason: str) -> None:
        """Recorded in its own transaction: the refused change's one is rolled back."""
        try:
            with session_scope() as s:
                audit.record(s, self.username, AuditAction.GOVERNANCE_REFUSED, target=self.request.path[:200],
                             method=self.request.method, reason=reason)
        except Exception:  # noqa: BLE001 - the refusal stands whether or not it could be recorded
            log.exception("could not record a refused governance action")

    def form(self, kept: dict[str, Any] | None = None) -> dict[str, Any]:
        """The application form's fields (datasets may be several checkboxes); an uploaded ethics document
        replaces the one the draft had (`kept`)."""
        out: dict[str, Any] = {k: self.get_body_argument(k, "") for k in FIELDS if k != "datasets"}
        out["datasets"] = self.get_body_arguments("datasets")
        upload = next((f for f in self.request.files.get("ethics_doc", []) if f["body"]), None)
        if upload is not None:
            out["ethics_doc"] = self.run(lambda: documents.store(self.ctx.settings, upload["filename"],
                                                                 upload["body"]))
        elif kept and kept.get("ethics_doc"):
            out["ethics_doc"] = kept["ethics_doc"]
        return out


# --- home and landing ----------------------------------------------------------------------------


class HomePage(Handler):
    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            mine = workflow.own_applications(s, me.username)
            queue = workflow.queue_for(s, me.username, self.policies, me)
            st = standing(accreditation_of(s, me.username), self.policies.governance)
            projects = projects_for(s, me.username) if rules.has_role(me, Role.RESEARCHER) else []
            amendable = {m.project.slug for m in me.memberships if rules.can_amend(me, m.project)}
            waiting = len(package_workflow.open_requests(s))
            self.page("home.html", me, mine=mine, queue=queue, standing=st, projects=projects,
                      amendable=amendable, overdue=workflow.is_overdue, packages_waiting=waiting)


# --- catalogue -------------------------------------------------------------------------------------


class CataloguePage(Handler):
    @web.authenticated
    def get(self) -> None:
        q, tier = self.get_query_argument("q", ""), self.get_query_argument("tier", "")
        with session_scope() as s:
            me = self.me(s)
            found = catalogue.search(s, self.policies, q, tier)
            self.page("catalogue.html", me, datasets=found, q=q, tier=tier, tiers=self.policies.datasets.tiers)


class DatasetPage(Handler):
    @web.authenticated
    def get(self, label: str) -> None:
        with session_scope() as s:
            me = self.me(s)
            ds = self.run(lambda: catalogue.by_label(s, label))
            self.page("dataset.html", me, d=catalogue.view(s, ds, self.policies), preview=catalogue.preview(ds),
                      can_edit=rules.can_edit_dataset_doc(me, ds, self.policies.governance))

    @web.authenticated
    def post(self, label: str) -> None:
        with session_scope() as s:
            ds = self.run(lambda: catalogue.by_label(s, label))
            notes = {k.removeprefix("col-"): v[0].decode() for k, v in self.request.body_arguments.items()
                     if k.startswith("col-")}
            self.run(lambda: catalogue.edit_doc(s, self.username, ds, self.policies,
                                                self.get_body_argument("description", ""), notes))
        self.redirect(f"{GOVERNANCE_PREFIX}catalogue/{label}")


class DummyDownload(Handler):
    @web.authenticated
    def get(self, label: str, file: str) -> None:
        with session_scope() as s:
            self.me(s)
            ds = self.run(lambda: catalogue.by_label(s, label))
            data = self.run(lambda: catalogue.dummy_csv(ds, file))
        safe = "".join(c if c.isalnum() or c in "._-@" else "_" for c in f"{label}-dummy-{file}")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{safe.removesuffix(".parquet")}.csv"')
        self.finish(data)


# --- applications ----------------------------------------------------------------------------------


class ApplicationsPage(Handler):
    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            every = workflow.all_applications(s) if rules.can_see_audit(me) else []
            self.page("applications.html", me, mine=workflow.own_applications(s, me.username),
                      queue=workflow.queue_for(s, me.username, self.policies, me), every=every,
                      overdue=workflow.is_overdue)


class NewApplication(Handler):
    @web.authenticated
    def get(self) -> None:
        amends = self.get_query_argument("amends", "")
        with session_scope() as s:
            me = self.me(s)
            draft: dict[str, Any] = {"datasets": [], "members": []}
            if amends:
                draft = self.run(lambda: workflow.amendment_start(s, me.username, amends))
            else:
                self.run(lambda: rules.check_can_apply(me))
            self.page("apply.html", me, app=None, draft=draft, amends=amends,
                      datasets=catalogue.search(s, self.policies), problems=[])

    @web.authenticated
    def post(self) -> None:
        amends = self.get_body_argument("amends", "")
        with session_scope() as s:
            app = self.run(lambda: workflow.new_application(s, self.username, self.form(), amends))
            app_id = app.id
        _after_save(self, app_id)


def _after_save(handler: Handler, app_id: int) -> None:
    """Submit when asked; an invalid application stays a draft and the form shows each problem by its field."""
    if handler.get_body_argument("action", "save") != "submit":
        handler.redirect(f"{GOVERNANCE_PREFIX}applications/{app_id}")
        return

    def submit(s: Any) -> list[tuple[str, str, str]]:
        try:
            workflow.submit(s, handler.username, app_id, handler.policies)
        except ApplicationInvalid as exc:  # checked before anything changes: the saved draft stays as it is
            return exc.problems
        return []

    with session_scope() as s:
        problems = handler.run(lambda: submit(s))
    if problems:
        with session_scope() as s:
            me = handler.me(s)
            app = workflow.get_application(s, app_id)
            handler.page("apply.html", me, status=400, app=app, draft=app.draft, amends=app.amends,
                         datasets=catalogue.search(s, handler.policies), problems=problems)
        return
    handler.redirect(f"{GOVERNANCE_PREFIX}applications/{app_id}")


class ApplicationPage(Handler):
    @web.authenticated
    def get(self, app_id: str) -> None:
        with session_scope() as s:
            me = self.me(s)
            app = self.run(lambda: workflow.visible_application(s, me.username, int(app_id), self.policies))
            amended = workflow.amended_project(s, app)
            gov = self.policies.governance
            steps = [(st, rules.can_decide(app, st, me, gov, amended), gov.people(st.party, st.subject))
                     for st in app.steps]
            diffs = {v.number: workflow.diff(app.versions[i - 1].content if i else v.content.get("amends_from", {}),
                                             v.content)
                     for i, v in enumerate(app.versions) if i or v.content.get("amends_from")}
            if rules.can_edit(app, me):
                self.page("apply.html", me, app=app, draft=app.draft, amends=app.amends, steps=steps, diffs=diffs,
                          datasets=catalogue.search(s, self.policies), problems=[])
                return
            self.page("application.html", me, app=app, steps=steps, diffs=diffs,
                      can_withdraw=rules.can_withdraw(app, me), overdue=workflow.is_overdue)

    @web.authenticated
    def post(self, app_id: str) -> None:
        with session_scope() as s:
            kept = self.run(lambda: workflow.get_application(s, int(app_id))).draft
            self.run(lambda: workflow.save_draft(s, self.username, int(app_id), self.form(kept)))
        _after_save(self, int(app_id))


class DocumentDownload(Handler):
    """An application's ethics document, for whoever may see the application, as an attachment never shown."""

    @web.authenticated
    def get(self, app_id: str, digest: str) -> None:
        with session_scope() as s:
            me = self.me(s)
            app = self.run(lambda: workflow.visible_application(s, me.username, int(app_id), self.policies))
            contents = [v.content for v in app.versions] + ([app.draft] if app.applicant == me.username else [])
            if digest not in {documents.named_by(c) for c in contents}:
                raise web.HTTPError(404, f"application {app_id} has no document {digest[:12]}")
        data = self.run(lambda: documents.read(self.ctx.settings, digest))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="application-{app_id}-ethics.pdf"')
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(data)


class DecideAction(Handler):
    @web.authenticated
    def post(self, app_id: str) -> None:
        raw = self.get_body_argument("decision", "")
        try:
            decision = StepDecision(raw)
            step = int(self.get_body_argument("step", ""))
        except ValueError as exc:
            raise web.HTTPError(400, f"unknown decision '{raw}' or step") from exc
        comment = self.get_body_argument("comment", "")

        def decide(s: Any) -> None:
            try:
                workflow.decide(s, self.username, int(app_id), step, decision, comment, self.policies)
            except ApplicationInvalid as exc:
                message = "; ".join(zh if self.lang == "zh-CN" else en for _, en, zh in exc.problems)
                raise web.HTTPError(400, message) from exc

        with session_scope() as s:
            self.run(lambda: decide(s))
        self.redirect(f"{GOVERNANCE_PREFIX}applications/{app_id}")


class WithdrawAction(Handler):
    @web.authenticated
    def post(self, app_id: str) -> None:
        with session_scope() as s:
            self.run(lambda: workflow.withdraw(s, self.username, int(app_id)))
        self.redirect(f"{GOVERNANCE_PREFIX}applications/{app_id}")


# --- accreditation ---------------------------------------------------------------------------------


class AccreditationPage(Handler):
    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            gov = self.policies.governance
            mine = standing(accreditation_of(s, me.username), gov)
            every = []
            if rules.can_set_accreditation(me) or rules.can_see_audit(me):
                every = list(s.execute(select(Accreditation).order_by(Accreditation.username)).scalars())
            self.page("accreditation.html", me, mine=mine, acc=accreditation_of(s, me.username), every=every,
                      levels=gov.levels, today=today(), warn=today() + timedelta(days=gov.lapse_warning_days),
                      projects=projects_for(s, me.username) if rules.has_role(me, Role.RESEARCHER) else [])

    @web.authenticated
    def post(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_set_accreditation(me))
            name = self.get_body_argument("username", "").strip()
            try:
                level = int(self.get_body_argument("level", ""))
                done = date.fromisoformat(self.get_body_argument("training_completed", ""))
                expires = date.fromisoformat(self.get_body_argument("expires", ""))
            except ValueError as exc:
                raise web.HTTPError(400, self.t("level must be a number and dates YYYY-MM-DD")) from exc
            self.run(lambda: record_accreditation(s, me.username, name, level=level, training_completed=done,
                                                  expires=expires, policy=self.policies.governance))
        self.redirect(f"{GOVERNANCE_PREFIX}accreditation")


# --- supervision -----------------------------------------------------------------------------------

AUDIT_FILTERS = ("user", "project", "action", "from", "to")
AUDIT_PAGE_ROWS = 1000  # the newest; the export has them all


class AuditPage(Handler):
    def rows(self, session: Any) -> list[dict[str, Any]]:
        f = {k: self.get_query_argument(k, "") for k in AUDIT_FILTERS}
        try:
            return supervision.search(session, user=f["user"], project=f["project"], action=f["action"],
                                      since=f["from"], until=f["to"])
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from exc

    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_see_audit(me))
            f = {k: self.get_query_argument(k, "") for k in AUDIT_FILTERS}
            try:
                rows, total = supervision.latest(s, user=f["user"], project=f["project"], action=f["action"],
                                                 since=f["from"], until=f["to"], limit=AUDIT_PAGE_ROWS)
            except ValueError as exc:
                raise web.HTTPError(400, str(exc)) from exc
            self.page("audit.html", me, rows=rows, total=total, filters=f,
                      query=urlencode({k: v for k, v in f.items() if v}), verified=supervision.verify(s))


class AuditExport(AuditPage):
    @web.authenticated
    def get(self, fmt: str) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_see_audit(me))
            rows = self.rows(s)
            audit.record(s, me.username, AuditAction.AUDIT_EXPORT, target=f"audit.{fmt}", records=len(rows),
                         filters={k: self.get_query_argument(k, "") for k in AUDIT_FILTERS})
        data = supervision.as_csv(rows) if fmt == "csv" else supervision.as_json(rows)
        self.set_header("Content-Type", "text/csv; charset=utf-8" if fmt == "csv" else "application/json")
        self.set_header("Content-Disposition", f'attachment; filename="audit.{fmt}"')
        self.finish(data)


class ExportsPage(Handler):
    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_see_audit(me))
            self.page("exports.html", me, requests=supervision.export_requests(s),
                      access=supervision.workspace_access(s))


class DashboardPage(Handler):
    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_see_dashboard(me, self.policies.governance))
            self.page("dashboard.html", me, charts=supervision.dashboard(s, self.policies, self.t))


class OperationsPage(Handler):
    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_see_operations(me))
            projects = list(s.execute(select(Project).order_by(Project.slug)).scalars())
            pending = [a for a in workflow.all_applications(s) if a.state.value == "submitted"]
            lapsing = list(s.execute(select(Accreditation).where(
                Accreditation.expires <= today() + timedelta(days=self.policies.governance.lapse_warning_days))
                .order_by(Accreditation.expires)).scalars())
            last_drill, failed_drills = operations.drills(s)
            self.page("ops.html", me, projects=projects, pending=pending, lapsing=lapsing,
                      overdue=workflow.is_overdue, current=workflow.current_steps, today=today(),
                      hub=operations.hub_state(self.ctx.settings.hub_db_url), late=operations.overdue_steps(s),
                      last_drill=last_drill, failed_drills=failed_drills)


# --- approved packages: researchers ask, package stewards decide (packages.rules, packages.workflow) ----------

PACKAGE_FIELDS = ("project", "name", "version", "reason")


def _decide_refusal(policy: PackagePolicy, username: str, request: PackageRequest) -> str:
    """Why this steward may not decide this request ("" when they may), in `packages.rules`' words."""
    try:
        package_rules.check_can_decide(policy, username, request)
    except EnclaveError as exc:
        return exc.text
    return ""


class PackagesHandler(Handler):
    @property
    def package_policy(self) -> PackagePolicy:
        return self.ctx.package_policy()

    def say_package(self, text: str) -> str:
        """A package step's reason in the reader's language: packages.i18n's, else the core's (a closed project)."""
        if self.lang != "zh-CN":
            return str(text)
        zh = reason_zh(str(text))
        return zh if zh != str(text) else self.say(text)

    def show_queue(self, session: Any, me: User, status: int = 200, rid: int = 0,
                   form: dict[str, str] | None = None, problems: list[tuple[str, str]] | None = None) -> None:
        policy = self.package_policy
        every = package_workflow.list_requests(session)
        waiting = [r for r in every if r.state == RequestState.REQUESTED]
        decided = sorted((r for r in every if r.state != RequestState.REQUESTED), key=lambda r: -r.id)
        self.page("package_queue.html", me, status=status, waiting=waiting, decided=decided,
                  why_not={r.id: self.say_package(_decide_refusal(policy, me.username, r)) for r in waiting},
                  rid=rid, form=form or {}, problems=self.fields(problems or []), say_package=self.say_package,
                  when=self.when)

    def allowed(self, check: Callable[[], None]) -> None:
        """A refusal by packages.rules: recorded, and shown on the error page in the reader's language."""
        try:
            check()
        except NotAllowed as exc:
            self.refused(str(exc))
            raise web.HTTPError(403, self.say_package(exc.text)) from exc

    def fields(self, problems: list[tuple[str, str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, text in problems:
            out.setdefault(name, []).append(self.say_package(text))
        return out


class PackagesPage(PackagesHandler):
    """A project member asks for a package and reads their projects' requests, states and decisions."""

    def show(self, session: Any, me: User, status: int = 200, form: dict[str, str] | None = None,
             problems: list[tuple[str, str]] | None = None, asked: int = 0) -> None:
        policy = self.package_policy
        mine = {m.project.slug: m.project for m in me.memberships}
        requests = [r for r in package_workflow.requests_in(session, sorted(mine))
                    if package_rules.can_see_request(policy, me, r, mine[r.project])]
        self.page("packages.html", me, status=status, policy=policy, requests=requests, asked=asked,
                  askable=[p for p in mine.values() if package_rules.can_ask_in(me, p)],
                  form=form or {}, problems=self.fields(problems or []), say_package=self.say_package,
                  when=self.when)

    @web.authenticated
    def get(self) -> None:
        asked = self.get_query_argument("asked", "")
        with session_scope() as s:
            self.show(s, self.me(s), asked=int(asked) if asked.isdigit() else 0)

    @web.authenticated
    def post(self) -> None:
        form = {k: self.get_body_argument(k, "").strip() for k in PACKAGE_FIELDS}
        spec = f"{form['name']}=={form['version']}" if form["version"] else form["name"]
        with session_scope() as s:
            me = self.me(s)
            try:
                rid = package_workflow.request_package(s, self.package_policy, me.username, form["project"],
                                                       spec, form["reason"]).id
            except EnclaveError as exc:  # refused and recorded by the workflow; nothing was asked
                s.rollback()
                problems = self.problems(s, me, form) or [("name", exc.text)]
                self.show(s, me, status=_status(exc), form=form, problems=problems)
                return
        self.redirect(f"{GOVERNANCE_PREFIX}packages?asked={rid}#request-{rid}")

    def problems(self, session: Any, me: User, form: dict[str, str]) -> list[tuple[str, str]]:
        """Each reason the request was refused, by the field it concerns (`packages.rules.request_problems`)."""
        out: list[tuple[str, str]] = []
        name = ""
        try:
            name, _ = package_workflow.parse_spec(form["name"])
        except NotAllowed as exc:
            out.append(("name", exc.text))
        if form["version"]:
            try:
                package_workflow.check_version(form["version"])
            except NotAllowed as exc:
                out.append(("version", exc.text))
        try:
            project = get_project(session, form["project"])
        except NotFound as exc:
            return [("project", exc.text), *out]
        found = package_rules.request_problems(self.package_policy, me, project, name or form["name"],
                                               form["reason"], package_workflow.open_requests(session))
        return out + [p for p in found if name or p[0] != "name"]


class PackageQueue(PackagesHandler):
    """The package stewards' queue: what waits for a decision, and what was decided (newest first)."""

    @web.authenticated
    def get(self) -> None:
        with session_scope() as s:
            me = self.me(s)
            self.allowed(lambda: package_rules.check_can_see_queue(self.package_policy, me.username))
            self.show_queue(s, me)


class PackageDecide(PackagesHandler):
    """Approve (the same as `enclave packages approve`: allow-list, fetch on the host, checks, wheelhouse) or
    refuse. Fetching runs pip for a while, so it runs beside the service's loop, not on it."""

    @web.authenticated
    async def post(self, rid: str, decision: str) -> None:
        username, settings = self.username, self.ctx.settings
        form = {"version": self.get_body_argument("version", "").strip(),
                "reason": self.get_body_argument("reason", "").strip()}
        approving = decision == "approve"

        def decide() -> None:
            policy = self.package_policy
            with session_scope() as s:
                if approving:
                    package_workflow.approve(s, settings, policy, username, int(rid), form["reason"],
                                             form["version"], settings.packages_fetch_args)
                else:
                    package_workflow.refuse(s, policy, username, int(rid), form["reason"])

        try:
            await ioloop.IOLoop.current().run_in_executor(None, decide)
        except EnclaveError as exc:
            with session_scope() as s:
                me = self.me(s)
                req = s.get(PackageRequest, int(rid))
                if req is None:  # no such request: the error page, in the reader's language
                    raise web.HTTPError(_status(exc), self.say_package(exc.text)) from exc
                policy = self.package_policy
                allowed = package_rules.can_approve if approving else package_rules.can_decide
                field = "decision" if not allowed(policy, username, req) else ("version" if approving else "reason")
                if not package_rules.can_see_queue(self.package_policy, username):  # not a steward: no queue
                    raise web.HTTPError(_status(exc), self.say_package(exc.text)) from exc
                self.show_queue(s, me, _status(exc), int(rid), form, [(field, exc.text)])
            return
        self.redirect(f"{GOVERNANCE_PREFIX}packages/queue#request-{rid}")


class StaticPage(Handler):
    """A page with no database work, the benchmark's baseline (same service, same login)."""

    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok")


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


def make_app(ctx: Context) -> web.Application:
    from governance.code_page import CodeRecordPage  # its own module (it builds on Handler, defined here)

    p, d = GOVERNANCE_PREFIX, {"ctx": ctx}
    label = r"([a-z0-9][a-z0-9._-]*@[A-Za-z0-9._-]+)"
    return web.Application([
        (p + "health", Health),
        (p + "oauth_callback", HubOAuthCallbackHandler),
        (p + "static-baseline", StaticPage, d),
        (p + "catalogue", CataloguePage, d),
        (p + f"catalogue/{label}", DatasetPage, d),
        (p + f"catalogue/{label}/dummy/([A-Za-z0-9._-]+)", DummyDownload, d),
        (p + "applications", ApplicationsPage, d),
        (p + "applications/new", NewApplication, d),
        (p + r"applications/(\d+)", ApplicationPage, d),
        (p + r"applications/(\d+)/decide", DecideAction, d),
        (p + r"applications/(\d+)/withdraw", WithdrawAction, d),
        (p + r"applications/(\d+)/document/([0-9a-f]{64})", DocumentDownload, d),
        (p + "accreditation", AccreditationPage, d),
        (p + "audit", AuditPage, d),
        (p + "audit/code", CodeRecordPage, d),
        (p + r"audit/export\.(csv|json)", AuditExport, d),
        (p + "audit/exports", ExportsPage, d),
        (p + "dashboard", DashboardPage, d),
        (p + "ops", OperationsPage, d),
        *import_routes(p, ctx.settings),  # the import airlock's pages (imports/)
        (p + "packages", PackagesPage, d),
        (p + "packages/queue", PackageQueue, d),
        (p + r"packages/(\d+)/(approve|refuse)", PackageDecide, d),
        (p.rstrip("/") + r"/?", HomePage, d),
    ], cookie_secret=bytes.fromhex(ctx.settings.secret("governance-cookie")), xsrf_cookies=True,
        xsrf_cookie_kwargs={"path": GOVERNANCE_PREFIX})  # never the hub's own _xsrf cookie (path /hub/)


def hub_env(settings: Settings) -> dict[str, str]:
    return hub_service_env(settings, GOVERNANCE_SERVICE, GOVERNANCE_PREFIX, settings.governance_port,
                           "governance-token")


def periodic(ctx: Context) -> None:
    """Escalate overdue steps, then tell what happened (audit trail forward) and warn of lapsing accreditation."""
    try:
        with session_scope() as s:
            workflow.escalate_overdue(s, ctx.policies)
        with session_scope() as s:
            notify.process(s, ctx.settings, ctx.policies)
    except Exception:  # noqa: BLE001 - the next round tries again; pages keep working meanwhile
        log.exception("governance periodic task failed")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    for key, value in hub_env(settings).items():
        os.environ.setdefault(key, value)
    ctx = Context(settings)
    app = make_app(ctx)
    app.listen(settings.governance_port, address=settings.internal_address, xheaders=False,
               max_body_size=max(documents.MAX_BYTES + 1024**2, import_body_bytes(settings)))
    every = float(os.environ.get("ENCLAVE_GOVERNANCE_TICK_SECONDS", "15"))
    ioloop.PeriodicCallback(lambda: ioloop.IOLoop.current().run_in_executor(None, periodic, ctx),
                            every * 1000).start()
    log.info("governance listening on %s:%d%s", settings.internal_address, settings.governance_port,
             GOVERNANCE_PREFIX)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
