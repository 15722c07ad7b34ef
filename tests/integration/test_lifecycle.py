"""Suspending a project or revoking a dataset stops its running workspaces at once."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import docker
from click.testing import CliRunner

from enclave import audit
from enclave.db import session_scope
from enclave.models import ProjectState
from enclave.projects import add_member, approve_dataset, create_project, today, transition
from enclave_ops.cli import main
from tests.integration.conftest import Enclave, run_in

PROJECT = "lifecycle-study"


def cli(*args: str) -> dict:
    res = CliRunner().invoke(main, [*args, "--json"], env={"ENCLAVE_ACTOR": "steward"})
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def running_containers(enclave: Enclave) -> list[str]:
    return [c.name for c in docker.from_env().containers.list(filters={"label": [
        f"org.enclave.project={PROJECT}", f"org.enclave.instance={enclave.settings.instance}"]})]


def test_suspension_and_revocation_stop_workspaces(enclave: Enclave):
    with session_scope() as s:
        create_project(s, "steward", slug=PROJECT, title="Lifecycle", approval_ref="ETH-3", purpose="lifecycle",
                       pi="dave", start=today(), expiry=today() + timedelta(days=10))
        add_member(s, "steward", PROJECT, "alice")
        approve_dataset(s, "steward", PROJECT, "cohort", "v1", {2})
        transition(s, "steward", PROJECT, ProjectState.APPROVED, "ok")
        transition(s, "steward", PROJECT, ProjectState.ACTIVE, "ok")
    alice = enclave.login("alice")
    assert alice.start(PROJECT).status_code in (201, 202)
    assert running_containers(enclave)

    out = cli("project", "revoke-dataset", PROJECT, "cohort", "--reason", "data-sharing agreement ended")
    assert out["stopped_workspaces"] == ["alice"]
    assert not alice.server() and not running_containers(enclave)
    # the next start no longer mounts the revoked dataset
    assert alice.start(PROJECT).status_code in (201, 202)
    listing = enclave.container("alice").exec_run(["ls", "/data"]).output.decode().split()
    assert listing == []

    out = cli("project", "transition", PROJECT, "suspended", "--reason", "annual report overdue")
    assert out["stopped_workspaces"] == ["alice"]
    assert not alice.server() and not running_containers(enclave)
    r = alice.start(PROJECT, wait=False)
    assert r.status_code == 403 and "is suspended" in r.text
    page = alice.http.get(f"{enclave.url}/hub/spawn", timeout=30).content.decode()
    assert "is suspended, not active (annual report overdue)" in page
    with session_scope() as s:
        reasons = [r["details"]["reason"] for r in audit.query(s, project=PROJECT,
                                                                action="workspace.stopped-by-policy")]
    assert reasons == ["dataset cohort@v1 revoked: data-sharing agreement ended",
                       "project suspended: annual report overdue"]


CLOSING = "closing-study"


def test_closing_archives_the_mounted_workspace_and_never_follows_its_links(enclave: Enclave):
    """The workspace's own filesystem is copied into a root-owned read-only archive, then unmounted and
    deleted; a link the researcher left to a host file is left out and the host file keeps its mode."""
    host_file = enclave.settings.home / "host-file.txt"
    host_file.write_text("the host's\n")
    os.chmod(host_file, 0o644)
    with session_scope() as s:
        create_project(s, "steward", slug=CLOSING, title="Closing", approval_ref="ETH-4", purpose="closing",
                       pi="dave", start=today(), expiry=today() + timedelta(days=10))
        add_member(s, "steward", CLOSING, "alice")
        transition(s, "steward", CLOSING, ProjectState.APPROVED, "ok")
        transition(s, "steward", CLOSING, ProjectState.ACTIVE, "ok")
    alice = enclave.login("alice")
    assert alice.start(CLOSING).status_code in (201, 202)
    ws = enclave.settings.workspace_dir(CLOSING)
    assert os.path.ismount(ws)
    made = run_in(enclave.container("alice"), f"""
import json, os
os.makedirs("/workspace/out", exist_ok=True)
open("/workspace/out/table.csv", "w").write("g,n\\na,50\\n")
os.symlink({str(host_file)!r}, "/workspace/out/host-link")
os.mkfifo("/workspace/out/pipe")
# links the workspace holds of itself (the project's Python environment is a venv: its bin/python links)
own = sum(os.path.islink(os.path.join(r, n)) for r, ds, fs in os.walk("/workspace")
          if not r.startswith("/workspace/out") for n in ds + fs)
print(json.dumps([sorted(os.listdir("/workspace/out")), own]))
""")
    assert made[0] == ["host-link", "pipe", "table.csv"]
    own_links = made[1]
    out = cli("project", "transition", CLOSING, "closed", "--reason", "study finished")
    archive = enclave.settings.projects_dir / CLOSING / "archive"
    # the count is what the archive holds: out/table.csv and whatever the lab itself keeps in the workspace
    # (its per-user settings); the link and the pipe are left out, with the links the workspace holds of itself
    kept_files = sum(1 for p in archive.rglob("*") if p.is_file() and p.name != "ARCHIVED.json")  # its record
    assert out["stopped_workspaces"] == ["alice"]
    assert (out["archive"]["files"], out["archive"]["left_out"]) == (kept_files, 2 + own_links) and kept_files >= 1
    assert (archive / "out" / "table.csv").read_text() == "g,n\na,50\n"
    assert sorted(p.name for p in (archive / "out").iterdir()) == ["table.csv"]
    kept = (archive / "out" / "table.csv").stat()
    assert kept.st_uid == 0 and kept.st_mode & 0o222 == 0
    assert oct(host_file.stat().st_mode & 0o777) == oct(0o644)
    assert not ws.exists() and not enclave.settings.workspace_image(CLOSING).exists()
