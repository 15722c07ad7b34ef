"""The daily jobs (enclave_daily_jobs): the README's promised jobs, each a real CLI command, rendered into
the systemd unit and timer the enclave_host role installs, and into the crontab line used without systemd."""

from __future__ import annotations

import configparser

import jinja2
import pytest
import yaml
from click.testing import CliRunner

from enclave.settings import REPO_ROOT
from enclave_ops.cli import main

ROLES = REPO_ROOT / "ansible" / "roles"
JOBS = yaml.safe_load((ROLES / "enclave_common" / "defaults" / "main.yml").read_text())["enclave_daily_jobs"]
HOST_VARS = {"ansible_managed": "Ansible managed", "enclave_home": "/var/lib/enclave",
             "enclave_config_dir": "/etc/enclave", "enclave_bin": "/opt/enclave/.venv/bin/enclave",
             "enclave_postgres_local": False, "enclave_drill_database": "enclave_drill"}


def _render(name: str, job: dict, **host: object) -> configparser.ConfigParser:
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (ROLES / "enclave_host" / "templates" / name).read_text())
    unit = configparser.ConfigParser(interpolation=None, strict=False)  # ExecStartPre may repeat
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(template.render(item=job, **{**HOST_VARS, **host}))
    return unit


def test_the_jobs_the_readme_promises_are_scheduled_daily():
    commands = {j["command"] for j in JOBS}
    assert {"project expire-due", "project purge-archives", "backup create", "backup drill"} == commands
    assert len({j["name"] for j in JOBS}) == len(JOBS)
    backup, drill = (next(j for j in JOBS if j["command"] == c) for c in ("backup create", "backup drill"))
    assert (backup["hour"], backup["minute"]) < (drill["hour"], drill["minute"])  # the drill restores last night's


@pytest.mark.parametrize("job", JOBS, ids=[j["name"] for j in JOBS])
def test_each_job_is_a_cli_command(job: dict):
    res = CliRunner().invoke(main, [*job["command"].split(), "--help"])
    assert res.exit_code == 0, res.output
    assert "--json" in res.output


@pytest.mark.parametrize("job", JOBS, ids=[j["name"] for j in JOBS])
def test_each_job_renders_into_a_oneshot_unit_and_a_persistent_daily_timer(job: dict):
    service = _render("enclave-job.service.j2", job)
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["EnvironmentFile"] == "/etc/enclave/enclave.env"
    assert service["Service"]["StandardOutput"] == "journal"
    assert service["Service"]["ExecStart"] == (f"/usr/bin/env ENCLAVE_ACTOR=timer:{job['name']} "
                                               f"/opt/enclave/.venv/bin/enclave {job['command']} --json")
    timer = _render("enclave-job.timer.j2", job)
    assert timer["Timer"]["OnCalendar"] == f"*-*-* {job['hour']:02d}:{job['minute']:02d}:00"
    assert timer["Timer"]["Persistent"] == "true" and timer["Timer"]["Unit"] == f"enclave-{job['name']}.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_a_drill_on_a_local_postgresql_server_restores_into_an_emptied_scratch_database():
    drill = next(j for j in JOBS if j["command"] == "backup drill")
    text = (ROLES / "enclave_host" / "templates" / "enclave-job.service.j2").read_text()
    rendered = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render(
        item=drill, **{**HOST_VARS, "enclave_postgres_local": True})
    assert "Environment=ENCLAVE_RESTORE_DB_URL=postgresql+psycopg://root@/enclave_drill?host=/var/run/postgresql" \
        in rendered
    pre = [line for line in rendered.splitlines() if line.startswith("ExecStartPre=")]
    assert pre == ["ExecStartPre=/usr/sbin/runuser -u postgres -- dropdb --if-exists --force enclave_drill",
                   "ExecStartPre=/usr/sbin/runuser -u postgres -- createdb --owner root enclave_drill"]
    backup = next(j for j in JOBS if j["command"] == "backup create")
    assert "ExecStartPre" not in _render("enclave-job.service.j2", backup, enclave_postgres_local=True)["Service"]


def test_the_role_installs_every_job_as_timer_on_systemd_and_as_crontab_entry_elsewhere():
    tasks = yaml.safe_load((ROLES / "enclave_host" / "tasks" / "main.yml").read_text())
    by_module = {}
    for t in tasks:
        module = next(k for k in t if k.startswith("ansible.builtin.") or k.startswith("enclave_"))
        by_module.setdefault(module, []).append(t)
    timers = [t for t in by_module["ansible.builtin.template"] if "enclave-job" in t["ansible.builtin.template"]["src"]]
    assert {t["ansible.builtin.template"]["src"] for t in timers} == {"enclave-job.service.j2", "enclave-job.timer.j2"}
    assert all(t["loop"] == "{{ enclave_daily_jobs }}" and t["when"] == 'ansible_service_mgr == "systemd"'
               for t in timers)
    crons = by_module["ansible.builtin.cron"]
    assert {(c["ansible.builtin.cron"].get("state", "present"), c["when"]) for c in crons} == {
        ("absent", 'ansible_service_mgr == "systemd"'), ("present", 'ansible_service_mgr != "systemd"')}
    packages = next(t for t in tasks if "ansible.builtin.apt" in t)["ansible.builtin.apt"]["name"]
    script = (REPO_ROOT / "scripts" / "install_system.sh").read_text()
    assert "restic" in packages and " restic;" in script  # the two lists kept in step
