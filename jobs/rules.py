"""Who may do what with jobs: each `check_can_X` raises NotAllowed with the reason, `can_X` answers the UI.

Submitting runs code on the real rows, so it asks what starting a workspace asks (researcher role,
current member, project open, accreditation for the tier) and that the project's data allows blind
jobs. Releasing a held output into the workspace is an output checker's step: one reviewer suffices
(the data stay in the enclave; leaving it still takes the two-person export review), never a member
of the project.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from enclave.access import governance_policy, graded_startability
from enclave.errors import EnclaveError, NotAllowed, NotFound
from enclave.models import Job, JobRelease, JobState, Project, Role, User
from enclave.modes import check_can_run_jobs
from enclave.projects import closed_reason, is_member, was_ever_member
from enclave.settings import WORKSPACE_MOUNT
from enclave.workspaces import RunningWorkspace
from policies import Policies


class NotYourJob(NotAllowed, NotFound):
    """A job of another project, or none: refused (and audited) like any refusal, answered as "no job N",
    so a caller learns nothing of other projects' jobs."""


ENDED = frozenset({JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED})


def _can(check: Callable[[], None]) -> bool:
    try:
        check()
    except EnclaveError:
        return False
    return True


def why_not(check: Callable[[], None]) -> str | None:
    """The refusal a check gives, for a page to show beside the control it disables; None when allowed."""
    try:
        check()
    except EnclaveError as exc:
        return str(exc)
    return None


def check_outputs_dir(outputs: str) -> str:
    """A folder name relative to the workspace, without `..`; the job's only writable place."""
    p = PurePosixPath(outputs.strip().removeprefix(WORKSPACE_MOUNT + "/"))
    if not outputs.strip() or p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0] in ("jobs", "."):
        raise EnclaveError("--outputs '{outputs}' must be a folder inside the workspace, such as "
                           "results/ (not jobs/, no '..')", outputs=outputs)
    return str(p)


def check_can_submit(session: Session, policies: Policies, user: User, project: Project, queued: int) -> None:
    """What starting a workspace asks (role, membership, project open, accreditation for the data's tier:
    the job reads the real rows on the researcher's behalf), then the project's data and queue."""
    s = graded_startability(session, project, user, governance_policy())
    if not s.can_start:
        raise NotAllowed("cannot submit a job: {reason}", reason=s.reason)
    check_can_run_jobs(policies, project)
    limit = policies.workspace.jobs.max_queued_per_project
    if queued >= limit:
        raise NotAllowed("project '{slug}' already has {queued} jobs waiting or running (the "
                         "limit is {limit}); wait for some to finish", slug=project.slug, queued=queued, limit=limit)


def can_submit(session: Session, policies: Policies, user: User, project: Project, queued: int) -> bool:
    return _can(lambda: check_can_submit(session, policies, user, project, queued))


def check_can_start(project: Project) -> None:
    """Checked again when a queued job's turn comes: a project suspended meanwhile runs nothing."""
    reason = closed_reason(project)
    if reason:
        raise NotAllowed("the job was not started: {reason}", reason=reason)


def check_can_cancel(job: Job, actor: User) -> None:
    if job.state in ENDED:
        raise NotAllowed("job {id} has already ended ({state})", id=job.id, state=job.state.value)
    if actor.username != job.submitter and Role.ADMIN.value not in (actor.roles or []):
        raise NotAllowed("only the submitter or an administrator may cancel job {id}", id=job.id)


def can_cancel(job: Job, actor: User) -> bool:
    return _can(lambda: check_can_cancel(job, actor))


def check_is_output_checker(checker: User) -> None:
    """The queue of held job outputs is for output checkers (the reviewer role) only."""
    if Role.REVIEWER.value not in (checker.roles or []):
        raise NotAllowed("only output checkers (the reviewer role) may release a job's held outputs")


def is_output_checker(checker: User) -> bool:
    return _can(lambda: check_is_output_checker(checker))


def check_can_see_held(checker: User, project: Project) -> None:
    """A job's checked files (which may hold what the checks held back) are shown only to an output
    checker who is not and never was a member of the project: the person who decides on them."""
    check_is_output_checker(checker)
    if was_ever_member(project, checker):
        raise NotAllowed("you are or were a member of project '{slug}': you cannot check its outputs",
                         slug=project.slug)


def can_see_held(checker: User, project: Project) -> bool:
    return _can(lambda: check_can_see_held(checker, project))


def check_can_release(job: Job, checker: User, project: Project) -> None:
    """Held outputs (checks said review) may be released by a reviewer independent of the project;
    blocked ones never come back (they hold what must not be seen, such as identifiers). Nothing goes
    into the workspace of a suspended or expired project, as no export of it is reviewed then."""
    check_can_see_held(checker, project)
    if job.release != JobRelease.HELD:
        raise NotAllowed("job {id} has nothing held for review (its outputs are {release})",
                         id=job.id, release=job.release.value)
    reason = closed_reason(project, why=False)  # a checker is no member: the state, not the reason given for it
    if reason:
        raise NotAllowed("{reason}: job {id}'s held outputs cannot be released into its workspace now",
                         reason=reason, id=job.id)


def can_release(job: Job, checker: User, project: Project) -> bool:
    return _can(lambda: check_can_release(job, checker, project))


def check_can_rerun(job: Job, user: User) -> None:
    if job.state != JobState.INTERRUPTED:
        raise NotAllowed("job {id} is {state}; only an interrupted job is run again",
                         id=job.id, state=job.state.value)
    if user.username != job.submitter and Role.ADMIN.value not in (user.roles or []):
        raise NotAllowed("only the submitter or an administrator may run job {id} again", id=job.id)


# --- calls from a workspace (jobs.service) ---------------------------------------------------------


def check_from_own_workspace(workspace: RunningWorkspace | None, address: str) -> str:
    """A workspace's token counts only from its own running workspace; returns that workspace's project.

    The project comes from the container (its label, set by the spawner), never from the request, so a
    token, even a copied one, can only ever submit for its own project and only from its own container.
    """
    if workspace is None:
        raise NotAllowed("jobs are submitted from your running workspace; start it first")
    if not workspace.is_at(address):
        raise NotAllowed("jobs are accepted only from your own workspace")
    return workspace.project


def check_can_follow(user: User, project: Project) -> None:
    """The project's jobs (state, verdicts, kinds of finding, never values) are for its current members."""
    if not is_member(project, user):
        raise NotAllowed("you are not a member of project '{slug}'", slug=project.slug)


def can_follow(user: User, project: Project) -> bool:
    return _can(lambda: check_can_follow(user, project))


def check_can_see(job: Job | None, job_id: int, user: User, project: Project) -> Job:
    """One job, for a current member of its project asking from that project's workspace."""
    if job is None or job.project != project.slug:
        raise NotYourJob("no job {job_id}", job_id=job_id)
    check_can_follow(user, project)
    return job
