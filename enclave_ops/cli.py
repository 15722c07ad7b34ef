"""The `enclave` command line. Every command that reports takes --json."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from sqlalchemy import select

from enclave import audit
from enclave.db import session_scope, upgrade
from enclave.errors import EnclaveError
from enclave.models import JobState, MemberRole, Project, ProjectState, Role, User, WorkMode
from enclave.settings import get_settings
from enclave_ops.output import emit, error_line, json_option, operator_language
from policies import PolicyError, load_policies


def actor() -> str:
    """Who the operator says acts (ENCLAVE_ACTOR, declared, not proven): see `os_user` for who ran the command."""
    return os.environ.get("ENCLAVE_ACTOR") or getpass.getuser()


def os_user() -> str:
    """The account that ran the CLI (the sudo caller when run with sudo), recorded beside the declared actor.

    The CLI is the operator's root tool: it reads the database directly, outside the review rules, so
    what it reads is recorded with the account that read it.
    """
    return os.environ.get("SUDO_USER") or getpass.getuser()


def parse_date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise EnclaveError(f"{what} '{value}' is not a date like 2027-03-31") from exc


def project_dict(p: Project) -> dict[str, Any]:
    return {
        "slug": p.slug, "title": p.title, "state": p.state.value, "approval_ref": p.approval_ref,
        "purpose": p.purpose, "pi": p.pi, "start": p.start_date, "expiry": p.expiry_date,
        "limits": {"cpu": p.cpu_limit, "mem": p.mem_limit, "pids": p.pids_limit},
        "members": sorted(({"user": m.user.username, "role": m.role.value} for m in p.members),
                          key=lambda m: m["user"]),
        "datasets": sorted(a.dataset.label for a in p.approvals if a.active),
    }


class EnclaveGroup(click.Group):
    """Every command: an enclave error (bad input, a service down) is one clear line (or a JSON error
    object with --json) and exit code 2, never a traceback."""

    argv: list[str] = []

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self.argv = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (EnclaveError, PolicyError) as exc:
            if "--json" in self.argv:  # for scripts (Ansible): the English sentence, stable
                click.echo(json.dumps({"error": str(exc)}, ensure_ascii=False))
            else:
                click.echo(error_line(exc, operator_language()), err=True)
            sys.exit(2)


@click.group(cls=EnclaveGroup)
def main() -> None:
    """Enclave: a trusted research environment for health data."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    upgrade()
    click.echo("database is at the newest schema")


@main.group("policy")
def policy_group() -> None:
    """Policy files."""


