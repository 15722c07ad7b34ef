"""Project applications: the one place that changes them, runs their approval chain and writes the audit trail.

A draft is the applicant's to edit; submitting freezes it as the next immutable version and starts a
fresh approval chain for that version (from governance.yaml). Every party decides approve / ask for
changes / reject with a comment; when every step has approved, the project is created (or amended)
through the same domain functions the CLI uses (`enclave.projects`), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, selectinload

from enclave import audit
from enclave.access import accreditation_of, standing, tier_reason
from enclave.audit import AuditAction
from enclave.errors import EnclaveError, NotFound
from enclave.models import (
    APPLICATION_TRANSITIONS,
    Application,
    ApplicationState,
    ApplicationVersion,
    ApprovalStep,
    Dataset,
    MemberRole,
    Party,
    Project,
    ProjectState,
    Role,
    StepDecision,
    StepState,
    User,
)
from enclave.projects import (
    SLUG,
    active_datasets,
    add_member,
    approve_dataset,
    create_project,
    get_project,
    get_user,
    remove_member,
    revoke_dataset,
    today,
    transition,
    update_project,
)
from governance import rules
from policies import Policies

FIELDS = ("slug", "title", "purpose", "datasets", "members", "outputs", "duration_days", "ethics_ref")
LIST_FIELDS = ("datasets", "members")


def now() -> datetime:
    return datetime.now(UTC)


def aware(ts: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns: they were written in UTC."""
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


class ApplicationInvalid(EnclaveError):
    """An application that cannot be submitted as it is; each problem names its field, in both languages."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {en}" for f, en, _ in problems))
        self.problems = problems


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """The draft as stored: known fields only, text stripped, lists of distinct names in order."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        value = raw.get(key, [] if key in LIST_FIELDS else "")
        if key in LIST_FIELDS:
            items = value.replace(",", " ").split() if isinstance(value, str) else list(value or [])
            out[key] = list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
        else:
            out[key] = str(value).strip()
    doc = raw.get("ethics_doc")
    if isinstance(doc, dict) and {"name", "sha256", "bytes"} <= set(doc):
        out["ethics_doc"] = {k: doc[k] for k in ("name", "sha256", "bytes")}
    return out


def _datasets(session: Session, labels: list[str]) -> tuple[list[Dataset], list[str]]:
    found, missing = [], []
    for label in labels:
        name, _, version = label.partition("@")
        ds = session.execute(select(Dataset).where(Dataset.name == name, Dataset.version == version)
                             ).scalar_one_or_none()
        (found.append(ds) if ds else missing.append(label))
    return found, missing


