"""The one place that changes jobs: submit, start, end, interrupt, cancel, release - each audited.

Every change of state is a compare-and-set (`UPDATE ... WHERE state IN (...)`), so the runner and a
steward cancelling at the same moment cannot both win, and a job is recorded whole or not at all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound
from enclave.models import Job, JobRelease, JobState
from enclave.projects import active_datasets, get_project, get_user
from enclave.settings import WORKSPACE_MOUNT, Settings
from jobs import results, rules
from jobs.files import read_folder, snapshot
from policies import Policies

ACTIVE = (JobState.QUEUED, JobState.RUNNING)
log = logging.getLogger(__name__)


@contextlib.contextmanager
def refusals_audited(session: Session, actor: str, step: str, project: str | None,
                     target: str) -> Iterator[None]:
    """A refused submit, cancel, rerun or release is recorded (`job.refused`) in a transaction of its own.

    The refused step's transaction is rolled back (nothing of it is kept); the refusal is then recorded
    and raised again, so a member trying to release her own job's outputs is on the record.
    """
    try:
        yield
    except NotAllowed as exc:
        session.rollback()
        try:
            with session_scope() as s:
                audit.record(s, actor, AuditAction.JOB_REFUSED, project=project, target=target, step=step,
                             reason=str(exc))
        except Exception:  # the refusal itself stands; the database may be the reason
            log.exception("could not audit a refused job %s", step)
        raise


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("no job {job_id}", job_id=job_id)
    return job


def active_count(session: Session, slug: str) -> int:
    return session.execute(select(func.count()).select_from(Job).where(
        Job.project == slug, Job.state.in_(ACTIVE))).scalar_one()


def _datasets(project: Any) -> dict[str, Any]:
    return {d.name: {"version": d.version, "tier": d.tier,
                     "files": {f["path"]: f["sha256"] for f in d.manifest.get("files", [])}}
            for d in active_datasets(project)}


def submit(session: Session, settings: Settings, policies: Policies, username: str, slug: str, command: str,
           *, code: str = ".", outputs: str = "results") -> Job:
    """Snapshot the code folder of the project's workspace (content-addressed) and queue the job."""
    if not command.strip():
        raise EnclaveError("--run is required: the command the job runs, e.g. \"python analysis/main.py\"")
    outputs = rules.check_outputs_dir(outputs)
    user, project = get_user(session, username), get_project(session, slug)
    with refusals_audited(session, username, "submit", slug, f"project:{slug}"):
        rules.check_can_submit(session, policies, user, project, active_count(session, slug))
    jp = policies.workspace.jobs
    root = settings.workspace_dir(slug)
    if code.strip() not in (".", "", WORKSPACE_MOUNT):
        root = root / rules.check_outputs_dir(code)
    folder = read_folder(root, max_bytes=jp.max_code_bytes, max_files=jp.max_code_files,
                         skip_top=frozenset({outputs.split("/")[0]}), what="code folder")
    code_sha, manifest = snapshot(settings.jobs_store, folder)
    job = Job(project=slug, submitter=username, command=command.strip(), outputs_dir=outputs, code_sha256=code_sha,
              code_manifest={"files": manifest, "folder": code, "skipped": folder.skipped},
              image=settings.image, datasets=_datasets(project), limits=_limits(policies))
    session.add(job)
    session.flush()
    audit.record(session, username, AuditAction.JOB_SUBMIT, project=slug, target=f"job:{job.id}",
                 command=job.command, code_sha256=code_sha, files=len(manifest), outputs=outputs,
                 datasets={k: v["version"] for k, v in job.datasets.items()})
    return job


def _limits(policies: Policies) -> dict[str, Any]:
    jp = policies.workspace.jobs
    return {**jp.limits.model_dump(), "wall_seconds": jp.wall_seconds, "outputs_size": jp.outputs_size,
            "scratch_size": jp.scratch_size, "network": "none"}


