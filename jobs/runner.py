"""Runs queued jobs, one sealed container each, and finishes them: checks, provenance, delivery.

The plan (`job_plan`) is decided apart from the engine: the workspace image, no network at all, a
read-only root, the real approved datasets and the code snapshot read-only, one writable outputs
folder (a size-limited tmpfs on the host, so it outlives the container), /tmp small and noexec, no
home, no token, no hub or export service to talk to, and the workspace hardening
(`enclave.containers`) with the job limits of policy.

State lives in the database and the engine, not in this process: a container is named after its job
and labelled with it, so a runner started again adopts the jobs still running, finishes those that
ended while it was away, and marks `interrupted` (never half-recorded, can be run again) a running job
whose container is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from enclave.containers import CONTAINER_USER, hardened_host_config, scratch_tmpfs
from enclave.db import session_scope
from enclave.errors import EnclaveError
from enclave.models import Job, JobRelease, JobState
from enclave.projects import get_project
from enclave.settings import DATA_MOUNT, INSTANCE_LABEL, JOB_LABEL, JOB_PROJECT_LABEL, WORKSPACE_MOUNT, Settings
from jobs import results, rules, workflow
from jobs.files import materialise, read_folder
from policies import Policies
from policies.schema import Limits, size_to_bytes

log = logging.getLogger("enclave-jobs")
POLL_SECONDS = 0.5
CGROUP = Path("/sys/fs/cgroup")


def container_name(settings: Settings, job_id: int) -> str:
    return f"{settings.instance}-job-{job_id}"


def job_plan(settings: Settings, job: Job, run_dir: Path, datasets: dict[str, Path]) -> dict[str, Any]:
    """Everything the engine is told for one job (docker-py `containers.create` arguments)."""
    limits = Limits(cpu_limit=job.limits["cpu_limit"], mem_limit=job.limits["mem_limit"],
                    pids_limit=job.limits["pids_limit"])
    volumes = {str(run_dir / "code"): {"bind": WORKSPACE_MOUNT, "mode": "ro"},
               str(run_dir / "outputs"): {"bind": f"{WORKSPACE_MOUNT}/{job.outputs_dir}", "mode": "rw"}}
    volumes.update({str(path): {"bind": f"{DATA_MOUNT}/{name}", "mode": "ro"}
                    for name, path in sorted(datasets.items())})
    host = hardened_host_config(limits, {"/tmp": scratch_tmpfs(job.limits["scratch_size"])})
    return {
        "image": job.image, "command": ["/bin/sh", "-c", job.command], "name": container_name(settings, job.id),
        "user": CONTAINER_USER, "working_dir": WORKSPACE_MOUNT, "network_mode": "none", "volumes": volumes,
        "environment": {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp", "ENCLAVE_JOB": str(job.id),
                        "ENCLAVE_PROJECT": job.project, "ENCLAVE_WORK_MODE": "job", "PYTHONDONTWRITEBYTECODE": "1"},
        "labels": {JOB_LABEL: str(job.id), JOB_PROJECT_LABEL: job.project, INSTANCE_LABEL: settings.instance},
        "nano_cpus": int(limits.cpu_limit * 1e9), "hostname": f"job-{job.id}",
        "dns": [], "log_config": {"type": "json-file", "config": {"max-size": "8m", "max-file": "1"}},
        "detach": True, **host,
    }


def _mount_outputs(path: Path, size: str) -> None:
    """The outputs folder: its own tmpfs (the size limit), writable by the workspace user only."""
    path.mkdir(parents=True, exist_ok=True)
    uid, gid = CONTAINER_USER.split(":")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700,uid={uid},gid={gid},nosuid,nodev",
                        "tmpfs", str(path)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise EnclaveError(f"the job's outputs folder could not be made ({r.stderr.strip()})")


def _unmount(path: Path) -> None:
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _cgroup_use(container_id: str) -> dict[str, int]:
    """CPU time and peak memory so far, from the container's cgroup (v1 or v2); empty when gone."""
    out: dict[str, int] = {}
    for key, path in (("cpu_ns", CGROUP / "cpuacct" / "docker" / container_id / "cpuacct.usage"),
                      ("max_memory_bytes", CGROUP / "memory" / "docker" / container_id / "memory.max_usage_in_bytes"),
                      ("max_memory_bytes", CGROUP / "system.slice" / f"docker-{container_id}.scope" / "memory.peak")):
        with contextlib.suppress(OSError, ValueError):
            out[key] = int(path.read_text().split()[0])
    with contextlib.suppress(OSError, ValueError):
        for line in (CGROUP / "system.slice" / f"docker-{container_id}.scope" / "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec"):
                out["cpu_ns"] = int(line.split()[1]) * 1000
    return out


