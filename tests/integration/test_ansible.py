"""The Ansible project against this machine (connection local), as an admin would run it.

A separate enclave instance (own home, ports and name) is provisioned by `site.yml` and
`projects.yml`: check mode first (its predicted changes must be the real ones), then for real, then
again (zero changes). A project made by Ansible then starts a real workspace. Bad inventory values
fail before anything changes; the restore drill passes, and fails loudly on a corrupted backup.

On a host without systemd the role puts the daily jobs in root's crontab, named for the instance. The
test owns only those entries: it removes them when it ends (pass or fail) and checks that root's crontab
is then exactly as it found it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from enclave.settings import REPO_ROOT

ANSIBLE = REPO_ROOT / "ansible"
BIN = REPO_ROOT / ".venv" / "bin"
HOME = Path("/tmp/enclave-ansible-it")
VARS = {"enclave_home": str(HOME / "home"), "enclave_instance": "enclaveansible",
        "enclave_ports": {"public": 38000, "hub_api": 38081, "idp": 39000, "proxy_api": 38001, "egress": 38082,
                          "jobs": 38084, "packages": 38085, "activity": 38086},
        "enclave_backup_dir": str(HOME / "backups")}
ENV = {"ENCLAVE_HOME": VARS["enclave_home"], "ENCLAVE_INSTANCE": "enclaveansible", "ENCLAVE_PUBLIC_PORT": "38000",
       "ENCLAVE_HUB_API_PORT": "38081", "ENCLAVE_IDP_PORT": "39000", "ENCLAVE_PROXY_API_PORT": "38001",
       "ENCLAVE_EGRESS_PORT": "38082", "ENCLAVE_JOBS_PORT": "38084", "ENCLAVE_PACKAGES_PORT": "38085",
       "ENCLAVE_ACTIVITY_PORT": "38086",
       "ENCLAVE_POLICY_DIR": str(HOME / "home" / "policies")}


INSTANCE = VARS["enclave_instance"]
JOBS = yaml.safe_load((ANSIBLE / "roles" / "enclave_common" / "defaults" / "main.yml").read_text())[
    "enclave_daily_jobs"]


def crontab() -> str:
    """Root's crontab as `crontab -l` prints it ("" when root has none)."""
    res = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else ""


def our_cron_markers() -> set[str]:
    """The markers the cron module writes for this instance's daily jobs (`#Ansible: <name>`)."""
    return {f"#Ansible: enclave {job['name']} {INSTANCE}" for job in JOBS}


def remove_our_cron_entries() -> None:
    """Drops this instance's entries (each marker and the job line after it) and nothing else."""
    lines, kept, skip = crontab().splitlines(keepends=True), [], False
    markers = our_cron_markers()
    for line in lines:
        if skip:
            skip = False
        elif line.rstrip("\n") in markers:
            skip = True
        else:
            kept.append(line)
    if kept != lines:
        subprocess.run(["crontab", "-"], input="".join(kept), text=True, check=True)


def playbook(name: str, *args: str, extra: dict | None = None, ok: bool = True) -> tuple[list[str], str]:
    """Runs a playbook; returns the changed (task, item) lines and the whole output."""
    vars_file = HOME / "vars.json"
    vars_file.write_text(json.dumps({**VARS, **(extra or {})}))
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    env.pop("ENCLAVE_HOME", None)
    res = subprocess.run([str(BIN / "ansible-playbook"), name, "-e", f"@{vars_file}", *args], cwd=ANSIBLE,
                         capture_output=True, text=True, env=env, timeout=900)
    out = res.stdout + res.stderr
    assert (res.returncode == 0) == ok, out[-4000:]
    changed, task = [], ""
    for line in out.splitlines():
        m = re.match(r"TASK \[(.*)\]", line)
        if m:
            task = m.group(1)
        elif line.startswith("changed:"):
            changed.append(f"{task} {line.split('=>', 1)[1].strip() if '=>' in line else ''}".strip())
    return changed, out