def _cas(session: Session, job: Job, from_states: tuple[JobState, ...], **values: Any) -> None:
    """Change the job only if it is still in one of `from_states` (another actor may have moved it)."""
    done = session.execute(update(Job).where(Job.id == job.id, Job.state.in_(from_states)).values(**values))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(job)
        raise InvalidTransition("job {id} is {state}, no longer {states}", id=job.id, state=job.state.value,
                                states=" or ".join(s.value for s in from_states))
    session.refresh(job)


def mark_running(session: Session, job: Job, container: str, image_digest: str) -> None:
    _cas(session, job, (JobState.QUEUED,), state=JobState.RUNNING, container=container, image_digest=image_digest,
         started_at=datetime.now(UTC))
    audit.record(session, "system", AuditAction.JOB_START, project=job.project, target=f"job:{job.id}",
                 container=container, image_digest=image_digest, limits=job.limits)


def mark_not_started(session: Session, job: Job, reason: str) -> None:
    _cas(session, job, (JobState.QUEUED, JobState.RUNNING), state=JobState.FAILED, reason=reason,
         ended_at=datetime.now(UTC))
    audit.record(session, "system", AuditAction.JOB_END, project=job.project, target=f"job:{job.id}",
                 state=JobState.FAILED.value, reason=reason)


def mark_ended(session: Session, job: Job, *, state: JobState, reason: str, exit_code: int | None,
               resources: dict[str, Any], outputs: dict[str, Any], release: JobRelease) -> None:
    """The end of a run and its checks, in one transaction: provenance, verdicts and release state together."""
    _cas(session, job, (JobState.RUNNING,), state=state, reason=reason, exit_code=exit_code, resources=resources,
         outputs=outputs, release=release, ended_at=datetime.now(UTC))
    audit.record(session, "system", AuditAction.JOB_END, project=job.project, target=f"job:{job.id}",
                 state=state.value, reason=reason, exit_code=exit_code, resources=resources,
                 outputs={k: v["sha256"] for k, v in outputs.items()})
    audit.record(session, "system", AuditAction.JOB_CHECKED, project=job.project, target=f"job:{job.id}",
                 release=release.value, verdicts={k: v["verdict"] for k, v in outputs.items()},
                 kinds={k: v["kinds"] for k, v in outputs.items() if v["kinds"]})


def mark_interrupted(session: Session, job: Job, reason: str) -> None:
    """The container was lost while nobody watched: nothing of the run is recorded; it can run again."""
    _cas(session, job, (JobState.RUNNING,), state=JobState.INTERRUPTED, reason=reason, ended_at=datetime.now(UTC))
    audit.record(session, "system", AuditAction.JOB_INTERRUPTED, project=job.project, target=f"job:{job.id}",
                 reason=reason)


def cancel(session: Session, actor: str, job_id: int, reason: str = "") -> Job:
    """A queued job never starts; a running one is stopped by the runner (it sees the state change)."""
    job = get_job(session, job_id)
    with refusals_audited(session, actor, "cancel", job.project, f"job:{job.id}"):
        rules.check_can_cancel(job, get_user(session, actor))
    _cas(session, job, ACTIVE, state=JobState.CANCELLED, reason=reason or f"cancelled by {actor}",
         ended_at=datetime.now(UTC))
    audit.record(session, actor, AuditAction.JOB_CANCEL, project=job.project, target=f"job:{job.id}",
                 reason=reason, container=job.container)
    return job


