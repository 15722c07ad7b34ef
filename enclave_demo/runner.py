"""Starts and stops the enclave's processes (demo IdP, proxy, the hub services, the hub, the job runner)
for a single host.

Production hosts run the same commands as systemd services (see ansible/); this is what `make up`
uses: background processes with pid files and logs under ENCLAVE_HOME.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import docker

from enclave import workspace_fs
from enclave.settings import (
    ACTIVITY_PREFIX,
    EGRESS_PREFIX,
    GOVERNANCE_PREFIX,
    INSTANCE_LABEL,
    JOB_LABEL,
    JOBS_PREFIX,
    PACKAGES_PREFIX,
    PROJECT_LABEL,
    REPO_ROOT,
    Settings,
)


def _pidfile(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def running_pid(settings: Settings, name: str) -> int | None:
    path = _pidfile(settings, name)
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"ENCLAVE_HOME": str(settings.home), "ENCLAVE_DB_URL": settings.db_url,
                "ENCLAVE_POLICY_DIR": str(settings.policy_dir), "ENCLAVE_PUBLIC_PORT": str(settings.public_port),
                "ENCLAVE_HUB_API_PORT": str(settings.hub_api_port), "ENCLAVE_IDP_PORT": str(settings.idp_port),
                "ENCLAVE_PROXY_API_PORT": str(settings.proxy_api_port),
                "ENCLAVE_EGRESS_PORT": str(settings.egress_port), "ENCLAVE_IMAGE": settings.image,
                "ENCLAVE_GOVERNANCE_PORT": str(settings.governance_port), "ENCLAVE_JOBS_PORT": str(settings.jobs_port),
                "ENCLAVE_PACKAGES_PORT": str(settings.packages_port),
                "ENCLAVE_ACTIVITY_PORT": str(settings.activity_port),
                "ENCLAVE_TLS_CERT": settings.tls_cert, "ENCLAVE_TLS_KEY": settings.tls_key,
                "ENCLAVE_INSTANCE": settings.instance,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))})
    return env


_STARTED: dict[str, subprocess.Popen[bytes]] = {}  # children of this process (a dead one is a zombie, not gone)


def start_process(settings: Settings, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> int:
    pid = running_pid(settings, name)
    if pid:
        return pid
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.log_dir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=settings.run_dir,
                                env={**_env(settings), **(extra_env or {})}, start_new_session=True)
    _pidfile(settings, name).write_text(str(proc.pid))
    _STARTED[name] = proc
    return proc.pid


def wait_http(url: str, timeout: float, name: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    local_tls = ssl.create_default_context()
    local_tls.check_hostname, local_tls.verify_mode = False, ssl.CERT_NONE  # 127.0.0.1 with the site's certificate
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=local_tls) as resp:
                if resp.status == 200:
                    return
        except OSError:  # includes HTTPError: the proxy answers 404 until the hub has added its route
            pass
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{name} did not answer at {url} within {timeout:.0f}s; end of {log}:\n{tail}")


def demo_idp_address(settings: Settings) -> str:
    """The demo IdP listens on its issuer's loopback address (127.0.0.x in tests), else on the internal one."""
    host = urlsplit(settings.oidc_issuer).hostname or ""
    try:
        return host if ipaddress.ip_address(host).is_loopback else settings.internal_address
    except ValueError:
        return settings.internal_address


# Every process `make up` runs, in the order they start (stopped in the reverse order).
SERVICES = ("idp", "proxy", "egress-review", "governance", "jobs", "packages", "activity", "hub")
JOB_RUNNER = "job-runner"


def start_all(settings: Settings, idp_config: Path, *, job_runner: bool = True) -> None:
    """Everything `make up` runs. `job_runner=False` leaves the job runner out, for a caller that runs its own
    on this home (there is one runner per job store: a second would be refused by its lock)."""
    workspace_fs.check_loop_support()  # no workspace runs without its disk quota: refuse before anything starts
    start_process(settings, "idp", [sys.executable, "-m", "enclave_demo.idp", "--config", str(idp_config),
                                    "--port", str(settings.idp_port), "--ip", demo_idp_address(settings)])
    wait_http(f"{settings.idp_url}/.well-known/openid-configuration", 30, "identity provider",
              settings.log_dir / "idp.log")
    # The proxy runs on its own, so restarting the hub keeps routes to running workspaces.
    start_process(settings, "proxy", [
        str(REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"), "--ip", "0.0.0.0",
        "--port", str(settings.public_port), "--api-ip", "127.0.0.1", "--api-port", str(settings.proxy_api_port),
        "--default-target", f"http://127.0.0.1:{settings.hub_api_port}",
        "--error-target", f"http://127.0.0.1:{settings.hub_api_port}/hub/error",
        *(["--ssl-cert", settings.tls_cert, "--ssl-key", settings.tls_key] if settings.tls_cert else []),
    ], extra_env={"CONFIGPROXY_AUTH_TOKEN": settings.secret("proxy-auth")})
    start_egress_service(settings)
    start_governance_service(settings)
    start_jobs_service(settings)
    start_packages_service(settings)
    start_activity_service(settings)
    start_hub(settings)
    names = list(SERVICES)
    if job_runner:
        start_job_runner(settings)
        names.append(JOB_RUNNER)
    # an answer could come from someone else on the port
    for name in names:
        proc = _STARTED.get(name)
        if not running_pid(settings, name) or (proc is not None and proc.poll() is not None):
            log = settings.log_dir / f"{name}.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{name} exited right after starting (port taken?); end of {log}:\n{tail}")


