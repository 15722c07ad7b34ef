"""Blind mode end to end on real Docker: a tier-3 dataset, a blind project, jobs on the real rows.

The workspace container here is started from the plan the spawner uses (`workspace_mode`, `data_mounts`,
`hardened_host_config`) with the workspace image, without the hub, so the proof is about what the
container holds; the job runner is the real one, with real containers, checks and delivery.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import docker
import polars as pl
import pytest
import yaml

from enclave import db
from enclave.models import Accreditation, JobRelease, JobState, ProjectState, WorkMode
from enclave.settings import REPO_ROOT, SYNTHETIC_NOTICE, WORKSPACE_JOBS, get_settings

SLUG = "blind-study"
pytestmark = pytest.mark.integration

AGGREGATE = """
import polars as pl, pathlib
df = pl.read_parquet("/data/cohort/cohort.parquet")
out = df.group_by("region").agg(pl.len().alias("patients")).sort("region")
pathlib.Path("results").mkdir(exist_ok=True)
out.write_csv("results/by_region.csv")
print("regions:", out.height)
"""
LEAK = """
import polars as pl
df = pl.read_parquet("/data/cohort/cohort.parquet")
for row in df.head(30).iter_rows():
    print(*row)
"""
NETWORK = """
import socket
socket.create_connection(("10.0.0.1", 80), timeout=3)
"""
OUTSIDE = """
open("/workspace/analysis/sneaky.txt", "w").write("x")
"""
SMALL = """
import pathlib
pathlib.Path("results").mkdir(exist_ok=True)
pathlib.Path("results/note.txt").write_text("three patients had C34.\\n")
"""
MEMORY = """
blocks = []
while True:
    blocks.append(bytearray(32 * 1024 * 1024))
