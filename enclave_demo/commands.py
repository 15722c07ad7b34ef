"""`enclave up`, `down`, `status` and `demo seed`: the demo enclave of `make up`, started by the process
runner instead of systemd, with the demo users, project, dataset and identity provider."""

from __future__ import annotations

from typing import Any

import click

from enclave.db import upgrade
from enclave.settings import get_settings
from enclave_ops.output import emit, json_option
from policies import load_policies

# --- running the enclave -------------------------------------------------------------------------


@click.command()
@click.option("--demo/--no-demo", default=True, help="Create the demo users, project and dataset.")
@json_option
def up(demo: bool, as_json: bool) -> None:
    """Start the enclave (idempotent): migrate, seed the demo, start the IdP, the hub, its services and the job
    runner."""
    from enclave_demo import data as demo_mod
    from enclave_demo.runner import start_all

    settings = get_settings()
    policies = load_policies(settings.policy_dir)
    upgrade()
    seeded = demo_mod.seed(settings, policies) if demo else None
    start_all(settings, demo_mod.write_idp_config(settings))
    logins = demo_mod.demo_logins(settings) if demo else {}
    roles = {u["username"]: u["groups"][0] for u in demo_mod.DEMO_USERS}
    data = {"url": f"{settings.public_url}/hub/", "idp": settings.idp_url, "demo": seeded,
            "logins": [{"username": u, "password": p, "role": roles.get(u, "")} for u, p in logins.items()]}

    def human(d: dict[str, Any]) -> str:
        lines = [f"Enclave is running: {d['url']}"]
        if d["logins"]:
            lines.append("Demo logins (username / password / role):")
            lines += [f"  {x['username']:8} {x['password']:14} {x['role']}" for x in d["logins"]]
        return "\n".join(lines)

    emit(data, as_json, human)


@click.command()
@json_option
def down(as_json: bool) -> None:
    """Stop the job runner, hub, services, proxy and IdP, and remove workspace and job containers and project
    networks."""
    from enclave_demo.runner import stop_all

    emit(stop_all(get_settings()), as_json, lambda d: f"stopped: {', '.join(d['stopped']) or 'nothing running'}")


@click.command("status")
@json_option
def status_cmd(as_json: bool) -> None:
    """Which enclave processes are running (the jobs service and job runner among them), how many workspaces
    and jobs."""
    from enclave_demo.runner import status

    emit(status(get_settings()), as_json, lambda d: "\n".join(
        [f"{n:14} " + (f"running (pid {p})" if p else "stopped") for n, p in d["processes"].items()]
        + [f"workspaces     {d['workspaces']}", f"jobs running   {d['jobs_running']}"]))


@click.group("demo")
def demo_group() -> None:
    """Demo data."""


@demo_group.command("seed")
@json_option
def demo_seed(as_json: bool) -> None:
    """Create the demo users, project and synthetic dataset (idempotent)."""
    from enclave_demo import data as demo_mod

    settings = get_settings()
    upgrade()
    emit(demo_mod.seed(settings, load_policies(settings.policy_dir)), as_json)


COMMANDS = (up, down, status_cmd, demo_group)
