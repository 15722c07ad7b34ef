"""Projects, members and dataset approvals: the one place that changes them and writes the audit trail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from enclave import audit
from enclave.audit import AuditAction
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound, Text
from enclave.models import (
    PROJECT_TRANSITIONS,
    Approval,
    Dataset,
    MemberRole,
    Membership,
    Project,
    ProjectState,
    Role,
    User,
)

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def today() -> date:
    return datetime.now(UTC).date()


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound("no user account '{username}' (users get an account at first login or "
                       "with `enclave user add`)", username=username)
    return user


def get_project(session: Session, slug: str) -> Project:
    project = session.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
    if project is None:
        raise NotFound("no project '{slug}'", slug=slug)
    return project


def get_dataset(session: Session, name: str, version: str) -> Dataset:
    ds = session.execute(
        select(Dataset).where(Dataset.name == name, Dataset.version == version)
    ).scalar_one_or_none()
    if ds is None:
        raise NotFound("no dataset '{name}' version '{version}'", name=name, version=version)
    return ds


def upsert_user(session: Session, actor: str, username: str, *, display_name: str = "", email: str = "",
                roles: list[str] | None = None, login: bool = False) -> User:
    """Create or update an account; role changes are audited as access changes."""
    if not USERNAME.match(username):
        raise EnclaveError("username '{username}' is not valid: use lower-case letters, digits, "
                           "'.', '_' or '-', starting with a letter or digit", username=username)
    unknown = [r for r in roles or [] if r not in {x.value for x in Role}]
    if unknown:
        raise EnclaveError("unknown role(s) {unknown}; roles are {roles}", unknown=", ".join(unknown),
                           roles=", ".join(r.value for r in Role))
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    created = user is None
    if user is None:
        user = User(username=username, roles=[])
        session.add(user)
    old_roles = sorted(user.roles or [])
    if display_name:
        user.display_name = display_name
    if email:
        user.email = email
    if roles is not None:
        user.roles = sorted(set(roles))
    if login:
        user.last_login = datetime.now(UTC)
    session.flush()
    if created:
        audit.record(session, actor, AuditAction.USER_CREATE, target=username, roles=user.roles)
    elif roles is not None and old_roles != user.roles:
        audit.record(session, actor, AuditAction.USER_ROLES, target=username, before=old_roles, after=user.roles)
    return user


def create_project(session: Session, actor: str, *, slug: str, title: str, approval_ref: str, purpose: str,
                   pi: str, start: date | None, expiry: date | None, cpu_limit: float | None = None,
                   mem_limit: str | None = None, pids_limit: int | None = None) -> Project:
    if not SLUG.match(slug):
        raise EnclaveError("project name '{slug}' is not valid: 3-40 lower-case letters, digits or "
                           "'-', starting with a letter", slug=slug)
    if session.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none():
        raise EnclaveError("project '{slug}' already exists", slug=slug)
    if not approval_ref.strip():
        raise EnclaveError("an approval reference (ethics / data-access committee decision) is required")
    if expiry and start and expiry <= start:
        raise EnclaveError("expiry {expiry} must be after start {start}", expiry=expiry, start=start)
    if expiry and expiry <= today():
        raise EnclaveError("expiry {expiry} is not in the future", expiry=expiry)
    pi_user = get_user(session, pi)
    project = Project(slug=slug, title=title, approval_ref=approval_ref, purpose=purpose, pi=pi,
                      state=ProjectState.REQUESTED, start_date=start, expiry_date=expiry,
                      cpu_limit=cpu_limit, mem_limit=mem_limit, pids_limit=pids_limit)
    session.add(project)
    session.flush()
    session.add(Membership(project=project, user=pi_user, role=MemberRole.PI))
    session.flush()
    _memberships_changed(session, project, pi_user)
    audit.record(session, actor, AuditAction.PROJECT_CREATE, project=slug, target=slug, title=title,
                 approval_ref=approval_ref, purpose=purpose, pi=pi, start=start, expiry=expiry,
                 limits={"cpu": cpu_limit, "mem": mem_limit, "pids": pids_limit})
    return project


UPDATABLE = ("title", "purpose", "expiry_date", "cpu_limit", "mem_limit", "pids_limit")


def update_project(session: Session, actor: str, slug: str, **changes: Any) -> dict[str, tuple[Any, Any]]:
    """Change what may change after approval (not the approval reference or the PI); returns what changed."""
    project = get_project(session, slug)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise EnclaveError("cannot update {names} of a project", names=', '.join(sorted(unknown)))
    expiry = changes.get("expiry_date")
    if expiry is not None and expiry <= today():
        raise EnclaveError("expiry {expiry} is not in the future", expiry=expiry)
    if expiry is not None and project.start_date and expiry <= project.start_date:
        raise EnclaveError("expiry {expiry} must be after start {start_date}",
                           expiry=expiry, start_date=project.start_date)
    done = {k: (getattr(project, k), v) for k, v in changes.items() if v is not None and getattr(project, k) != v}
    for k, (_before, after) in done.items():
        setattr(project, k, after)
    if done:
        session.flush()
        audit.record(session, actor, AuditAction.PROJECT_UPDATE, project=slug, target=slug,
                     changes={k: {"before": b, "after": a} for k, (b, a) in done.items()})
    return done


def transition(session: Session, actor: str, slug: str, to: ProjectState, reason: str) -> Project:
    project = get_project(session, slug)
    if to not in PROJECT_TRANSITIONS[project.state]:
        allowed = ", ".join(sorted(s.value for s in PROJECT_TRANSITIONS[project.state])) or "none"
        raise InvalidTransition("project '{slug}' cannot go from {state} to {to} (allowed: {allowed})",
                                slug=slug, state=project.state.value, to=to.value, allowed=allowed)
    if not reason.strip():
        raise EnclaveError("a reason is required for every project state change")
    before = project.state
    project.state = to
    project.state_reason = reason
    session.flush()
    audit.record(session, actor, AuditAction.PROJECT_TRANSITION, project=slug, target=slug, before=before.value,
                 after=to.value, reason=reason)
    return project


def add_member(session: Session, actor: str, slug: str, username: str,
               role: MemberRole = MemberRole.RESEARCHER) -> Membership:
    project = get_project(session, slug)
    user = get_user(session, username)
    if project.state in (ProjectState.EXPIRED, ProjectState.CLOSED):
        raise NotAllowed("project '{slug}' is {state}: members can no longer be added",
                         slug=slug, state=project.state.value)
    existing = next((m for m in project.member_history if m.user_id == user.id), None)
    if existing and existing.removed_at is not None:  # a former member comes back: the same row, current again
        existing.removed_at, existing.role, existing.added_at = None, role, datetime.now(UTC)
        session.flush()
        _memberships_changed(session, project, user)
        audit.record(session, actor, AuditAction.MEMBER_ADD, project=slug, target=username, role=role.value,
                     readded=True)
        return existing
    if existing:
        if existing.role == role:
            return existing
        before = existing.role
        existing.role = role
        session.flush()
        audit.record(session, actor, AuditAction.MEMBER_ROLE, project=slug, target=username, before=before.value,
                     after=role.value)
        return existing
    m = Membership(project=project, user=user, role=role)
    session.add(m)
    session.flush()
    _memberships_changed(session, project, user)
    audit.record(session, actor, AuditAction.MEMBER_ADD, project=slug, target=username, role=role.value)
    return m


def remove_member(session: Session, actor: str, slug: str, username: str) -> None:
    """The membership ends now; its row stays (`removed_at`), so she is never an independent reviewer of it."""
    project = get_project(session, slug)
    user = get_user(session, username)
    m = next((m for m in project.members if m.user_id == user.id), None)
    if m is None:
        raise NotFound("'{username}' is not a member of project '{slug}'", username=username, slug=slug)
    m.removed_at = datetime.now(UTC)
    session.flush()
    _memberships_changed(session, project, user)
    audit.record(session, actor, AuditAction.MEMBER_REMOVE, project=slug, target=username)


def _memberships_changed(session: Session, project: Project, user: User) -> None:
    """The current-members collections are read-only views of the rows: read them again after a change."""
    session.expire(project, ["members"])
    session.expire(user, ["memberships"])


def approve_dataset(session: Session, actor: str, slug: str, name: str, version: str,
                    allowed_tiers: set[int]) -> Approval:
    project = get_project(session, slug)
    ds = get_dataset(session, name, version)
    if ds.tier not in allowed_tiers:
        raise NotAllowed("dataset {label} is tier {tier}, which policy does not allow in workspaces",
                         label=ds.label, tier=ds.tier)
    for a in project.approvals:
        if a.active and a.dataset.name == name:
            if a.dataset.version == version:
                return a
            raise EnclaveError("project '{slug}' already has {label} approved; revoke it before "
                               "approving another version", slug=slug, label=a.dataset.label)
    a = Approval(project=project, dataset=ds, approved_by=actor)
    session.add(a)
    session.flush()
    audit.record(session, actor, AuditAction.DATASET_APPROVE, project=slug, target=ds.label, tier=ds.tier)
    return a


def revoke_dataset(session: Session, actor: str, slug: str, name: str, reason: str) -> Approval:
    project = get_project(session, slug)
    a = next((a for a in project.approvals if a.active and a.dataset.name == name), None)
    if a is None:
        raise NotFound("project '{slug}' has no active approval for dataset '{name}'", slug=slug, name=name)
    a.revoked_at = datetime.now(UTC)
    a.revoked_by = actor
    session.flush()
    audit.record(session, actor, AuditAction.DATASET_REVOKE, project=slug, target=a.dataset.label, reason=reason)
    return a


@dataclass(frozen=True)
class Startability:
    project: str
    title: str
    can_start: bool
    reason: str


def is_member(project: Project, user: User) -> bool:
    """Membership as the database has it now (removing a member takes effect on the next request)."""
    return any(m.user_id == user.id for m in project.members)


def was_ever_member(project: Project, user: User) -> bool:
    """A member now or before, or the project's PI whatever the member list says: never independent of it."""
    return user.username == project.pi or any(m.user_id == user.id for m in project.member_history)