"""


def _reset() -> None:
    get_settings.cache_clear()
    for engine in list(db._ENGINES.values()):
        engine.dispose()
    db._ENGINES.clear()


def _seed_blind_project(settings, policies, dataset: str = "cohort") -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """rose (researcher, accredited for tier 3), oscar (output checker) and the blind project holding a tier-3
    cohort (as `dataset`) ingested with its dummy version; returns the real rows."""
    from datasets_mount.ingest import ingest
    from datasets_mount.synthetic import write_cohort
    from enclave.db import session_scope
    from enclave.projects import approve_dataset, create_project, today, transition, upsert_user

    src = settings.home / "import" / "cohort"
    write_cohort(src, rows=2000, seed=5)
    real = pl.read_parquet(src / "cohort.parquet")  # read before ingestion takes the file in
    with session_scope() as s:
        upsert_user(s, "test", "rose", roles=["researcher"])
        s.add(Accreditation(username="rose", level=3, training_completed=today(), expires=today() + timedelta(days=90)))
        upsert_user(s, "test", "oscar", roles=["reviewer"])
        create_project(s, "test", slug=SLUG, title="Blind study", approval_ref="ETH-9", purpose="jobs", pi="rose",
                       start=today(), expiry=today() + timedelta(days=30))
        transition(s, "test", SLUG, ProjectState.APPROVED, "ok")
        ingest(s, "test", settings, policies, src, name=dataset, version="v1", tier=3,
               quasi=["sex", "region"])
        approve_dataset(s, "test", SLUG, dataset, "v1", {0, 1, 2, 3})
        transition(s, "test", SLUG, ProjectState.ACTIVE, "ok")
    return real


@pytest.fixture(scope="module")
def blind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """An enclave home with a blind tier-3 project, its workspace mounted and analysis code written."""
    from enclave.workspace_fs import ensure_workspace, release_workspace
    from policies import load_policies

    base = tmp_path_factory.mktemp("blind")
    home, policy_dir = base / "home", base / "policies"
    shutil.copytree(REPO_ROOT / "policies", policy_dir)
    ws = yaml.safe_load((policy_dir / "workspace.yaml").read_text())
    ws["jobs"].update({"wall_seconds": 20, "max_running": 2, "max_running_per_project": 2,
                       "limits": {"cpu_limit": 1.0, "mem_limit": "256M", "pids_limit": 128}})
    (policy_dir / "workspace.yaml").write_text(yaml.safe_dump(ws))
    saved = {k: os.environ.get(k) for k in ("ENCLAVE_HOME", "ENCLAVE_DB_URL", "ENCLAVE_POLICY_DIR",
                                            "ENCLAVE_INSTANCE")}
    os.environ.update({"ENCLAVE_HOME": str(home), "ENCLAVE_DB_URL": f"sqlite:///{home / 'enclave.sqlite'}",
                       "ENCLAVE_POLICY_DIR": str(policy_dir), "ENCLAVE_INSTANCE": "enclaveblind"})
    _reset()
    db.upgrade()
    settings, policies = get_settings(), load_policies(policy_dir)
    real = _seed_blind_project(settings, policies)
    workspace = ensure_workspace(settings, SLUG, 256 * 1024**2)
    code = workspace / "analysis"
    code.mkdir()
    for name, text in {"main.py": AGGREGATE, "leak.py": LEAK, "net.py": NETWORK, "outside.py": OUTSIDE,
                       "small.py": SMALL, "memory.py": MEMORY}.items():
        (code / name).write_text(text)
    os.chown(code, 1000, 1000)
    try:
        yield {"settings": settings, "policies": policies, "real": real, "workspace": workspace}
    finally:
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": "org.enclave.instance=enclaveblind"}):
            c.remove(force=True)
        release_workspace(settings, SLUG)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset()


def _submit(blind: dict[str, object], command: str, outputs: str = "results") -> int:
    from enclave.db import session_scope
    from jobs.workflow import submit

    with session_scope() as s:
        return submit(s, blind["settings"], blind["policies"], "rose", SLUG, command,  # type: ignore[arg-type]
                      outputs=outputs).id


def _job(job_id: int):  # type: ignore[no-untyped-def]
    from enclave.db import session_scope
    from jobs.workflow import get_job

    with session_scope() as s:
        return get_job(s, job_id)


def _runner(blind: dict[str, object]):  # type: ignore[no-untyped-def]
    from jobs.runner import Runner

    return Runner(blind["settings"], blind["policies"])  # type: ignore[arg-type]


def test_blind_workspace_holds_only_dummy_rows_and_the_notice(blind: dict[str, object]) -> None:
    """From inside a container built from the spawner's plan: /data is the dummy, no real id anywhere."""
    from datasets_mount.mounts import data_mounts
    from enclave.containers import CONTAINER_USER, hardened_host_config, home_tmpfs, scratch_tmpfs
    from enclave.db import session_scope
    from enclave.modes import workspace_mode
    from enclave.projects import active_datasets, get_project

    settings, policies, real = blind["settings"], blind["policies"], blind["real"]
    with session_scope() as s:
        project = get_project(s, SLUG)
        mode = workspace_mode(policies, project)  # type: ignore[arg-type]
        mounts = data_mounts(settings, active_datasets(project), mode)  # type: ignore[arg-type]
        real_location = active_datasets(project)[0].location
    assert mode == WorkMode.BLIND
    assert all(not str(m.host).startswith(real_location) for m in mounts)
    limits = policies.workspace.defaults  # type: ignore[attr-defined]
    volumes = dict(m.docker_volume() for m in mounts)
    volumes[str(blind["workspace"])] = {"bind": "/workspace", "mode": "rw"}
    probe = ("import polars as pl, pathlib, sys\n"
             "ids = set(sys.argv[1].split(','))\n"
             "seen = pl.read_parquet('/data/cohort/cohort.parquet')\n"
             "print('columns', ','.join(seen.columns))\n"
             "print('rows', seen.height)\n"
             "print('real ids seen', len(ids & set(seen['study_id'].to_list())))\n"
             "hits = 0\n"
             "for root in ('/data', '/workspace', '/srv', '/tmp', '/home', '/etc', '/mnt', '/media', '/run'):\n"
             "    for p in pathlib.Path(root).rglob('*'):\n"
             "        try:\n"
             "            b = p.read_bytes() if p.is_file() else b''\n"
             "        except OSError:\n"
             "            continue\n"
             "        hits += sum(1 for i in list(ids)[:200] if i.encode() in b)\n"
             "print('real ids in files', hits)\n"
             f"print('real mounted', {str(Path(real_location).relative_to(settings.home))!r} in "
             "open('/proc/self/mountinfo').read())\n"
             f"print('notice', pathlib.Path('/srv/enclave/{SYNTHETIC_NOTICE}').exists(), "
             f"pathlib.Path('/data/cohort/{SYNTHETIC_NOTICE}').exists())\n")
    ids = ",".join(real["study_id"].to_list()[:200])  # type: ignore[index]
    out = docker.from_env().containers.run(
        settings.image, ["python", "-c", probe, ids], remove=True, user=CONTAINER_USER,  # type: ignore[attr-defined]
        volumes=volumes, network_mode="none", labels={"org.enclave.instance": "enclaveblind"},
        **hardened_host_config(limits, {"/tmp": scratch_tmpfs("64M"), "/home/researcher": home_tmpfs("64M")}),
    ).decode()
    assert f"columns {','.join(real.columns)}" in out  # type: ignore[attr-defined]
    assert "real ids seen 0" in out and "real ids in files 0" in out
    assert "notice True True" in out and "real mounted False" in out