def start_hub(settings: Settings) -> None:
    start_process(settings, "hub", [sys.executable, "-m", "jupyterhub", "-f",
                                    str(REPO_ROOT / "hub" / "jupyterhub_config.py")])
    wait_http(f"{settings.local_url}/hub/health", 90, "hub", settings.log_dir / "hub.log")


def start_egress_service(settings: Settings) -> None:
    """The egress-review service, registered with the hub as an external service (its own process)."""
    start_process(settings, "egress-review", [sys.executable, "-m", "egress_review.service"])
    wait_http(f"http://127.0.0.1:{settings.egress_port}{EGRESS_PREFIX}health", 30, "egress-review service",
              settings.log_dir / "egress-review.log")


def start_governance_service(settings: Settings) -> None:
    """The governance service (catalogue, applications, approvals, audit view), an external hub service too."""
    start_process(settings, "governance", [sys.executable, "-m", "governance.service"])
    wait_http(f"http://127.0.0.1:{settings.governance_port}{GOVERNANCE_PREFIX}health", 30, "governance service",
              settings.log_dir / "governance.log")


def start_activity_service(settings: Settings) -> None:
    """The code recorder (workspaces post every executed cell and terminal command), an external hub service."""
    start_process(settings, "activity", [sys.executable, "-m", "activity.service"])
    wait_http(f"http://127.0.0.1:{settings.activity_port}{ACTIVITY_PREFIX}health", 30, "code recorder",
              settings.log_dir / "activity.log")


def start_jobs_service(settings: Settings) -> None:
    """The jobs service (workspaces submit and follow blind-mode jobs), an external hub service too."""
    start_process(settings, "jobs", [sys.executable, "-m", "jobs.service"])
    wait_http(f"http://127.0.0.1:{settings.jobs_port}{JOBS_PREFIX}health", 30, "jobs service",
              settings.log_dir / "jobs.log")


def start_packages_service(settings: Settings) -> None:
    """The package index (the wheelhouse for pip in workspaces) and its requests API (packages.service)."""
    start_process(settings, "packages", [sys.executable, "-m", "packages.service"])
    wait_http(f"http://127.0.0.1:{settings.packages_port}{PACKAGES_PREFIX}health", 30, "package index",
              settings.log_dir / "packages.log")


def start_job_runner(settings: Settings) -> None:
    """The job runner (`enclave job runner`): starts queued jobs in sealed containers, checks and delivers them."""
    start_process(settings, JOB_RUNNER, [sys.executable, "-m", "enclave_ops.cli", "job", "runner"])


def status(settings: Settings) -> dict[str, object]:
    """Which enclave processes run (pid or None), how many workspaces and how many jobs' containers."""
    procs = {n: running_pid(settings, n) for n in (*SERVICES, JOB_RUNNER)}
    client = docker.from_env()
    mine = client.containers.list(filters={"label": f"{INSTANCE_LABEL}={settings.instance}"})
    return {"processes": procs, "running": all(procs.values()),
            "workspaces": sum(1 for c in mine if PROJECT_LABEL in c.labels),
            "jobs_running": sum(1 for c in mine if JOB_LABEL in c.labels), "url": f"{settings.public_url}/hub/"}


def stop_process(settings: Settings, name: str, timeout: float = 20) -> bool:
    pid = running_pid(settings, name)
    if not pid:
        _pidfile(settings, name).unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    child = _STARTED.get(name)
    child = child if child is not None and child.pid == pid else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:  # our own child: reaped, or it stays a zombie
            break
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    _pidfile(settings, name).unlink(missing_ok=True)
    return True


def stop_all(settings: Settings, remove_workspaces: bool = True) -> dict[str, object]:
    stopped = [n for n in (JOB_RUNNER, *reversed(SERVICES)) if stop_process(settings, n)]
    removed: list[str] = []
    if remove_workspaces:
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": f"{INSTANCE_LABEL}={settings.instance}"}):
            c.remove(force=True)
            removed.append(c.name)
        for net in client.networks.list(filters={"label": f"{INSTANCE_LABEL}={settings.instance}"}):
            net.remove()
        unmounted = workspace_fs.unmount_all(settings)  # each start mounts its workspace again
        return {"stopped": stopped, "removed_containers": removed, "unmounted_workspaces": unmounted}
    return {"stopped": stopped, "removed_containers": removed}