def validate(session: Session, app: Application, content: dict[str, Any], policies: Policies) -> list[Dataset]:
    """Everything that must hold before a version is submitted; all problems at once, each naming its field."""
    gov, problems = policies.governance, []

    def bad(field: str, en: str, zh: str) -> None:
        problems.append((field, en, zh))

    slug = content["slug"]
    if app.amends:
        if slug != app.amends:
            bad("slug", f"an amendment keeps the project name '{app.amends}'", f"修订申请须保留项目名称“{app.amends}”")
    elif not SLUG.match(slug):
        bad("slug", "3-40 lower-case letters, digits or '-', starting with a letter",
            "须为 3-40 个小写字母、数字或“-”，以字母开头")
    elif session.execute(select(Project).where(Project.slug == slug)).first():
        bad("slug", f"a project '{slug}' already exists", f"项目“{slug}”已存在")
    required = (("title", "标题"), ("purpose", "研究目的"), ("outputs", "预期产出"), ("ethics_ref", "伦理批件编号"))
    for field, zh in required:
        if not content[field]:
            bad(field, "is required", f"{zh}为必填项")
    if len(content["title"]) > 200:
        bad("title", "at most 200 characters", "不超过 200 个字符")
    try:
        days = int(content["duration_days"])
        if not 1 <= days <= gov.max_duration_days:
            raise ValueError
    except ValueError:
        bad("duration_days", f"a whole number of days from 1 to {gov.max_duration_days}",
            f"须为 1 到 {gov.max_duration_days} 之间的整数天数")
    datasets, missing = _datasets(session, content["datasets"])
    if not content["datasets"]:
        bad("datasets", "choose at least one dataset from the catalogue", "请从资源目录中至少选择一个数据集")
    for label in missing:
        bad("datasets", f"{label} is not in the catalogue", f"资源目录中没有 {label}")
    for ds in datasets:
        tier = policies.datasets.tiers.get(ds.tier)
        if tier is None or not tier.allowed_in_workspaces:
            bad("datasets", f"{ds.label} is tier {ds.tier}, which never enters a workspace",
                f"{ds.label} 为 {ds.tier} 级，不允许进入工作区")
    names = [n for n in content["datasets"] if "@" in n]
    if len({n.partition("@")[0] for n in names}) != len(names):
        bad("datasets", "one version of each dataset", "每个数据集只能选择一个版本")
    top = max((d.tier for d in datasets), default=-1)
    for name in dict.fromkeys([app.applicant, *content["members"]]):
        user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
        if user is None:
            bad("members", f"no account '{name}'", f"没有用户“{name}”")
            continue
        if not rules.has_role(user, Role.RESEARCHER):
            bad("members", f"{name} does not have the researcher role", f"{name} 不是研究人员")
        reason = tier_reason(standing(accreditation_of(session, name), gov), top)
        if reason:
            bad("members", f"{name}: {reason.replace('your ', 'the ').replace('you have', 'has')}",
                f"{name} 的资质不足以使用 {top} 级数据（资质已过期、等级不足或未登记）")
    if problems:
        raise ApplicationInvalid(problems)
    return datasets


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an amendment changed: per field before/after, and for lists what was added and removed."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if key in LIST_FIELDS:
            out[key] = {"added": [x for x in b or [] if x not in (a or [])],
                        "removed": [x for x in a or [] if x not in (b or [])]}
        else:
            out[key] = {"before": a, "after": b}
    docs = [(c.get("ethics_doc") or {}) for c in (before, after)]
    if docs[0].get("sha256") != docs[1].get("sha256"):
        out["ethics_doc"] = {"before": docs[0].get("name", ""), "after": docs[1].get("name", "")}
    return out


# --- reading ---------------------------------------------------------------------------------------

_EAGER = (selectinload(Application.versions), selectinload(Application.steps))


def get_application(session: Session, app_id: int) -> Application:
    app = session.execute(select(Application).options(*_EAGER).where(Application.id == app_id)).scalar_one_or_none()
    if app is None:
        raise NotFound("no application {app_id}", app_id=app_id)
    return app


def visible_application(session: Session, username: str, app_id: int, policies: Policies) -> Application:
    """The application, or NotFound naming only its number when the caller may not see it."""
    user = get_user(session, username)
    try:
        app = get_application(session, app_id)
    except NotFound:
        raise NotFound("no application {app_id}", app_id=app_id) from None
    rules.check_can_see_application(app, user, policies.governance)
    return app


def own_applications(session: Session, username: str) -> list[Application]:
    """What the user applied for, and submitted applications naming them as a member."""
    named = set(session.execute(select(ApplicationVersion.application_id).where(
        cast(ApplicationVersion.content, String).contains(f'"{username}"'))).scalars())  # narrowed, decided below
    mine = set(session.execute(select(Application.id).where(Application.applicant == username)).scalars())
    if not named | mine:
        return []
    # versions only: deciding who is named needs them, the lists show no steps (loaded if ever asked for)
    apps = session.execute(select(Application).options(selectinload(Application.versions)).where(
        Application.id.in_(sorted(named | mine))).order_by(Application.id.desc())).scalars()
    return [a for a in apps if a.applicant == username
            or (a.state != ApplicationState.DRAFT and username in rules.members_of(a))]


def all_applications(session: Session) -> list[Application]:
    return list(session.execute(select(Application).options(*_EAGER).where(
        Application.state != ApplicationState.DRAFT).order_by(Application.id.desc())).scalars())


def amended_project(session: Session, app: Application) -> Project | None:
    return get_project(session, app.amends) if app.amends else None