def test_jobs_run_on_real_rows_and_only_checked_outputs_come_back(blind: dict[str, object]) -> None:
    real = blind["real"]
    ok = _submit(blind, "python analysis/main.py")
    leak = _submit(blind, "python analysis/leak.py")
    net = _submit(blind, "python analysis/net.py")
    outside = _submit(blind, "python analysis/outside.py")
    memory = _submit(blind, "python analysis/memory.py")
    small = _submit(blind, "python analysis/small.py")
    wall = _submit(blind, "sleep 60")
    _runner(blind).run_until_idle(240)
    jobs_dir = Path(blind["workspace"]) / WORKSPACE_JOBS  # type: ignore[arg-type]

    good = _job(ok)
    assert good.state == JobState.FINISHED and good.exit_code == 0 and good.release == JobRelease.DELIVERED
    table = pl.read_csv(jobs_dir / str(ok) / "results" / "by_region.csv")
    expected = real.group_by("region").agg(pl.len().alias("patients")).sort("region")  # type: ignore[attr-defined]
    assert table.sort("region")["patients"].to_list() == expected["patients"].to_list()  # the real rows' counts
    status = json.loads((jobs_dir / str(ok) / "job.json").read_text())
    assert status["code_sha256"] == good.code_sha256 and status["image_digest"] and status["datasets"]["cohort"]
    assert os.stat(jobs_dir / str(ok)).st_uid == 0 and not os.stat(jobs_dir / str(ok)).st_mode & 0o222

    held = _job(leak)
    assert held.release in (JobRelease.HELD, JobRelease.BLOCKED) and held.outputs["log.txt"]["kinds"]
    assert not (jobs_dir / str(leak) / "log.txt").exists()
    shown = (jobs_dir / str(leak) / "job.json").read_text()
    assert not any(i in shown for i in real["study_id"].to_list()[:30])  # type: ignore[index]

    assert _job(net).exit_code != 0 and "unreachable" in (jobs_dir / str(net) / "log.txt").read_text().lower()
    assert "read-only file system" in (jobs_dir / str(outside) / "log.txt").read_text().lower()
    assert _job(memory).state == JobState.FAILED and "memory limit" in _job(memory).reason
    assert _job(wall).state == JobState.FAILED and "wall-time limit" in _job(wall).reason

    # a count in prose goes to review: held, then one output checker releases it into the workspace
    assert _job(small).release == JobRelease.HELD and not (jobs_dir / str(small) / "results").exists()
    from enclave.db import session_scope
    from jobs.workflow import release

    with session_scope() as s:
        release(s, "oscar", small, release_it=True, reason="3 patients with C34 is a published national figure")
    _runner(blind).deliver_again(small)
    assert (jobs_dir / str(small) / "results" / "note.txt").exists()
    assert json.loads((jobs_dir / str(small) / "job.json").read_text())["release"] == "released"