class Runner:
    """One per enclave (a lock file keeps a second from starting): `tick` starts, watches and finishes jobs."""

    def __init__(self, settings: Settings, policies: Policies, client: docker.DockerClient | None = None) -> None:
        self.settings, self.policies = settings, policies
        self.client = client or docker.from_env()
        self.use: dict[int, dict[str, int]] = {}  # last cgroup reading per running job

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        self.settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.settings.jobs_dir, 0o700)
        with open(self.settings.jobs_dir / "runner.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise EnclaveError("another job runner is already running for this enclave") from exc
            yield

    # --- the loop ----------------------------------------------------------------------------------

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        with self.exclusive():
            self.recover()
            while not stop():
                self.tick()
                time.sleep(POLL_SECONDS)

    def run_until_idle(self, timeout: float) -> None:
        """Until no job is queued or running (tests, benchmarks); EnclaveError after `timeout` seconds."""
        end = time.monotonic() + timeout
        with self.exclusive():
            self.recover()
            while self.tick():
                if time.monotonic() > end:
                    raise EnclaveError(f"jobs still queued or running after {timeout:g} s")
                time.sleep(POLL_SECONDS)

    def tick(self) -> int:
        """Watch the running jobs, then start queued ones within the limits; returns the jobs still active."""
        with session_scope() as s:
            running = workflow.jobs_of(s, state=JobState.RUNNING)
            queued = workflow.jobs_of(s, state=JobState.QUEUED)
        for job in running:
            self._watch(job)
        jp = self.policies.workspace.jobs
        with session_scope() as s:
            running = workflow.jobs_of(s, state=JobState.RUNNING)
        per_project: dict[str, int] = {}
        for j in running:
            per_project[j.project] = per_project.get(j.project, 0) + 1
        slots = jp.max_running - len(running)
        for job in queued:
            if slots <= 0:
                break
            if per_project.get(job.project, 0) >= jp.max_running_per_project:
                continue
            if self._start(job):
                per_project[job.project] = per_project.get(job.project, 0) + 1
                slots -= 1
        self._clean_cancelled()
        with session_scope() as s:
            return len(workflow.jobs_of(s, state=JobState.RUNNING)) + len(workflow.jobs_of(s, state=JobState.QUEUED))

    # --- starting ----------------------------------------------------------------------------------

    def _start(self, job: Job) -> bool:
        run_dir = workflow.job_folder(self.settings, job.id)
        try:
            with session_scope() as s:
                project = get_project(s, job.project)
                rules.check_can_start(project)
                approved = {d.name: Path(d.location) for d in (a.dataset for a in project.approvals if a.active)
                            if d.version == job.datasets.get(d.name, {}).get("version")}
            missing = sorted(set(job.datasets) - set(approved))
            if missing:  # the provenance names the versions submitted against: no other version runs
                raise EnclaveError(f"the job was not started: the version(s) of {', '.join(missing)} it was "
                                   "submitted against are no longer approved for the project; submit it again")
            digest = self._image_digest(job.image)
            _unmount(run_dir / "outputs")
            shutil.rmtree(run_dir, ignore_errors=True)
            materialise(self.settings.jobs_store, job.code_manifest["files"], run_dir / "code", [job.outputs_dir])
            _mount_outputs(run_dir / "outputs", job.limits["outputs_size"])
            plan = job_plan(self.settings, job, run_dir, {n: approved[n] for n in job.datasets})
            with session_scope() as s:  # recorded as running before the container exists: a crash now is
                workflow.mark_running(s, s.get(Job, job.id), plan["name"], digest)  # an interrupted job
            container = self.client.containers.create(**plan)
            container.start()
            return True
        except (EnclaveError, DockerException) as exc:
            reason = str(exc) if isinstance(exc, EnclaveError) else f"the container could not start: {exc}"
            with contextlib.suppress(EnclaveError), session_scope() as s:
                workflow.mark_not_started(s, s.get(Job, job.id), reason)
            self._cleanup(job.id)
            return False

    def _image_digest(self, image: str) -> str:
        try:
            img = self.client.images.get(image)
        except ImageNotFound as exc:
            raise EnclaveError(f"the workspace image {image} is not on this host") from exc
        return (img.attrs.get("RepoDigests") or [img.id])[0]

    # --- watching and finishing --------------------------------------------------------------------

    def _container(self, job: Job) -> Any:
        try:
            return self.client.containers.get(job.container or container_name(self.settings, job.id))
        except NotFound:
            return None

    def _watch(self, job: Job) -> None:
        c = self._container(job)
        if c is None or c.status == "created":
            if c is not None:
                c.remove(force=True)
            with contextlib.suppress(EnclaveError), session_scope() as s:
                workflow.mark_interrupted(s, s.get(Job, job.id), "the job's container was lost (the runner or the "
                                          "engine stopped while it ran); nothing of it was kept - run it again")
            self._cleanup(job.id)
            return
        if c.status == "running":
            self.use[job.id] = {**self.use.get(job.id, {}), **_cgroup_use(c.id)}
            started = job.started_at.replace(tzinfo=UTC) if job.started_at and job.started_at.tzinfo is None \
                else job.started_at
            wall = job.limits["wall_seconds"]
            if started and (datetime.now(UTC) - started).total_seconds() > wall:
                c.kill()
                c.reload()
                self._finish(job, c, f"stopped: still running after its wall-time limit of {wall} s")
            return
        self._finish(job, c, "")

    def _finish(self, job: Job, c: Any, why: str) -> None:
        """Read, check and record the run in one transaction, then deliver and clean up."""
        c.reload()
        st = c.attrs["State"]
        exit_code = int(st.get("ExitCode", -1))
        if not why and (st.get("OOMKilled") or exit_code == 128 + 9):
            # Nothing in a sealed container but the kernel's OOM killer sends SIGKILL to the job (the engine
            # does not always flag it): say so, with the limit.
            why = (f"stopped: killed by the kernel (SIGKILL), as happens when a job uses more than its memory "
                   f"limit of {job.limits['mem_limit']}")
        state = JobState.FAILED if why else JobState.FINISHED
        reason = why or f"exited with code {exit_code}"
        jp = self.policies.workspace.jobs
        log_bytes = c.logs(stdout=True, stderr=True, timestamps=False)[-jp.max_log_bytes:]
        run_dir = workflow.job_folder(self.settings, job.id)
        try:
            outputs = read_folder(run_dir / "outputs", max_bytes=size_to_bytes(job.limits["outputs_size"]) + 1,
                                  max_files=self.policies.egress.max_files_per_request * 10, what="outputs folder")
        except EnclaveError as exc:
            outputs = None
            reason += f"; outputs not read: {exc}"
        files = {results.LOG_NAME: log_bytes}
        if outputs is not None:
            files.update({f"{job.outputs_dir}/{k}": v for k, v in outputs.files.items()})
        resources = {**self.use.pop(job.id, {}), **_timing(st)}
        with session_scope() as s:
            live = s.get(Job, job.id)
            if live is None or live.state != JobState.RUNNING:  # cancelled meanwhile: nothing more to record
                self._cleanup(job.id, c)
                return
            checked, release = results.check_files(self.settings, self.policies, s, live, files)
            workflow.mark_ended(s, live, state=state, reason=reason, exit_code=exit_code, resources=resources,
                                outputs=checked, release=release)
        self._deliver(job.id)
        self._cleanup(job.id, c)

    def _deliver(self, job_id: int) -> None:
        workflow.deliver(self.settings, job_id)

    def deliver_again(self, job_id: int) -> None:
        """After an output checker's release: the folder is written again with the released files."""
        self._deliver(job_id)

    def _clean_cancelled(self) -> None:
        """Cancelled jobs whose container still exists: stopped and removed, nothing recorded of the run."""
        try:
            containers = self.client.containers.list(all=True, filters={"label": [
                JOB_LABEL, f"{INSTANCE_LABEL}={self.settings.instance}"]})
        except DockerException:
            return
        for c in containers:
            job_id = int(c.labels.get(JOB_LABEL, "0"))
            with session_scope() as s:
                job = s.get(Job, job_id)
                ended = job is None or job.state in rules.ENDED
            if ended:
                self._cleanup(job_id, c)

    def _cleanup(self, job_id: int, c: Any = None) -> None:
        if c is not None:
            with contextlib.suppress(DockerException, APIError):
                c.remove(force=True)
        run_dir = workflow.job_folder(self.settings, job_id)
        _unmount(run_dir / "outputs")
        if run_dir.exists():
            for p in [run_dir, *run_dir.rglob("*")]:
                with contextlib.suppress(OSError):
                    if p.is_dir() and not p.is_symlink():
                        os.chmod(p, 0o700)
            shutil.rmtree(run_dir, ignore_errors=True)

    # --- after a restart ---------------------------------------------------------------------------

    def recover(self) -> dict[str, list[int]]:
        """What a new runner finds: running jobs adopted or finished or interrupted; ended jobs whose
        delivery was cut off delivered again."""
        seen: dict[str, list[int]] = {"adopted": [], "redelivered": []}
        with session_scope() as s:
            running = workflow.jobs_of(s, state=JobState.RUNNING)
            ended = [j for j in workflow.jobs_of(s) if j.state in (JobState.FINISHED, JobState.FAILED)
                     and j.release != JobRelease.PENDING]
        for job in running:
            seen["adopted"].append(job.id)
            self._watch(job)
        for job in ended:
            if not results.delivered(self.settings, job):
                self._deliver(job.id)
                seen["redelivered"].append(job.id)
        return seen


def _timing(state: dict[str, Any]) -> dict[str, Any]:
    def parse(v: str | None) -> datetime | None:
        if not v or v.startswith("0001"):
            return None
        return datetime.fromisoformat(v[:26].rstrip("Z") + "+00:00") if "." in v else datetime.fromisoformat(
            v.replace("Z", "+00:00"))

    a, b = parse(state.get("StartedAt")), parse(state.get("FinishedAt"))
    return {"wall_seconds": round((b - a).total_seconds(), 3)} if a and b else {}