def rerun(session: Session, settings: Settings, policies: Policies, actor: str, job_id: int) -> Job:
    """An interrupted job queued again as a new job with the same snapshot (what runs is what was submitted)."""
    old = get_job(session, job_id)
    user = get_user(session, actor)
    project = get_project(session, old.project)
    with refusals_audited(session, actor, "rerun", old.project, f"job:{old.id}"):
        rules.check_can_rerun(old, user)
        rules.check_can_submit(session, policies, get_user(session, old.submitter), project,
                               active_count(session, old.project))
    job = Job(project=old.project, submitter=old.submitter, command=old.command, outputs_dir=old.outputs_dir,
              code_sha256=old.code_sha256, code_manifest=old.code_manifest, image=settings.image,
              datasets=_datasets(project), limits=_limits(policies), rerun_of=old.id)
    session.add(job)
    session.flush()
    audit.record(session, actor, AuditAction.JOB_SUBMIT, project=job.project, target=f"job:{job.id}",
                 command=job.command, code_sha256=job.code_sha256, rerun_of=old.id)
    return job


def release(session: Session, checker: str, job_id: int, *, release_it: bool, reason: str) -> Job:
    """An output checker's decision on held outputs: released into the workspace, or withheld for good."""
    if not reason.strip():
        raise EnclaveError("a reason is required: say what you checked")
    job = get_job(session, job_id)
    with refusals_audited(session, checker, "release", job.project, f"job:{job.id}"):
        rules.check_can_release(job, get_user(session, checker), get_project(session, job.project))
    after = JobRelease.RELEASED if release_it else JobRelease.WITHHELD
    done = session.execute(update(Job).where(Job.id == job.id, Job.release == JobRelease.HELD)
                           .values(release=after, released_by=checker))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition("job {id} was decided by someone else meanwhile", id=job.id)
    session.refresh(job)
    audit.record(session, checker, AuditAction.JOB_RELEASE, project=job.project, target=f"job:{job.id}",
                 decision=after.value, reason=reason, files=sorted(k for k, v in job.outputs.items()
                                                                   if v["verdict"] == "review"))
    return job


def deliver(settings: Settings, job_id: int) -> list[str] | None:
    """Write the job's folder in its workspace afresh (what passed, or was released) and audit it;
    None when it cannot be written now (the workspace not mounted): the runner delivers it later."""
    with session_scope() as s:
        job = s.get(Job, job_id)
        if job is None:
            return None
        try:
            files = results.deliver(settings, job)
        except EnclaveError as exc:
            log.warning("job %s not delivered: %s", job_id, exc)
            return None
        audit.record(s, "system", AuditAction.JOB_DELIVER, project=job.project, target=f"job:{job.id}",
                     files=files, release=job.release.value)
    return files


def decide(settings: Settings, checker: str, job_id: int, *, release_it: bool, reason: str) -> dict[str, Any]:
    """An output checker's decision recorded, then the workspace's folder rewritten: the one step the CLI
    and the checkers' pages share, so a release always reaches the workspace the same way."""
    with session_scope() as s:
        data = job_dict(release(s, checker, job_id, release_it=release_it, reason=reason))
    if release_it:
        deliver(settings, job_id)
    return data


def job_dict(job: Job) -> dict[str, Any]:
    """A job as stewards and researchers see it: state, verdicts and the kinds of finding, never values."""
    return {"id": job.id, "project": job.project, "submitter": job.submitter, "command": job.command,
            "state": job.state.value, "reason": job.reason, "exit_code": job.exit_code,
            "release": job.release.value, "released_by": job.released_by or None,
            "created_at": job.created_at, "started_at": job.started_at, "ended_at": job.ended_at,
            "resources": job.resources, "code_sha256": job.code_sha256,
            "outputs": {k: {"verdict": v["verdict"], "kinds": v["kinds"], "bytes": v["bytes"]}
                        for k, v in job.outputs.items()}}


def jobs_of(session: Session, project: str | None = None, state: JobState | None = None) -> list[Job]:
    q = select(Job).order_by(Job.id)
    if project:
        q = q.where(Job.project == project)
    if state:
        q = q.where(Job.state == state)
    return list(session.execute(q).scalars())


def job_folder(settings: Settings, job_id: int) -> Path:
    return settings.jobs_dir / "runs" / str(job_id)