@policy_group.command("check")
@click.option("--file", "one_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="check only this file (e.g. before installing it) ...")
@click.option("--section", type=click.Choice(["workspace", "datasets", "egress", "backup", "governance",
                                             "packages"]),
              help="... as this section")
@json_option
def policy_check(one_file: Path | None, section: str | None, as_json: bool) -> None:
    """Validate policies/*.yaml (or one file) and show the result."""
    if one_file is not None:
        from policies.loader import load_section

        load_section(one_file, section or one_file.stem)
        emit({"ok": True, "source": str(one_file)}, as_json, lambda d: f"{d['source']} is valid")
        return
    p = load_policies(get_settings().policy_dir)
    emit({"ok": True, "source": str(p.source), "workspace": p.workspace.model_dump(),
          "datasets": p.datasets.model_dump()}, as_json, lambda d: f"policies in {d['source']} are valid")


# --- users ---------------------------------------------------------------------------------------


@main.group("user")
def user_group() -> None:
    """User accounts (normally created at first login through the IdP)."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="Real name.")
@click.option("--email", default="")
@json_option
def user_add(username: str, roles: tuple[str, ...], name: str, email: str, as_json: bool) -> None:
    from enclave.projects import upsert_user

    with session_scope() as s:
        u = upsert_user(s, actor(), username, display_name=name, email=email, roles=list(roles))
        data = {"username": u.username, "roles": u.roles}
    emit(data, as_json, lambda d: f"user {d['username']} has roles {', '.join(d['roles'])}")


@user_group.command("list")
@json_option
def user_list(as_json: bool) -> None:
    with session_scope() as s:
        data = [{"username": u.username, "name": u.display_name, "roles": u.roles, "last_login": u.last_login}
                for u in s.execute(select(User).order_by(User.username)).scalars()]
    emit(data, as_json, lambda d: "\n".join(f"{u['username']:16} {','.join(u['roles'])}" for u in d))


@user_group.command("startable")
@click.argument("username")
@json_option
def user_startable(username: str, as_json: bool) -> None:
    """The projects USERNAME belongs to, and whether they may start a workspace in each (and why not)."""
    from enclave.projects import projects_for

    with session_scope() as s:
        data = [r.__dict__ for r in projects_for(s, username)]
    emit(data, as_json, lambda d: "\n".join(
        f"{r['project']:24} {'yes' if r['can_start'] else 'no: ' + r['reason']}" for r in d)
        or f"{username} is not a member of any project")


# --- projects ------------------------------------------------------------------------------------


@main.group("project")
def project_group() -> None:
    """Projects: one approved purpose each, with members, datasets, expiry and limits."""


@project_group.command("expire-due")
@json_option
def project_expire_due(as_json: bool) -> None:
    """Expire every active or suspended project whose expiry date has passed (run daily)."""
    from enclave.projects import today, transition

    with session_scope() as s:
        due = [p.slug for p in s.execute(select(Project)).scalars()
               if p.state in (ProjectState.ACTIVE, ProjectState.SUSPENDED) and p.expiry_date
               and p.expiry_date <= today()]
    results = []
    for slug in due:
        with session_scope() as s:
            transition(s, actor(), slug, ProjectState.EXPIRED, "expiry date reached")
        results.append({"project": slug, "stopped_workspaces": _stop_workspaces(slug, "project expired")})
    emit(results, as_json, lambda d: "\n".join(f"expired {r['project']}" for r in d) or "nothing to expire")


@project_group.command("purge-archives")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@json_option
def project_purge_archives(dry_run: bool, as_json: bool) -> None:
    """Delete closed projects' archived workspaces older than the policy's retention period."""
    from enclave.archive import purge_archives

    settings = get_settings()
    days = load_policies(settings.policy_dir).workspace.archive_retention_days
    due = purge_archives(settings, days, actor(), dry_run=dry_run)
    emit({"dry_run": dry_run, "retention_days": days, "purged": due}, as_json,
         lambda d: ("would delete" if dry_run else "deleted") + f" {len(d['purged'])} archive(s)")


def _stop_workspaces(slug: str, reason: str) -> list[str]:
    from enclave.workspaces import stop_project_workspaces

    return stop_project_workspaces(get_settings(), slug, reason, actor())


@project_group.command("create")
@click.argument("slug")
@click.option("--title", required=True)
@click.option("--approval-ref", required=True, help="Ethics / data-access committee reference.")
@click.option("--purpose", required=True)
@click.option("--pi", required=True, help="Username of the principal investigator.")
@click.option("--start", default=None, help="YYYY-MM-DD (default: today).")
@click.option("--expiry", required=True, help="YYYY-MM-DD.")
@click.option("--cpu", type=float, default=None)
@click.option("--mem", default=None, help="Memory limit, e.g. 4G.")
@click.option("--pids", type=int, default=None)
@json_option
def project_create(slug: str, title: str, approval_ref: str, purpose: str, pi: str, start: str | None,
                   expiry: str, cpu: float | None, mem: str | None, pids: int | None, as_json: bool) -> None:
    from enclave.projects import create_project, today

    policies = load_policies(get_settings().policy_dir)
    mem = mem.upper() if mem else None
    policies.limits_for(cpu, mem, pids)  # refuse limits above policy before anything is written
    with session_scope() as s:
        p = create_project(s, actor(), slug=slug, title=title, approval_ref=approval_ref, purpose=purpose, pi=pi,
                           start=parse_date(start, "--start") or today(), expiry=parse_date(expiry, "--expiry"),
                           cpu_limit=cpu, mem_limit=mem, pids_limit=pids)
        data = project_dict(p)
    emit(data, as_json, lambda d: f"project {d['slug']} created ({d['state']})")


@project_group.command("update")
@click.argument("slug")
@click.option("--title")
@click.option("--purpose")
@click.option("--expiry", help="YYYY-MM-DD.")
@click.option("--cpu", type=float)
@click.option("--mem", help="Memory limit, e.g. 4G.")
@click.option("--pids", type=int)
@json_option
def project_update(slug: str, title: str | None, purpose: str | None, expiry: str | None, cpu: float | None,
                   mem: str | None, pids: int | None, as_json: bool) -> None:
    """Change title, purpose, expiry or resource limits (within policy); audited."""
    from enclave.projects import get_project, update_project

    mem = mem.upper() if mem else None
    with session_scope() as s:
        p = get_project(s, slug)
        policies = load_policies(get_settings().policy_dir)
        policies.limits_for(cpu or p.cpu_limit, mem or p.mem_limit, pids or p.pids_limit)
        changed = update_project(s, actor(), slug, title=title, purpose=purpose,
                                 expiry_date=parse_date(expiry, "--expiry"), cpu_limit=cpu, mem_limit=mem,
                                 pids_limit=pids)
        data = {**project_dict(p), "changed": sorted(changed)}
    emit(data, as_json, lambda d: f"project {d['slug']}: " + (", ".join(d["changed"]) or "no change"))


@project_group.command("list")
@json_option
def project_list(as_json: bool) -> None:
    with session_scope() as s:
        data = [project_dict(p) for p in s.execute(select(Project).order_by(Project.slug)).scalars()]
    emit(data, as_json, lambda d: "\n".join(
        f"{p['slug']:24} {p['state']:10} expires {p['expiry']}  {p['title']}" for p in d) or "no projects")


@project_group.command("show")
@click.argument("slug")
@json_option
def project_show(slug: str, as_json: bool) -> None:
    from enclave.projects import get_project

    with session_scope() as s:
        data = project_dict(get_project(s, slug))
    emit(data, as_json)


@project_group.command("transition")
@click.argument("slug")
@click.argument("state", type=click.Choice([st.value for st in ProjectState]))
@click.option("--reason", required=True)
@json_option
def project_transition(slug: str, state: str, reason: str, as_json: bool) -> None:
    """Move a project to another state (requested → approved → active → suspended → expired/closed)."""
    from enclave.projects import transition

    with session_scope() as s:
        data = project_dict(transition(s, actor(), slug, ProjectState(state), reason))
    if ProjectState(state) in (ProjectState.SUSPENDED, ProjectState.EXPIRED, ProjectState.CLOSED):
        data["stopped_workspaces"] = _stop_workspaces(slug, f"project {state}: {reason}")
    if ProjectState(state) == ProjectState.CLOSED:
        from enclave.archive import archive_workspace

        data["archive"] = archive_workspace(get_settings(), slug, actor())
    emit(data, as_json, lambda d: f"project {d['slug']} is now {d['state']}")


@project_group.command("add-member")
@click.argument("slug")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in MemberRole]), default=MemberRole.RESEARCHER.value)
@json_option
def project_add_member(slug: str, username: str, role: str, as_json: bool) -> None:
    from enclave.projects import add_member

    with session_scope() as s:
        m = add_member(s, actor(), slug, username, MemberRole(role))
        data = {"project": slug, "user": username, "role": m.role.value}
    emit(data, as_json, lambda d: f"{d['user']} is a {d['role']} in {d['project']}")


@project_group.command("remove-member")
@click.argument("slug")
@click.argument("username")
@json_option
def project_remove_member(slug: str, username: str, as_json: bool) -> None:
    from enclave.projects import remove_member

    with session_scope() as s:
        remove_member(s, actor(), slug, username)
    emit({"project": slug, "removed": username}, as_json, lambda d: f"{username} removed from {slug}")


@project_group.command("approve-dataset")
@click.argument("slug")
@click.argument("dataset", metavar="NAME@VERSION")
@json_option
def project_approve_dataset(slug: str, dataset: str, as_json: bool) -> None:
    from enclave.projects import approve_dataset, get_project

    name, sep, version = dataset.partition("@")
    if not sep or not name or not version:
        raise EnclaveError(f"dataset '{dataset}' must be given as NAME@VERSION, e.g. cohort@v1")
    from enclave.modes import workspace_mode

    policies = load_policies(get_settings().policy_dir)
    allowed = {t for t, tier in policies.datasets.tiers.items() if tier.allowed_in_workspaces}
    with session_scope() as s:
        before = workspace_mode(policies, get_project(s, slug))
        approve_dataset(s, actor(), slug, name, version, allowed)
        after = workspace_mode(policies, get_project(s, slug))
    data: dict[str, Any] = {"project": slug, "approved": dataset, "workspace_mode": after.value}
    if before != after:  # a blind-only tier arrived: workspaces that showed real rows stop, restart blind
        data["stopped_workspaces"] = _stop_workspaces(slug, f"{dataset} approved: workspaces are now {after.value}")
    emit(data, as_json, lambda d: f"{dataset} approved for {slug} (workspaces {d['workspace_mode']})")


@project_group.command("revoke-dataset")
@click.argument("slug")
@click.argument("name")
@click.option("--reason", required=True)
@json_option
def project_revoke_dataset(slug: str, name: str, reason: str, as_json: bool) -> None:
    from enclave.projects import revoke_dataset

    with session_scope() as s:
        a = revoke_dataset(s, actor(), slug, name, reason)
        data: dict[str, Any] = {"project": slug, "revoked": a.dataset.label}
    # running workspaces still have the dataset mounted: stop them; the next start mounts what is approved
    data["stopped_workspaces"] = _stop_workspaces(slug, f"dataset {data['revoked']} revoked: {reason}")
    emit(data, as_json, lambda d: f"{d['revoked']} revoked for {slug}")


@project_group.command("mode")
@click.argument("slug")
@click.argument("mode", type=click.Choice([m.value for m in WorkMode]))
@json_option
def project_mode(slug: str, mode: str, as_json: bool) -> None:
    """Set how the project works: interactive (rows in the workspace) or blind (dummy rows, real ones in jobs).

    Turning a workspace blind stops the project's running workspaces; their next start mounts the dummies.
    """
    from enclave.modes import change_mode

    settings = get_settings()
    with session_scope() as s:
        data = change_mode(settings, s, actor(), load_policies(settings.policy_dir), slug, WorkMode(mode))
    emit(data, as_json, lambda d: f"project {slug}: {d['work_mode']} (workspaces {d['workspace_mode']}"
         + (f"; stopped {', '.join(d['stopped_workspaces'])}" if d["stopped_workspaces"] else "") + ")")


# --- blind-mode jobs -----------------------------------------------------------------------------


@main.group("job")
def job_group() -> None:
    """Jobs: code run on a project's real data in sealed containers, outputs checked before they return."""


def _job_line(d: dict[str, Any]) -> str:
    return (f"{d['id']:6} {d['project']:20} {d['submitter']:12} {d['state']:11} {d['release']:9} "
            f"exit={d['exit_code']}  {d['command']}")


@job_group.command("submit")
@click.argument("project")
@click.option("--user", "username", required=True, help="The researcher the job runs for (a project member).")
@click.option("--run", "command", required=True, help='The command, e.g. "python analysis/main.py".')
@click.option("--outputs", default="results", show_default=True, help="Folder (in the workspace) the job writes.")
@click.option("--code", default=".", show_default=True, help="Folder of the workspace snapshotted as the code.")
@json_option
def job_submit(project: str, username: str, command: str, outputs: str, code: str, as_json: bool) -> None:
    """Snapshot the project's code folder and queue a job (what `enclave-job submit` does from a workspace)."""
    from jobs.workflow import job_dict, submit

    settings = get_settings()
    with session_scope() as s:
        data = job_dict(submit(s, settings, load_policies(settings.policy_dir), username, project, command,
                               code=code, outputs=outputs))
    emit(data, as_json, lambda d: f"job {d['id']} queued")


@job_group.command("list")
@click.option("--project", default=None)
@click.option("--state", type=click.Choice([st.value for st in JobState]), default=None)
@json_option
def job_list(project: str | None, state: str | None, as_json: bool) -> None:
    """Jobs with their state and release; findings by kind only, never values."""
    from jobs.workflow import job_dict, jobs_of

    with session_scope() as s:
        data = [job_dict(j) for j in jobs_of(s, project, JobState(state) if state else None)]
        audit.record(s, actor(), audit.AuditAction.JOB_SHOW, project=project, target="jobs", os_user=os_user(),
                     listed=len(data))
    emit(data, as_json, lambda d: "\n".join(_job_line(j) for j in d) or "no jobs")


@job_group.command("show")
@click.argument("job_id", type=int)
@json_option
def job_show(job_id: int, as_json: bool) -> None:
    """One job's provenance record (code hash, image digest, dataset versions, limits, use, output hashes)."""
    from enclave.provenance import provenance
    from jobs.workflow import get_job, job_dict

    with session_scope() as s:
        job = get_job(s, job_id)
        data = {**job_dict(job), "provenance": provenance(job)}
        audit.record(s, actor(), audit.AuditAction.JOB_SHOW, project=job.project, target=f"job:{job_id}",
                     os_user=os_user())
    emit(data, as_json)


@job_group.command("cancel")
@click.argument("job_id", type=int)
@click.option("--reason", default="")
@json_option
def job_cancel(job_id: int, reason: str, as_json: bool) -> None:
    """A queued job never runs; a running one is stopped and nothing of it is kept."""
    from jobs.workflow import cancel, job_dict

    with session_scope() as s:
        data = job_dict(cancel(s, actor(), job_id, reason))
    emit(data, as_json, lambda d: f"job {d['id']} cancelled")


@job_group.command("release")
@click.argument("job_id", type=int)
@click.option("--withhold", is_flag=True, help="Keep the held outputs out of the workspace for good.")
@click.option("--reason", required=True, help="What you checked.")
@json_option
def job_release(job_id: int, withhold: bool, reason: str, as_json: bool) -> None:
    """An output checker's decision on held outputs (one reviewer, independent of the project)."""
    from jobs.workflow import decide

    data = decide(get_settings(), actor(), job_id, release_it=not withhold, reason=reason)
    emit(data, as_json, lambda d: f"job {d['id']}: {d['release']}")


@job_group.command("rerun")
@click.argument("job_id", type=int)
@json_option
def job_rerun(job_id: int, as_json: bool) -> None:
    """Queue an interrupted job again, with the same code snapshot."""
    from jobs.workflow import job_dict, rerun

    settings = get_settings()
    with session_scope() as s:
        data = job_dict(rerun(s, settings, load_policies(settings.policy_dir), actor(), job_id))
    emit(data, as_json, lambda d: f"job {job_id} queued again as job {d['id']}")


@job_group.command("runner")
@click.option("--until-idle", type=float, default=None, metavar="SECONDS",
              help="Stop when no job is queued or running (at most SECONDS); default: run until stopped.")
def job_runner(until_idle: float | None) -> None:
    """The job runner: starts queued jobs within the limits, watches them, checks and delivers results."""
    import signal

    from jobs.runner import Runner

    settings = get_settings()
    runner = Runner(settings, load_policies(settings.policy_dir))
    if until_idle is not None:
        runner.run_until_idle(until_idle)
        return
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    runner.run(lambda: bool(stopping))


# --- datasets ------------------------------------------------------------------------------------


@main.group("dataset")
def dataset_group() -> None:
    """Datasets: checked at the door, stored immutably, approved per project."""


@dataset_group.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", required=True)
@click.option("--version", "version", required=True)
@click.option("--tier", type=int, required=True)
@click.option("--quasi", default=None, help="Comma-separated quasi-identifier columns (default: suggested by policy).")
@click.option("--override-reason", default=None, help="Accept despite failed checks; recorded in the audit trail.")
@json_option
def dataset_ingest(path: Path, name: str, version: str, tier: int, quasi: str | None, override_reason: str | None,
                   as_json: bool) -> None:
    """Check and store PATH (a CSV/TSV/Parquet/Excel file or a folder of them) as NAME@VERSION."""
    from rich.progress import Progress

    from datasets_mount.ingest import IngestRefused, ingest

    settings = get_settings()
    policies = load_policies(settings.policy_dir)
    quasi_cols = [q.strip() for q in quasi.split(",") if q.strip()] if quasi else None
    with Progress(disable=as_json, transient=True) as bar:
        task = bar.add_task("ingest", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        try:
            with session_scope() as s:
                report = ingest(s, actor(), settings, policies, path, name=name, version=version, tier=tier,
                                quasi=quasi_cols, override_reason=override_reason, progress=progress)
        except IngestRefused as exc:
            if as_json:
                click.echo(json.dumps({"error": str(exc), **exc.report}, ensure_ascii=False, indent=1, default=str))
            else:
                click.echo("refused: dataset " + exc.report["dataset"], err=True)
                for p in exc.report["problems"]:
                    click.echo(f"  - {p}", err=True)
                click.echo("nothing was stored; fix the data, or pass --override-reason to accept it anyway",
                           err=True)
            sys.exit(2)
    emit(report, as_json, lambda d: f"stored {d['dataset']} (tier {d['tier']}): "
         f"{sum(f['rows'] for f in d['files'])} rows in {len(d['files'])} file(s)")


def dataset_dict(d: Any) -> dict[str, Any]:
    return {"name": d.name, "version": d.version, "tier": d.tier, "location": d.location, "created_by": d.created_by,
            "created_at": d.created_at, "files": d.manifest.get("files", [])}


@dataset_group.command("list")
@json_option
def dataset_list(as_json: bool) -> None:
    from enclave.models import Dataset

    with session_scope() as s:
        data = [dataset_dict(d) for d in s.execute(select(Dataset).order_by(Dataset.name, Dataset.version)).scalars()]
    emit(data, as_json, lambda d: "\n".join(
        f"{x['name']}@{x['version']:10} tier {x['tier']}  {sum(f.get('rows', 0) for f in x['files'])} rows"
        for x in d) or "no datasets")


@dataset_group.command("show")
@click.argument("dataset", metavar="NAME@VERSION")
@json_option
def dataset_show(dataset: str, as_json: bool) -> None:
    from enclave.projects import get_dataset

    name, _, version = dataset.partition("@")
    with session_scope() as s:
        d = get_dataset(s, name, version)
        data = {**dataset_dict(d), "manifest": d.manifest}
    emit(data, as_json)


@dataset_group.command("verify")
@json_option
def dataset_verify(as_json: bool) -> None:
    """Re-check every stored file against its manifest; exit 1 naming any change."""
    from datasets_mount.catalog import verify_dataset
    from enclave.models import Dataset

    with session_scope() as s:
        data = [{"dataset": d.label, "problems": verify_dataset(d)} for d in s.execute(select(Dataset)).scalars()]
    bad = [d for d in data if d["problems"]]
    emit({"ok": not bad, "datasets": data}, as_json, lambda r: "\n".join(
        f"{d['dataset']}: " + ("ok" if not d["problems"] else "; ".join(d["problems"])) for d in r["datasets"]))
    sys.exit(1 if bad else 0)


# --- egress ------------------------------------------------------------------------------------


@main.group("egress")
def egress_group() -> None:
    """Export checks and review."""


@egress_group.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", help="compare with this project's approved datasets (the own-data check); "
                                "without it the own-data check is not run")
@json_option
def egress_scan(paths: tuple[Path, ...], project: str | None, as_json: bool) -> None:
    """Run every automated export check on PATHS; exit 1 when any file is blocked.

    The own-data check compares only with the datasets approved for --project, as a request from that
    project would be checked; it never compares with every dataset in the enclave.
    """
    from egress_review.owndata import OwnDataIndex
    from egress_review.scan import rules_used, scan_path
    from egress_review.tables import across_files
    from enclave.pii.keyed import index_key, index_root
    from enclave.projects import active_datasets, get_project

    settings = get_settings()
    policy = load_policies(settings.policy_dir).egress
    labels: list[str] = []
    if project:
        with session_scope() as s:
            labels = [d.label for d in active_datasets(get_project(s, project))]
    elif not as_json:  # JSON says it with an empty own_data_datasets
        click.echo("own-data check not run: give --project to compare with a project's approved datasets",
                   err=True)
    own = OwnDataIndex.load(index_root(settings), index_key(settings), labels) if labels else None
    rules = rules_used(policy)
    scanned = [scan_path(p, policy, own) for p in paths]
    across_files(scanned, policy)  # tables that disclose only together (with and without one category)
    results = [{**r.to_dict(), "rules": rules, "own_data_datasets": labels} for r in scanned]

    def human(rows: list[dict[str, Any]], indent: str = "") -> str:
        lines = []
        for r in rows:
            lines.append(f"{indent}{r['verdict'].upper():6} {r['path']} ({r['type']})")
            lines += [f"{indent}   rebuilt: {note}" for note in r.get("rebuilt", [])]
            for f in r["findings"]:
                where = ", ".join(f"{k} {v}" for k, v in f.get("location", {}).items())
                lines.append(f"{indent}   {f['verdict']:6} {f['check']}: {f['detail']}"
                             + (f" [{where}]" if where else ""))
            if r.get("members"):
                lines.append(human(r["members"], indent + "   "))
        return "\n".join(lines)

    emit(results, as_json, human)
    sys.exit(1 if any(r["verdict"] == "block" for r in results) else 0)


@egress_group.command("list")
@click.option("--state", help="only requests in this state (submitted, in_review, conflicted, released, ...)")
@click.option("--project", help="only this project's requests")
@json_option
def egress_list(state: str | None, project: str | None, as_json: bool) -> None:
    """Export requests with their states (for stewards and auditors; reviewers use the web UI)."""
    from egress_review.views import request_view
    from enclave.models import ExportRequest, ExportState

    with session_scope() as s:
        q = s.query(ExportRequest).order_by(ExportRequest.id)
        if state:
            try:
                q = q.filter(ExportRequest.state == ExportState(state))
            except ValueError as exc:
                raise EnclaveError(f"unknown state '{state}': one of "
                                   + ", ".join(x.value for x in ExportState)) from exc
        if project:
            q = q.filter(ExportRequest.project == project)
        rows = [request_view(r, os_user(), detail=False) for r in q.all()]
        audit.record(s, actor(), audit.AuditAction.EGRESS_LIST, project=project, target=state or "",
                     os_user=os_user(), requests=len(rows))
    emit(rows, as_json, lambda rs: "\n".join(
        f"{r['id']:>5}  {r['state']:<10} {r['verdict']:<6} {r['project']:<20} {r['requester']:<12} {r['files']} file(s)"
        for r in rs) or "no requests")


@egress_group.command("show")
@click.argument("request_id", type=int)
@json_option
def egress_show(request_id: int, as_json: bool) -> None:
    """One request with files, findings, reviews (after both decided) and the release record.

    The operator's view, recorded (egress.show, with the OS account): reviews stay hidden until both
    are in, whatever ENCLAVE_ACTOR says, so the CLI never breaks reviewers' blindness.
    """
    from egress_review.views import request_view
    from egress_review.workflow import get_request

    with session_scope() as s:
        req = get_request(s, request_id)
        data = request_view(req, os_user(), reviewer=True)
        data["release"] = req.release.record if req.release else None
        audit.record(s, actor(), audit.AuditAction.EGRESS_SHOW, project=req.project, target=f"request:{req.id}",
                     os_user=os_user())
    emit(data, as_json, lambda d: json.dumps(d, ensure_ascii=False, indent=2, default=str))


# --- backup --------------------------------------------------------------------------------------


class BackupGroup(click.Group):
    """`enclave backup [DIR] [--with-datasets]` is `enclave backup create ...`; `drill`, `init` and
    `snapshots` are the other subcommands (a backup folder called `drill` is `./drill`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] != "--help"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@main.group("backup", cls=BackupGroup)
def backup_group() -> None:
    """Backups: signed folders, or snapshots in the restic repository, and restore drills.

    `enclave backup [DIR] [--with-datasets]` is short for `enclave backup create ...`."""


@backup_group.command("create")
@click.argument("dest", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--with-datasets/--without-datasets", default=None,
              help="also copy the dataset files (manifests are always included); default: the backup policy")
@json_option
def backup_cmd(dest: Path | None, with_datasets: bool | None, as_json: bool) -> None:
    """A consistent snapshot: database, audit trail, secrets, release store, policies, dataset manifests.

    With DIR: a signed folder. Without: a snapshot in the restic repository (ENCLAVE_BACKUP_REPOSITORY),
    then the backup policy's retention."""
    from rich.console import Console

    from enclave import backup as bk

    settings = get_settings()
    console = Console(stderr=True, quiet=as_json)
    with console.status("backing up") as status:
        def progress(step: str) -> None:
            status.update(f"backing up: {step}")

        if dest is None:
            result = bk.snapshot(settings, load_policies(settings.policy_dir).backup, with_datasets, progress)
        else:
            result = bk.backup(settings, dest, bool(with_datasets), progress=progress)
    with session_scope() as s:
        audit.record(s, actor(), audit.AuditAction.BACKUP_CREATE, target=result.get("snapshot") or str(dest),
                     files=result["files"], bytes=result["bytes"], with_datasets=result["with_datasets"],
                     repository=result.get("repository"), forgotten=result.get("forgotten", []))
    emit(result, as_json, lambda r: (f"snapshot {r['snapshot'][:8]} in {r['repository']}: " if "snapshot" in r
                                     else f"backup written to {r['backup']}: ")
         + f"{r['files']} files, {r['bytes']} bytes"
         + (f"; {len(r['forgotten'])} old snapshot(s) removed by retention" if r.get("forgotten") else ""))


@backup_group.command("init")
@click.option("--check", is_flag=True, help="only say whether the repository would be created")
@json_option
def backup_init(check: bool, as_json: bool) -> None:
    """Create the restic repository (and its password file when there is none); nothing when it exists."""
    from enclave.backup import init_repository

    emit(init_repository(get_settings(), check), as_json, lambda r: f"backup repository {r['repository']} "
         + ("already there" if not r["created"] else "would be created" if r["check"]
            else "created; keep an offline copy of " + r["password_file"]))


@backup_group.command("snapshots")
@json_option
def backup_snapshots(as_json: bool) -> None:
    """This enclave's snapshots in the repository, oldest first."""
    from enclave.backup import snapshots

    emit(snapshots(get_settings()), as_json, lambda rows: "\n".join(
        f"{r['id'][:8]}  {r['time'][:19]}  {','.join(r['tags'])}" for r in rows) or "no snapshots")


def _restore_report(r: dict[str, Any]) -> str:
    head = f"restore {'OK' if r['ok'] else 'FAILED'}" + (f" into {r['restored']}" if r["restored"] else "")
    if r.get("snapshot"):
        head += f" from snapshot {r['snapshot'][:8]}"
    if r.get("checked"):
        head += " (" + ", ".join(f"{k} {v}" for k, v in r["checked"].items()) + ")"
    return "\n".join([head, *(f"  - {p}" for p in r["problems"])])


@backup_group.command("drill")
@json_option
def backup_drill(as_json: bool) -> None:
    """Restore the latest snapshot into a scratch place, verify it whole, remove it; the outcome goes into
    the audit trail. Exit 1 when the drill fails. (A PostgreSQL enclave drills into ENCLAVE_RESTORE_DB_URL.)"""
    from enclave.backup import drill

    settings = get_settings()
    result = drill(settings, load_policies(settings.policy_dir).backup, actor(),
                   os.environ.get("ENCLAVE_RESTORE_DB_URL") or None)
    emit(result, as_json, lambda r: f"restore drill {r['drill'].upper()}: " + _restore_report(r))
    sys.exit(0 if result["ok"] else 1)


def _record_restore(result: dict[str, Any], source: str) -> None:
    """A host rebuilt from a backup says so in its own restored trail, first thing after the restore."""
    with session_scope() as s:
        audit.record(s, actor(), audit.AuditAction.BACKUP_RESTORE, target=result.get("snapshot") or source,
                     os_user=os_user(), checked=result.get("checked", {}), hub_restored=bool(result.get("hub_db_url")))


@main.command("restore")
@click.argument("src", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--snapshot", "snapshot_ref", help="restore this snapshot of the restic repository (an id or "
              "'latest') instead of a backup folder SRC")
@click.option("--target", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="an empty folder to restore into (a new ENCLAVE_HOME)")
@click.option("--verify/--no-verify", default=True, help="verify the audit chain and every checksum afterwards")
@click.option("--db-url", envvar="ENCLAVE_RESTORE_DB_URL",
              help="for a PostgreSQL backup: URL of an empty database to restore into (with a password: only "
                   "through ENCLAVE_RESTORE_DB_URL, never on the command line)")
@click.option("--hub-db-url", envvar="ENCLAVE_RESTORE_HUB_DB_URL",
              help="for a backup of the hub's PostgreSQL database: URL of an empty database to restore it into "
                   "(with a password: only through ENCLAVE_RESTORE_HUB_DB_URL)")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="the backup signing key or its public half (default: this enclave's own key)")
@json_option
def restore_cmd(src: Path | None, snapshot_ref: str | None, target: Path, verify: bool, db_url: str | None,
                hub_db_url: str | None, key_file: Path | None, as_json: bool) -> None:
    """Restore a signed backup into an empty place and prove it whole; exit 1 on any mismatch."""
    from enclave.backup import check_no_password_on_command_line, restore, restore_snapshot

    if (src is None) == (snapshot_ref is None):
        raise EnclaveError("restore what? give a backup folder SRC or --snapshot ID|latest (not both)")
    for name, url in (("db_url", db_url), ("hub_db_url", hub_db_url)):
        if url and click.get_current_context().get_parameter_source(name) is ParameterSource.COMMANDLINE:
            check_no_password_on_command_line(url)
    settings = get_settings()
    key = key_file or settings.backup_signing_key
    if snapshot_ref is not None:
        result = restore_snapshot(settings, snapshot_ref, target, key, load_policies(settings.policy_dir).backup,
                                  verify, db_url, hub_db_url)
    else:
        assert src is not None
        result = restore(src, target, key, verify, db_url, hub_db_url)
    if result["ok"] and target.resolve() == settings.home.resolve():
        _record_restore(result, snapshot_ref or str(src))
    emit(result, as_json, _restore_report)
    sys.exit(0 if result["ok"] else 1)


# --- audit ---------------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@json_option
def audit_verify(as_json: bool) -> None:
    """Check the whole chain; exit 1 and name each record that was edited, inserted or deleted."""
    with session_scope() as s:
        report = audit.verify(s)
    emit(report.to_dict(), as_json, lambda d: (
        f"audit trail intact: {d['records']} records" if d["ok"] else
        "AUDIT TRAIL TAMPERED:\n" + "\n".join(f"  record {p['seq']}: {p['kind']}: {p['message']}"
                                              for p in d["problems"])))
    sys.exit(0 if report.ok else 1)


@audit_group.command("reanchor")
@click.option("--reason", required=True, help="Why the anchor is replaced (e.g. the disk holding it was lost); "
                                             "recorded in the trail.")
@json_option
def audit_reanchor(reason: str, as_json: bool) -> None:
    """Anchor the trail at its current end after verifying the chain (when the anchor file was lost)."""
    with session_scope() as s:
        result = audit.reanchor(s, actor(), reason)
    emit(result, as_json, lambda r: f"audit trail re-anchored at record {r['anchored']}"
         + "".join(f"\n  replaced: {m}" for m in r["replaced_problems"]))


@audit_group.command("query")
@click.option("--user", default=None, help="Who acted.")
@click.option("--project", default=None)
@click.option("--since", default=None, help="ISO date or date-time, e.g. 2026-11-01.")
@click.option("--action", default=None, help="Action name; * is a wildcard, e.g. 'workspace.*'.")
@click.option("--limit", type=int, default=1000)
@json_option
def audit_query(user: str | None, project: str | None, since: str | None, action: str | None, limit: int,
                as_json: bool) -> None:
    """Who did what: records filtered by user, project, time and action."""
    since_dt = None
    if since:
        try:
            since_dt = datetime.fromisoformat(since)
        except ValueError as exc:
            raise EnclaveError(f"--since '{since}' is not a date like 2026-11-01 or 2026-11-01T08:00") from exc
        if since_dt.tzinfo is None:
            since_dt = since_dt.replace(tzinfo=UTC)
    with session_scope() as s:
        rows = audit.query(s, user=user, project=project, since=since_dt, action=action, limit=limit)
    emit(rows, as_json, lambda d: "\n".join(
        f"{r['seq']:6} {r['ts'][:19]} {r['actor']:12} {r['action']:20} {r['project'] or '-':16} {r['target']}"
        for r in d) or "no matching records")


@audit_group.command("code")
@click.option("--project", default=None)
@click.option("--user", default=None, help="Whose workspace ran it.")
@click.option("--since", default=None, help="ISO date or date-time, e.g. 2026-11-01.")
@json_option
def audit_code(project: str | None, user: str | None, since: str | None, as_json: bool) -> None:
    """Executed code on the record: every notebook cell and terminal command, with the gaps the workspaces'
    recorders reported; exit 1 when a stored record no longer matches its hash or the audit trail."""
    from activity import records
    from activity.i18n import describe

    with session_scope() as s:
        result = records.report(s, project=project, user=user, since=_since(since))
    emit(result, as_json, lambda d: describe(d, operator_language()))
    sys.exit(1 if result["problems"] else 0)


def _since(since: str | None) -> datetime | None:
    if not since:
        return None
    try:
        since_dt = datetime.fromisoformat(since)
    except ValueError as exc:
        raise EnclaveError(f"--since '{since}' is not a date like 2026-11-01 or 2026-11-01T08:00") from exc
    return since_dt if since_dt.tzinfo else since_dt.replace(tzinfo=UTC)


@main.group("accreditation")
def accreditation_group() -> None:
    """People's accreditation (training and level): which dataset tiers they may use (governance.yaml)."""


@accreditation_group.command("set")
@click.argument("username")
@click.option("--level", type=int, required=True, help="A level defined in governance.yaml.")
@click.option("--training", required=True, help="Date the training was completed (YYYY-MM-DD).")
@click.option("--expires", required=True, help="Date the accreditation lapses (YYYY-MM-DD).")
@json_option
def accreditation_set(username: str, level: int, training: str, expires: str, as_json: bool) -> None:
    """Record or renew USERNAME's accreditation (audited), as the governance page does for admins."""
    from enclave.access import record_accreditation

    done, until = parse_date(training, "--training"), parse_date(expires, "--expires")
    assert done is not None and until is not None
    with session_scope() as s:
        acc = record_accreditation(s, actor(), username, level=level, training_completed=done, expires=until)
        data = {"username": acc.username, "level": acc.level, "training_completed": acc.training_completed,
                "expires": acc.expires}
    emit(data, as_json, lambda d: f"{d['username']}: level {d['level']} until {d['expires']}")


@accreditation_group.command("list")
@json_option
def accreditation_list(as_json: bool) -> None:
    """Everyone's accreditation, with what it allows today."""
    from enclave.access import accreditation_of, governance_policy, standing
    from enclave.models import Accreditation

    policy = governance_policy()
    with session_scope() as s:
        data = []
        for a in s.execute(select(Accreditation).order_by(Accreditation.username)).scalars():
            st = standing(accreditation_of(s, a.username), policy)
            data.append({"username": a.username, "level": a.level, "expires": a.expires, "max_tier": st.max_tier,
                         "lapsed": st.lapsed})
    emit(data, as_json, lambda d: "\n".join(
        f"{r['username']:16} level {r['level']} until {r['expires']}{' (lapsed)' if r['lapsed'] else ''}, "
        f"tiers up to {r['max_tier']}" for r in d) or "no accreditation recorded")


# --- approved packages (packages/) -----------------------------------------------------------------


@main.group("packages")
def packages_group() -> None:
    """Approved Python packages: requests, stewards' decisions, the wheelhouse on the host."""


def _in_user_language(call: Callable[[], Any]) -> Any:
    """Run a package step; a refusal reads in zh-CN when the operator's locale is Chinese (LANG=zh_CN...)."""
    from packages.i18n import reason_zh

    try:
        return call()
    except EnclaveError as exc:
        if (os.environ.get("LC_ALL") or os.environ.get("LANG", "")).lower().startswith("zh"):
            raise EnclaveError(reason_zh(str(exc))) from exc
        raise


@packages_group.command("list")
@click.option("--state", type=click.Choice(["requested", "approved", "refused"]), default=None)
@json_option
def packages_list(state: str | None, as_json: bool) -> None:
    """The allow-list and the package requests (oldest first)."""
    from packages.models import RequestState
    from packages.workflow import list_requests, request_dict

    policy = load_policies(get_settings().policy_dir).packages
    with session_scope() as s:
        reqs = [request_dict(r) for r in list_requests(s, RequestState(state) if state else None)]
    data = {"allowed": {n: p.model_dump() for n, p in policy.python.items()}, "requests": reqs}
    emit(data, as_json, lambda d: "\n".join(
        [f"allowed  {n}=={p['version']}{'' if p['sha256'] else ' (hash not yet filled)'}"
         for n, p in d["allowed"].items()]
        + [f"#{r['id']:<4} {r['state']:9} {r['project']:12} {r['requester']:10} {r['name']}"
           f"{'==' + r['version'] if r['version'] else ''}  {r['reason']}" for r in d["requests"]]))


@packages_group.command("request")
@click.argument("spec", metavar="NAME[==VERSION]")
@click.option("--project", required=True)
@click.option("--reason", required=True, help="What the package is for in this project.")
@click.option("--user", "username", default=None, help="The researcher asking (default: ENCLAVE_ACTOR).")
@json_option
def packages_request(spec: str, project: str, reason: str, username: str | None, as_json: bool) -> None:
    """Ask for a package; refused names and typosquats are refused at once (audited either way)."""
    from packages.workflow import request_dict, request_package

    policy = load_policies(get_settings().policy_dir).packages

    def run() -> dict[str, Any]:
        with session_scope() as s:
            return request_dict(request_package(s, policy, username or actor(), project, spec, reason))
    data = _in_user_language(run)
    emit(data, as_json, lambda d: f"package request {d['id']} ({d['name']}) waits for a steward")


@packages_group.command("approve")
@click.argument("request_id", type=int)
@click.option("--version", default="", help="Pin this version (required when the request names none).")
@click.option("--reason", default="", help="Why (kept with the decision).")
@json_option
def packages_approve(request_id: int, version: str, reason: str, as_json: bool) -> None:
    """Approve as the steward ENCLAVE_ACTOR: the package joins the allow-list and its wheels are fetched."""
    from packages.workflow import approve, request_dict

    settings = get_settings()
    policy = load_policies(settings.policy_dir).packages

    def run() -> dict[str, Any]:
        with session_scope() as s:
            return request_dict(approve(s, settings, policy, actor(), request_id, reason, version,
                                        settings.packages_fetch_args))
    data = _in_user_language(run)
    emit(data, as_json, lambda d: f"package request {d['id']} approved: {d['name']}=={d['version']} "
         + ("fetched into the wheelhouse" if d["fetch"] == "ok" else f"NOT fetched: {d['fetch']}"))


@packages_group.command("refuse")
@click.argument("request_id", type=int)
@click.option("--reason", required=True, help="Why (the researcher reads it).")
@json_option
def packages_refuse(request_id: int, reason: str, as_json: bool) -> None:
    """Refuse as the steward ENCLAVE_ACTOR, saying why."""
    from packages.workflow import refuse, request_dict

    policy = load_policies(get_settings().policy_dir).packages

    def run() -> dict[str, Any]:
        with session_scope() as s:
            return request_dict(refuse(s, policy, actor(), request_id, reason))
    data = _in_user_language(run)
    emit(data, as_json, lambda d: f"package request {d['id']} refused")


@packages_group.command("build")
@json_option
def packages_build(as_json: bool) -> None:
    """Fetch and check the whole allow-list into the host's wheelhouse (fills hashes the list lacks)."""
    from packages.workflow import build_wheelhouse

    settings = get_settings()
    policy = load_policies(settings.policy_dir).packages
    with session_scope() as s:
        data = build_wheelhouse(s, settings, policy, actor(), settings.packages_fetch_args)
    emit(data, as_json, lambda d: "\n".join(
        [f"fetched {f['file']} sha256 {f['sha256']}" for f in d["fetched"]]
        + [f"FAILED {n}: {r['en']}" for n, r in d["failed"].items()]
        + [f"{n} needs, not on the allow-list: {', '.join(m)}" for n, m in d["missing_dependencies"].items()]
        + [f"wheelhouse: {d['wheelhouse']}"]))
    if data["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()


def _add_demo_commands() -> None:
    """`enclave up`, `down`, `status` and `demo seed`: the self-contained enclave of `make up` and the tests
    (enclave_demo). Production runs the same processes as systemd units and never calls these."""
    from enclave_demo.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_demo_commands()