def queue_for(session: Session, username: str, policies: Policies,
              user: User | None = None) -> list[tuple[Application, ApprovalStep]]:
    """Steps waiting for this person's decision now (`user`: their row, when the caller has read it already)."""
    user = user if user is not None and user.username == username else get_user(session, username)
    if not rules.is_approver(user, policies.governance):
        return []
    out = []
    stmt = select(Application).options(*_EAGER).where(Application.state == ApplicationState.SUBMITTED)
    for app in session.execute(stmt.order_by(Application.id)).scalars():
        amended = amended_project(session, app)
        for step in app.steps:
            if rules.can_decide(app, step, user, policies.governance, amended):
                out.append((app, step))
    return out


def current_steps(app: Application) -> list[ApprovalStep]:
    latest = app.versions[-1].number if app.versions else 0
    return [s for s in app.steps if s.version == latest]


def is_overdue(step: ApprovalStep, at: datetime | None = None) -> bool:
    due = aware(step.due_at)
    return step.state == StepState.PENDING and due is not None and (at or now()) > due


# --- changing --------------------------------------------------------------------------------------


def _move(app: Application, to: ApplicationState) -> None:
    if to not in APPLICATION_TRANSITIONS[app.state]:
        raise EnclaveError("application {id} cannot go from {state} to {to}",
                           id=app.id, state=app.state.value, to=to.value)
    app.state = to
    app.updated_at = now()


def amendment_start(session: Session, actor: str, slug: str) -> dict[str, Any]:
    """An amendment starts from the project as it is now (and the outputs of the application that made it)."""
    project = get_project(session, slug)
    rules.check_can_amend(get_user(session, actor), project)
    start = {"slug": project.slug, "title": project.title, "purpose": project.purpose,
             "ethics_ref": project.approval_ref, "datasets": [d.label for d in active_datasets(project)],
             "members": [m.user.username for m in project.members if m.user.username != actor],
             "duration_days": str((project.expiry_date - today()).days) if project.expiry_date else ""}
    approved = session.execute(select(Application).options(*_EAGER).where(
        Application.project == slug, Application.state == ApplicationState.APPROVED
    ).order_by(Application.id.desc())).scalars().first()
    if approved is not None and approved.versions:
        start = {**approved.versions[-1].content, **start}
    return normalise(start)


def new_application(session: Session, actor: str, raw: dict[str, Any], amends: str = "") -> Application:
    user = get_user(session, actor)
    if amends:
        raw = {**amendment_start(session, actor, amends), **{k: v for k, v in raw.items() if v}}
    else:
        rules.check_can_apply(user)
    app = Application(applicant=actor, state=ApplicationState.DRAFT, amends=amends, draft=normalise(raw))
    session.add(app)
    session.flush()
    audit.record(session, actor, AuditAction.APPLICATION_SAVE, project=amends or None,
                 target=f"application:{app.id}", created=True, amends=amends)
    return app


def save_draft(session: Session, actor: str, app_id: int, raw: dict[str, Any]) -> Application:
    app = get_application(session, app_id)
    rules.check_can_edit(app, get_user(session, actor))
    app.draft = normalise(raw)
    app.updated_at = now()
    session.flush()
    audit.record(session, actor, AuditAction.APPLICATION_SAVE, project=app.amends or None,
                 target=f"application:{app.id}")
    return app


def _days(policies: Policies, step: ApprovalStep) -> float:
    return next((c.days for c in policies.governance.chain if c.party == step.party.value and c.stage == step.stage),
                5.0)


def _chain(app: Application, version: int, datasets: list[Dataset], policies: Policies) -> list[ApprovalStep]:
    steps = []
    for c in policies.governance.chain:
        party = Party(c.party)
        if party == Party.ETHICS:
            if any(d.tier >= c.min_tier for d in datasets):
                steps.append(ApprovalStep(application=app, version=version, party=party, stage=c.stage))
            continue
        steps += [ApprovalStep(application=app, version=version, party=party, subject=d.name, stage=c.stage)
                  for d in datasets if d.tier >= c.min_tier]
    return steps


def _open_next_stage(app: Application, policies: Policies) -> list[ApprovalStep]:
    """Open the lowest stage with undecided steps; returns the steps opened (none when all approved)."""
    waiting = [s for s in current_steps(app) if s.state in (StepState.WAITING, StepState.PENDING)]
    if not waiting or any(s.state == StepState.PENDING for s in waiting):
        return []
    stage = min(s.stage for s in waiting)
    opened = [s for s in waiting if s.stage == stage]
    at = now()
    for s in opened:
        s.state, s.opened_at = StepState.PENDING, at
        s.due_at = at + timedelta(days=_days(policies, s))
    return opened


