"""Which way of working a project's workspace gets: interactive (rows visible) or blind (dummy rows only).

Policy names per dataset tier the modes allowed (`datasets.yaml`, `modes`); a project may ask for a
stricter one (`Project.work_mode`). The workspace is interactive only when the project asks for it
and every approved dataset's tier allows it; otherwise it is blind, if every tier allows that. This is
the one place that decides, for the spawner, the job runner and the CLI alike.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from enclave import audit
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import Project, WorkMode
from enclave.projects import active_datasets, get_project
from enclave.settings import Settings
from policies import Policies


def allowed_modes(policies: Policies, project: Project) -> set[WorkMode]:
    """The modes every approved dataset's tier allows (all of them for a project with no data yet)."""
    allowed = set(WorkMode)
    for ds in active_datasets(project):
        tier = policies.datasets.tiers.get(ds.tier)
        allowed &= set(tier.modes) if tier else set()
    return allowed


def _check_allowed(policies: Policies, project: Project) -> set[WorkMode]:
    allowed = allowed_modes(policies, project)
    if not allowed:
        tiers = sorted({d.tier for d in active_datasets(project)})
        raise NotAllowed("project '{slug}' holds datasets of tiers {tiers} whose policies allow "
                         "no common way of working (interactive or blind); ask a data steward",
                         slug=project.slug, tiers=tiers)
    return allowed


def workspace_mode(policies: Policies, project: Project) -> WorkMode:
    """The mode the project's workspace starts in; NotAllowed when policy leaves it none."""
    allowed = _check_allowed(policies, project)
    if project.work_mode == WorkMode.INTERACTIVE and WorkMode.INTERACTIVE in allowed:
        return WorkMode.INTERACTIVE
    if WorkMode.BLIND in allowed:
        return WorkMode.BLIND
    raise NotAllowed("project '{slug}' is set to blind, but the policy of its datasets' "
                     "tiers allows only interactive work", slug=project.slug)


def check_can_run_jobs(policies: Policies, project: Project) -> None:
    """Jobs run on the real rows: allowed where every approved dataset's tier allows blind work."""
    if WorkMode.BLIND not in _check_allowed(policies, project):
        raise NotAllowed("project '{slug}' holds data whose tier does not allow blind jobs", slug=project.slug)
    if not active_datasets(project):
        raise NotAllowed("project '{slug}' has no approved dataset for a job to run on", slug=project.slug)


def can_run_jobs(policies: Policies, project: Project) -> bool:
    try:
        check_can_run_jobs(policies, project)
    except EnclaveError:
        return False
    return True


def check_can_set_mode(policies: Policies, project: Project, mode: WorkMode) -> None:
    """A project may be made stricter (blind) whenever its tiers allow blind work; interactive only where
    every tier allows it."""
    if mode not in _check_allowed(policies, project):
        raise NotAllowed("project '{slug}' cannot be {mode}: the policy of its datasets' tiers "
                         "allows only {names}",
                         slug=project.slug, mode=mode.value,
                         names=", ".join(sorted(m.value for m in allowed_modes(policies, project))))


def set_mode(session: Session, actor: str, policies: Policies, slug: str, mode: WorkMode) -> tuple[WorkMode, WorkMode]:
    """Change the project's own mode; returns the workspace mode (before, after). Audited."""
    project = get_project(session, slug)
    check_can_set_mode(policies, project, mode)
    before = workspace_mode(policies, project)
    old = project.work_mode
    project.work_mode = mode
    session.flush()
    after = workspace_mode(policies, project)
    audit.record(session, actor, audit.AuditAction.PROJECT_MODE, project=slug, target=slug, before=old.value,
                 after=mode.value, workspace_before=before.value, workspace_after=after.value)
    return before, after


def change_mode(settings: Settings, session: Session, actor: str, policies: Policies, slug: str,
                mode: WorkMode) -> dict[str, object]:
    """`set_mode`, committed, and its effect: a workspace that saw real rows is stopped when the project
    turns blind, so the next start mounts the dummy data. Returns what happened."""
    from enclave.workspaces import stop_project_workspaces

    before, after = set_mode(session, actor, policies, slug, mode)
    session.commit()
    stopped: list[str] = []
    if before != after:
        stopped = stop_project_workspaces(settings, slug, f"work mode {before.value} -> {after.value}", actor)
    return {"project": slug, "work_mode": mode.value, "workspace_mode": after.value, "stopped_workspaces": stopped}