def test_a_runner_restart_during_a_job_loses_nothing(blind: dict[str, object]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    job_id = _submit(blind, "sleep 4 && python analysis/main.py")
    runner = subprocess.Popen([sys.executable, "-m", "enclave_ops.cli", "job", "runner"], env=env,
                              start_new_session=True)
    try:
        for _ in range(240):  # until the container itself runs (before that, a kill is an interrupted job)
            name = _job(job_id).container
            with contextlib.suppress(docker.errors.NotFound):
                if name and docker.from_env().containers.get(name).status == "running":
                    break
            time.sleep(0.25)
        assert _job(job_id).state == JobState.RUNNING
    finally:
        os.killpg(runner.pid, signal.SIGKILL)  # the service dies mid-job
        runner.wait()
    _runner(blind).run_until_idle(120)  # a new runner adopts the job and finishes it
    done = _job(job_id)
    assert done.state == JobState.FINISHED and done.exit_code == 0 and done.release == JobRelease.DELIVERED

    lost = _submit(blind, "sleep 30")
    r = _runner(blind)
    with r.exclusive():
        r.tick()
    docker.from_env().containers.get(_job(lost).container).remove(force=True)  # lost while nobody watched
    r.run_until_idle(60)
    assert _job(lost).state == JobState.INTERRUPTED and "run it again" in _job(lost).reason


def test_a_cancelled_running_job_is_stopped_and_nothing_of_it_is_kept(blind: dict[str, object]) -> None:
    from enclave.db import session_scope
    from jobs.workflow import cancel

    job_id = _submit(blind, "sleep 30")
    r = _runner(blind)
    with r.exclusive():
        r.tick()
        name = _job(job_id).container
        assert docker.from_env().containers.get(name).status == "running"
        with session_scope() as s:
            cancel(s, "rose", job_id, "wrong cohort")
        r.tick()
    assert not docker.from_env().containers.list(all=True, filters={"name": name})
    done = _job(job_id)
    assert done.state == JobState.CANCELLED and done.outputs == {} and done.exit_code is None


def _probe_log(blind: dict[str, object], job_id: int) -> dict[str, object]:
    """The probe's JSON line from the job's checked log as the runner stored it (read here as the operator,
    whatever the checks decided about showing it to the researcher)."""
    from jobs.files import read_blob
    from jobs.results import LOG_NAME

    job = _job(job_id)
    log = read_blob(blind["settings"].jobs_store, job.outputs[LOG_NAME]["sha256"]).decode()  # type: ignore[attr-defined]
    assert "{" in log, (job.state, job.reason, log)
    return json.JSONDecoder().raw_decode(log[log.index("{"):])[0]  # the checked form may lay the JSON out anew


def test_the_hostile_workspace_probes_fail_inside_a_job_container_too(blind: dict[str, object]) -> None:
    """The job container is as hard as a workspace: pid limit, no privilege, and sealed (no network but
    loopback, no credential, no engine socket, no capability, read-only system, code and data)."""
    from tests.integration.probes import FORK_BOMB, PRIVILEGE, SEALED

    code = Path(blind["workspace"]) / "analysis"  # type: ignore[arg-type]
    for name, text in {"fork.py": FORK_BOMB, "privilege.py": PRIVILEGE, "sealed.py": SEALED}.items():
        (code / name).write_text(text)
    fork = _submit(blind, "python analysis/fork.py")
    privilege = _submit(blind, "mkdir -p results && PROBE_DIR=results python analysis/privilege.py")
    sealed = _submit(blind, "python analysis/sealed.py")
    _runner(blind).run_until_idle(180)

    pids_limit = blind["policies"].workspace.jobs.limits.pids_limit  # type: ignore[attr-defined]
    r = _probe_log(blind, fork)
    assert r["stopped_by"] == "EAGAIN" and r["forked"] < pids_limit, r  # type: ignore[operator]
    r = _probe_log(blind, privilege)
    for key in ("setuid0", "userns", "mountns", "mount", "raw_socket", "chown_root"):
        assert r[key] in ("EPERM", "EACCES", "EINVAL", "EROFS"), (key, r[key])
    assert r["no_new_privs"] == ["1"] and r["setid_programs"] == [], r
    assert r["uid"] != 0 and r["own_suid_file_owner"] == r["uid"], r
    r = _probe_log(blind, sealed)
    assert r["interfaces"] == ["lo"], r
    assert r["secret_env"] == [] and r["engine_sockets"] == [], r
    assert r["capabilities"] == ["0000000000000000"], r
    assert all(v != "ALLOWED" for v in r["write"].values()), r  # type: ignore[union-attr]
    assert r["datasets"] == ["cohort"], r
    assert all(m == "/workspace" or m.startswith(("/workspace/results", "/data/cohort"))
               for m in r["mounts"]), r  # type: ignore[union-attr]


# A whole enclave of its own (hub, services, the job runner `make up` starts) for the workspace's own client.
HUB_DATASET = "cohort3"  # the demo seed has its own "cohort"
HUB_PORTS = {"ENCLAVE_PUBLIC_PORT": "58000", "ENCLAVE_HUB_API_PORT": "58081", "ENCLAVE_IDP_PORT": "59000",
             "ENCLAVE_PROXY_API_PORT": "58001", "ENCLAVE_EGRESS_PORT": "58082", "ENCLAVE_GOVERNANCE_PORT": "58083",
             "ENCLAVE_JOBS_PORT": "58084", "ENCLAVE_PACKAGES_PORT": "58085",
             "ENCLAVE_ACTIVITY_PORT": "58086"}
ROSE = {"username": "rose", "name": "Rose Li 李玫", "groups": ["researcher"], "password": "rose-it-pw"}
NOTEBOOK = """
import json, enclave_job
s = enclave_job.submit(run="python analysis/main.py")
listed = [j["id"] for j in enclave_job.jobs()]
print(json.dumps({"id": s["id"], "repr": repr(s), "html": s._repr_html_(), "jobs": listed}))
"""


def _exec(container, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """A command in the workspace as its own user (the container's environment: the jobs URL, its token)."""
    res = container.exec_run(list(argv), demux=True)
    out, err = res.output
    return res.exit_code, (out or b"").decode(), (err or b"").decode()


def _until_back(container, job_id: int, logs: Path, timeout: float = 150) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """`enclave-job show` from inside the workspace until the job has ended and its checks have spoken."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, out, err = _exec(container, "enclave-job", "--json", "show", str(job_id))
        assert code == 0, err
        view = json.loads(out)
        if view["state"] not in ("queued", "running") and view["release"] != "pending":
            return view  # type: ignore[no-any-return]
        time.sleep(1)
    tails = {n: (logs / f"{n}.log").read_text(errors="replace")[-2000:] for n in ("job-runner", "jobs")
             if (logs / f"{n}.log").exists()}
    raise AssertionError(f"job {job_id} not back after {timeout:.0f}s: {view}; {tails}")


def test_a_researcher_submits_from_her_workspace_and_the_checked_output_comes_back(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Through the hub, the spawner, the gateway redirect, the jobs service and the runner `make up` starts:
    `enclave-job submit` in her workspace queues the job, the real rows' aggregate appears in
    /workspace/jobs/<id>/, and `enclave_job.submit` in Python answers with its readable summary."""
    from enclave_demo.harness import instance

    seeded: dict[str, pl.DataFrame] = {}

    def setup(settings, policies) -> None:  # type: ignore[no-untyped-def]
        seeded["real"] = _seed_blind_project(settings, policies, HUB_DATASET)

    home = tmp_path_factory.mktemp("blind-hub")
    with instance(home, name="enclaveblindhub", ports=HUB_PORTS, setup=setup, extra_users=[ROSE]) as enclave:
        rose = enclave.login("rose")
        started = rose.start(SLUG)
        assert started.status_code in (201, 202), started.text
        try:
            ws = enclave.container("rose")
            code, _, err = _exec(ws, "python", "-c", "import pathlib, sys; p = pathlib.Path('/workspace/analysis'); "
                                 "p.mkdir(exist_ok=True); (p / 'main.py').write_text(sys.argv[1])",
                                 AGGREGATE.replace("/data/cohort/", f"/data/{HUB_DATASET}/"))
            assert code == 0, err

            code, out, err = _exec(ws, "enclave-job", "submit", "--run", "python analysis/main.py",
                                   "--outputs", "results/")
            assert code == 0, err
            found = re.search(r"^Job (\d+)", out, re.M)
            assert found and "queued" in out, out
            job_id = int(found.group(1))
            view = _until_back(ws, job_id, enclave.settings.log_dir)
            assert (view["state"], view["exit_code"], view["release"]) == ("finished", 0, "delivered"), view
            assert view["project"] == SLUG and view["submitter"] == "rose"
            code, table, err = _exec(ws, "cat", f"/workspace/jobs/{job_id}/results/by_region.csv")
            assert code == 0, err
            expected = seeded["real"].group_by("region").agg(pl.len().alias("patients")).sort("region")
            got = pl.read_csv(table.encode()).sort("region")
            assert got["patients"].to_list() == expected["patients"].to_list()  # the real rows, not the dummy

            code, out, err = _exec(ws, "enclave-job", "submit", "--run", "true", "--outputs", "jobs")
            assert code == 2 and "Traceback" not in err and err.startswith("enclave-job: --outputs 'jobs'"), err

            code, out, err = _exec(ws, "python", "-c", NOTEBOOK)
            assert code == 0, err
            nb = json.loads(out)
            assert nb["repr"].startswith(f"Job {nb['id']}\n") and "queued" in nb["repr"]
            assert 'class="enclave-job-summary"' in nb["html"] and set(nb["jobs"]) >= {job_id, nb["id"]}
            assert _until_back(ws, nb["id"], enclave.settings.log_dir)["release"] == "delivered"  # nothing left running

            # JupyterLab's "Submit job" button: the page calls its own server's /enclave/jobs (XSRF as Lab does)
            assert rose.open_lab().status_code == 200
            lab = f"{enclave.url}/user/rose/enclave"
            xsrf = {"X-XSRFToken": rose.http.cookies.get("_xsrf", path="/user/rose/") or ""}
            assert rose.http.get(f"{lab}/status", timeout=30).json()["jobs"] is True
            r = rose.http.post(f"{lab}/jobs?lang=zh-CN", json={"run": "python analysis/main.py"}, headers=xsrf,
                               timeout=60)
            assert r.status_code == 200, r.text
            button = r.json()["job"]["id"]
            assert button in [j["id"] for j in rose.http.get(f"{lab}/jobs", timeout=30).json()["jobs"]]
            r = rose.http.post(f"{lab}/jobs?lang=zh-CN", json={"run": "true", "outputs": "jobs"}, headers=xsrf,
                               timeout=60)
            assert r.status_code >= 400 and "Traceback" not in r.text and r.json()["error"], r.text
            assert _until_back(ws, button, enclave.settings.log_dir)["release"] == "delivered"
        finally:
            rose.stop()