def cli(*args: str) -> dict:
    res = subprocess.run([str(BIN / "enclave"), *args, "--json"], capture_output=True, text=True,
                         env={**os.environ, **ENV}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def provisioned() -> Iterator[dict[str, list[str]]]:
    subprocess.run([str(BIN / "enclave"), "down"], env={**os.environ, **ENV}, capture_output=True)
    remove_our_cron_entries()  # left by a run that was killed before its teardown
    found = crontab()
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    runs: dict[str, list[str]] = {}
    try:
        runs["site_check"], _ = playbook("site.yml", "--check", "--diff")
        runs["site"], _ = playbook("site.yml")
        runs["site_again"], _ = playbook("site.yml")
        runs["projects_check"], runs["projects_diff"] = playbook("projects.yml", "--check", "--diff")
        runs["projects"], _ = playbook("projects.yml")
        runs["projects_again"], _ = playbook("projects.yml")
        yield runs
    finally:
        subprocess.run([str(BIN / "enclave"), "down"], env={**os.environ, **ENV}, capture_output=True)
        remove_our_cron_entries()
        left = crontab()
        assert left == found, f"root's crontab after the test differs from before it:\n{left}"


def test_the_daily_jobs_are_in_roots_crontab_under_the_instance_name(provisioned):
    """Without systemd (a container, this test host) cron runs the daily jobs, each once, for this instance."""
    if Path("/proc/1/comm").read_text().strip() == "systemd":
        pytest.skip("systemd is PID 1: the role installs timers, not crontab entries")
    lines = crontab().splitlines()
    for job in JOBS:
        marker = f"#Ansible: enclave {job['name']} {INSTANCE}"
        assert lines.count(marker) == 1, crontab()
        entry = lines[lines.index(marker) + 1]
        assert entry.startswith(f"{job['minute']} {job['hour']} * * * "), entry
        assert f". {HOME / 'home'}/enclave.env" in entry and f"enclave {job['command']} --json" in entry, entry


def test_check_mode_predicts_the_real_changes_and_a_second_run_changes_nothing(provisioned):
    r = provisioned
    # the fresh home: folders, policies, env file, services, backup schedule (packages and software are there)
    assert any("Policies from the inventory" in c for c in r["site"])
    assert any("Services running" in c for c in r["site"])
    assert r["site_check"] == r["site"]
    assert r["site_again"] == []
    assert r["projects_check"] == r["projects"] and any("heart-study" in c for c in r["projects"])
    assert r["projects_again"] == []
    # --diff shows the project as it will be: a new project, so before is empty and after is active
    assert re.search(r'^\+\s+"state": "active"', r["projects_diff"], re.MULTILINE), r["projects_diff"][-3000:]
    assert re.search(r'^\+\s+"title": "', r["projects_diff"], re.MULTILINE), r["projects_diff"][-3000:]


def test_a_project_made_by_ansible_starts_a_workspace(provisioned):
    from enclave.settings import load_settings
    from enclave_demo.harness import Enclave, HubSession

    p = cli("project", "show", "heart-study")
    assert p["state"] == "active" and p["datasets"] == ["cohort@v1"]
    assert {m["user"] for m in p["members"]} == {"alice", "dave"} and p["limits"]["mem"] == "2G"
    saved = dict(os.environ)
    os.environ.update(ENV)
    try:
        settings = load_settings()
        logins = json.loads((settings.secrets_dir / "demo-logins.json").read_text())
        alice = HubSession(Enclave(settings, logins), "alice")
        r = alice.start("heart-study")
        assert r.status_code in (201, 202), r.text
        assert alice.server()["ready"]
        alice.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)


BAD = [
    ({"datasets": ["nosuch@v9"]}, "unknown dataset 'nosuch@v9'"),
    ({"members": [{"user": "ghost", "role": "researcher"}]}, "member 'ghost' has no account"),
    ({"expiry": "2020-01-01"}, "expiry 2020-01-01 is in the past"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_inventory_values_fail_before_anything_changes(provisioned, change, message):
    before = (cli("project", "list"), cli("audit", "query", "--limit", "100000"))
    project = {"slug": "bad-study", "title": "Bad", "approval_ref": "E-1", "purpose": "p", "pi": "alice",
               "expiry": "2030-01-01", **change}
    good = {"slug": "later-study", "title": "Later", "approval_ref": "E-2", "purpose": "p", "pi": "alice",
            "expiry": "2030-01-01"}
    _changed, out = playbook("projects.yml", extra={"enclave_projects": [good, project]}, ok=False)
    assert message in out and "nothing was changed" in out
    assert (cli("project", "list"), cli("audit", "query", "--limit", "100000")) == before


def test_restore_drill_passes_and_fails_loudly_on_a_corrupted_backup(provisioned):
    _c, out = playbook("restore.yml")
    assert "restore drill OK" in out and "audit records verified" in out
    _c, out = playbook("backup.yml", extra={"enclave_backup_path": str(HOME / "backups" / "drill-source")})
    store = HOME / "backups" / "drill-source" / "secrets" / "audit.key"
    os.chmod(store, 0o600)
    store.write_text("not the key")
    _c, out = playbook("restore.yml", extra={"enclave_restore_from": str(HOME / "backups" / "drill-source")},
                       ok=False)
    assert "restore drill FAILED" in out and "secrets/audit.key" in out and "corrupted" in out


def test_ansible_lint_passes():
    res = subprocess.run([str(BIN / "ansible-lint"), "--offline", "-q"], cwd=ANSIBLE, capture_output=True,
                         text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