def _waiting_for(steps: list[ApprovalStep], policies: Policies) -> list[str]:
    return sorted({p for s in steps for p in policies.governance.people(s.party, s.subject)})


def submit(session: Session, actor: str, app_id: int, policies: Policies) -> Application:
    """Freeze the draft as the next version and start its approval chain."""
    app = get_application(session, app_id)
    rules.check_can_edit(app, get_user(session, actor))
    content = normalise(app.draft)
    datasets = validate(session, app, content, policies)
    previous = app.versions[-1].content if app.versions else None
    if previous is None and app.amends:  # an amendment's first version differs from the project as it is now
        previous = amendment_start(session, actor, app.amends)
        content = {**content, "amends_from": previous}
    for s in app.steps:
        if s.state in (StepState.WAITING, StepState.PENDING):
            s.state = StepState.SUPERSEDED
    number = (app.versions[-1].number if app.versions else 0) + 1
    session.add(ApplicationVersion(application=app, number=number, content=content))
    steps = _chain(app, number, datasets, policies)
    session.add_all(steps)
    _move(app, ApplicationState.SUBMITTED)
    session.flush()
    session.refresh(app, ["versions", "steps"])
    opened = _open_next_stage(app, policies)
    session.flush()
    audit.record(session, actor, AuditAction.APPLICATION_SUBMIT, project=app.amends or content["slug"],
                 target=f"application:{app.id}", version=number, state=app.state.value,
                 datasets=content["datasets"], members=content["members"],
                 steps=[f"{s.party.value}:{s.subject}" if s.subject else s.party.value for s in steps],
                 waiting_for=_waiting_for(opened, policies),
                 diff=diff(previous, content) if previous is not None else None)
    return app


def withdraw(session: Session, actor: str, app_id: int) -> Application:
    app = get_application(session, app_id)
    rules.check_can_withdraw(app, get_user(session, actor))
    for s in app.steps:
        if s.state in (StepState.WAITING, StepState.PENDING):
            s.state = StepState.SUPERSEDED
    _move(app, ApplicationState.WITHDRAWN)
    session.flush()
    audit.record(session, actor, AuditAction.APPLICATION_WITHDRAW, project=app.amends or None,
                 target=f"application:{app.id}", state=app.state.value)
    return app


@dataclass(frozen=True)
class Outcome:
    application: int
    state: ApplicationState
    project: str = ""


def decide(session: Session, actor: str, app_id: int, step_id: int, decision: StepDecision, comment: str,
           policies: Policies) -> Outcome:
    """One party's decision; the last approval creates (or amends) the project in the same transaction."""
    app = get_application(session, app_id)
    step = next((s for s in app.steps if s.id == step_id), None)
    if step is None:
        raise NotFound("application {app_id} has no step {step_id}", app_id=app_id, step_id=step_id)
    user = get_user(session, actor)
    rules.check_can_decide(app, step, user, policies.governance, amended_project(session, app))
    if decision != StepDecision.APPROVE and not rules_has_text(comment):
        raise ApplicationInvalid([("comment", "asking for changes or rejecting needs a comment saying why",
                                   "要求修改或拒绝时必须填写理由")])
    step.state = {StepDecision.APPROVE: StepState.APPROVED, StepDecision.CHANGES: StepState.CHANGES,
                  StepDecision.REJECT: StepState.REJECTED}[decision]
    step.decided_by, step.decided_at, step.comment = actor, now(), comment.strip()
    opened: list[ApprovalStep] = []
    if decision == StepDecision.APPROVE:
        opened = _open_next_stage(app, policies)
    else:
        for s in current_steps(app):
            if s.state in (StepState.WAITING, StepState.PENDING):
                s.state = StepState.SUPERSEDED
        _move(app, ApplicationState.CHANGES if decision == StepDecision.CHANGES else ApplicationState.REJECTED)
    session.flush()
    content = app.versions[-1].content
    audit.record(session, actor, AuditAction.APPLICATION_DECIDE, project=app.amends or content["slug"],
                 target=f"application:{app.id}", version=app.versions[-1].number, step=step.id,
                 party=step.party.value, subject=step.subject, decision=decision.value, comment=step.comment,
                 state=app.state.value, applicant=app.applicant, waiting_for=_waiting_for(opened, policies))
    if decision == StepDecision.REJECT:
        audit.record(session, actor, AuditAction.APPLICATION_REJECTED, project=app.amends or content["slug"],
                     target=f"application:{app.id}", state=app.state.value, applicant=app.applicant)
    if decision == StepDecision.APPROVE and all(s.state == StepState.APPROVED for s in current_steps(app)):
        return _approved(session, actor, app, policies)
    return Outcome(app.id, app.state, app.project)