def closed_reason(project: Project, on: date | None = None, *, why: bool = True) -> str:
    """Why nothing may happen in `project` now (not active, not started, expired), or "" if it is open.

    One answer for starting workspaces, export requests, reviews and downloads: a suspended, expired
    or closed project stops all of them at once. `why=False` leaves out the reason given for the
    state ("under investigation ..."), which is for the project's members, not for reviewers.
    """
    on = on or today()
    if project.state != ProjectState.ACTIVE:
        if why and project.state_reason and project.state != ProjectState.REQUESTED:
            return Text("project '{slug}' is {state}, not active ({why})", slug=project.slug,
                        state=project.state.value, why=project.state_reason)
        return Text("project '{slug}' is {state}, not active", slug=project.slug, state=project.state.value)
    if project.start_date and on < project.start_date:
        return Text("project '{slug}' starts on {start}", slug=project.slug, start=project.start_date)
    if project.expiry_date and on >= project.expiry_date:
        return Text("project '{slug}' expired on {expiry}", slug=project.slug, expiry=project.expiry_date)
    return ""


def startability(project: Project, user: User, on: date | None = None) -> Startability:
    """Whether `user` may start a workspace in `project` now, and if not, why (in words for the user)."""
    reason = ""
    if Role.RESEARCHER.value not in (user.roles or []):
        reason = Text("your account does not have the researcher role")
    elif not is_member(project, user):
        reason = Text("you are not a member of project '{slug}'", slug=project.slug)
    else:
        reason = closed_reason(project, on)
    return Startability(project.slug, project.title, reason == "", reason)


def projects_for(session: Session, username: str) -> list[Startability]:
    """Every project the user belongs to, with whether they may start a workspace in it, accreditation included.

    The answer is `enclave.access`'s (graded access builds on `startability`), so the CLI, the spawn page and
    the spawner never disagree.
    """
    from enclave.access import projects_for as graded

    return graded(session, username)


def check_can_start(session: Session, username: str, slug: str) -> Project:
    """NotAllowed with the reason unless `username` may start a workspace in `slug` now (see `projects_for`)."""
    from enclave.access import check_can_start as graded

    return graded(session, username, slug)


def active_datasets(project: Project) -> list[Dataset]:
    return sorted((a.dataset for a in project.approvals if a.active), key=lambda d: d.name)