def rules_has_text(text: str) -> bool:
    return any(not c.isspace() and c.isprintable() for c in text)


def _approved(session: Session, actor: str, app: Application, policies: Policies) -> Outcome:
    """Every party agreed: make the project exactly as `enclave project create` and friends do."""
    content, number = app.versions[-1].content, app.versions[-1].number
    reason = f"application {app.id} version {number} approved by every party"
    allowed = {t for t, tier in policies.datasets.tiers.items() if tier.allowed_in_workspaces}
    expiry = today() + timedelta(days=int(content["duration_days"]))
    if app.amends:
        _apply_amendment(session, actor, app.amends, content, expiry, allowed, reason)
    else:
        create_project(session, actor, slug=content["slug"], title=content["title"], approval_ref=content["ethics_ref"],
                       purpose=content["purpose"], pi=app.applicant, start=today(), expiry=expiry)
        transition(session, actor, content["slug"], ProjectState.APPROVED, reason)
        for name in content["members"]:
            if name != app.applicant:
                add_member(session, actor, content["slug"], name, MemberRole.RESEARCHER)
        for label in content["datasets"]:
            name, _, version = label.partition("@")
            approve_dataset(session, actor, content["slug"], name, version, allowed)
        transition(session, actor, content["slug"], ProjectState.ACTIVE, reason)
    app.project = content["slug"]
    _move(app, ApplicationState.APPROVED)
    session.flush()
    audit.record(session, actor, AuditAction.APPLICATION_APPROVED, project=content["slug"],
                 target=f"application:{app.id}", version=number, state=app.state.value, applicant=app.applicant,
                 members=content["members"], datasets=content["datasets"], expiry=expiry,
                 amendment=bool(app.amends))
    return Outcome(app.id, app.state, app.project)


def _apply_amendment(session: Session, actor: str, slug: str, content: dict[str, Any], expiry: Any,
                     allowed: set[int], reason: str) -> None:
    """Members and datasets as the approved amendment lists them; the expiry only ever moves later."""
    project = get_project(session, slug)
    want_members = set(content["members"]) | {project.pi}
    have_members = {m.user.username for m in project.members}
    for name in sorted(want_members - have_members):
        add_member(session, actor, slug, name, MemberRole.RESEARCHER)
    for name in sorted(have_members - want_members):
        remove_member(session, actor, slug, name)
    want = {lbl.partition("@")[0]: lbl.partition("@")[2] for lbl in content["datasets"]}
    for ds in active_datasets(project):
        if want.get(ds.name) != ds.version:
            revoke_dataset(session, actor, slug, ds.name, reason)
    for name, version in sorted(want.items()):
        approve_dataset(session, actor, slug, name, version, allowed)
    changes: dict[str, Any] = {"title": content["title"], "purpose": content["purpose"]}
    if project.expiry_date is None or expiry > project.expiry_date:
        changes["expiry_date"] = expiry
    update_project(session, actor, slug, **changes)


def escalate_overdue(session: Session, policies: Policies) -> list[ApprovalStep]:
    """Steps past their time limit, escalated once each (recorded; the notifier tells the people concerned)."""
    out = []
    stmt = select(ApprovalStep).where(ApprovalStep.state == StepState.PENDING, ApprovalStep.escalated_at.is_(None))
    for step in session.execute(stmt).scalars():
        if is_overdue(step):
            step.escalated_at = now()
            app = step.application
            audit.record(session, "system", AuditAction.APPLICATION_ESCALATE, project=app.amends or None,
                         target=f"application:{app.id}", step=step.id, party=step.party.value,
                         subject=step.subject, due_at=step.due_at,
                         waiting_for=_waiting_for([step], policies))
            out.append(step)
    session.flush()
    return out
