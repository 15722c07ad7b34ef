"""Blind mode: which mode a workspace gets, what it mounts, and the sealed plan a job runs under."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from datasets_mount.mounts import data_mounts
from enclave.errors import EnclaveError, NotAllowed, Unavailable
from enclave.models import (
    Approval,
    Dataset,
    Job,
    JobRelease,
    MemberRole,
    Membership,
    Project,
    ProjectState,
    User,
    WorkMode,
)
from enclave.modes import check_can_run_jobs, workspace_mode
from enclave.settings import REPO_ROOT, SYNTHETIC_NOTICE, load_settings
from jobs import rules
from jobs.files import read_folder, snapshot
from jobs.runner import job_plan
from policies import load_policies
from policies.schema import JobPolicy, Tier

POLICIES = load_policies(REPO_ROOT / "policies")


def _project(*tiers: int, mode: WorkMode = WorkMode.INTERACTIVE) -> Project:
    p = Project(slug="study", title="Study", work_mode=mode, pi="pi")
    for i, tier in enumerate(tiers):
        p.approvals.append(Approval(dataset=Dataset(name=f"d{i}", version="v1", tier=tier, location=f"/real/d{i}/v1",
                                                    manifest={}), approved_by="steward"))
    return p


def test_a_tier3_dataset_makes_the_workspace_blind_whatever_the_project_asks() -> None:
    assert workspace_mode(POLICIES, _project(2, 3)) == WorkMode.BLIND
    assert workspace_mode(POLICIES, _project(2)) == WorkMode.INTERACTIVE


def test_a_project_set_blind_is_blind_even_with_tiers_that_allow_interactive_work() -> None:
    assert workspace_mode(POLICIES, _project(1, 2, mode=WorkMode.BLIND)) == WorkMode.BLIND


def test_tiers_that_allow_no_common_mode_refuse_the_workspace() -> None:
    tiers = {**POLICIES.datasets.tiers, 1: Tier(name="agg", modes=[WorkMode.INTERACTIVE])}
    datasets = POLICIES.datasets.model_copy(update={"tiers": tiers})
    policies = type(POLICIES)(**{**POLICIES.__dict__, "datasets": datasets})
    with pytest.raises(NotAllowed, match="no common way of working"):
        workspace_mode(policies, _project(1, 3))
    with pytest.raises(NotAllowed, match="allows only interactive"):
        workspace_mode(policies, _project(1, mode=WorkMode.BLIND))
    with pytest.raises(NotAllowed, match="does not allow blind jobs"):
        check_can_run_jobs(policies, _project(1))


def test_a_tier_must_allow_some_mode_and_job_limits_must_fit_together() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        Tier(name="x", modes=[])
    with pytest.raises(ValidationError, match="max_running_per_project is above max_running"):
        JobPolicy(max_running=1, max_running_per_project=2)


def test_blind_mounts_name_only_dummy_files_and_the_notice(tmp_path: Path) -> None:
    settings = load_settings({"ENCLAVE_HOME": str(tmp_path)})
    ds = Dataset(name="cohort", version="v1", tier=3, location=str(tmp_path / "datasets" / "cohort" / "v1"))
    dummy = settings.dummy_dir("cohort", "v1")
    dummy.mkdir(parents=True)
    (dummy / "cohort.parquet").write_bytes(b"PAR1")
    mounts = data_mounts(settings, [ds], WorkMode.BLIND)
    assert {m.container for m in mounts} == {"/data/cohort", f"/data/{SYNTHETIC_NOTICE}",
                                             f"/srv/enclave/{SYNTHETIC_NOTICE}"}
    assert all(m.read_only and not str(m.host).startswith(ds.location) for m in mounts)
    assert (dummy / SYNTHETIC_NOTICE).read_text().startswith("# Synthetic data / 合成数据")
    assert [m.host for m in data_mounts(settings, [ds], WorkMode.INTERACTIVE)] == [Path(ds.location)]


def test_a_dataset_without_a_dummy_cannot_be_shown_blind(tmp_path: Path) -> None:
    settings = load_settings({"ENCLAVE_HOME": str(tmp_path)})
    ds = Dataset(name="cohort", version="v1", tier=3, location="/real")
    with pytest.raises(Unavailable, match="no dummy version"):
        data_mounts(settings, [ds], WorkMode.BLIND)


def _job() -> Job:
    limits = {**POLICIES.workspace.jobs.limits.model_dump(), "wall_seconds": 60, "outputs_size": "1G",
              "scratch_size": "64M", "network": "none"}
    return Job(id=7, project="study", submitter="rose", command="python analysis/main.py", outputs_dir="results",
               image="enclave-workspace:latest", limits=limits,
               datasets={"cohort": {"version": "v1", "tier": 3, "files": {"cohort.parquet": "55" * 32}}})


def test_the_job_plan_is_sealed(tmp_path: Path) -> None:
    settings = load_settings({"ENCLAVE_HOME": str(tmp_path)})
    plan = job_plan(settings, _job(), tmp_path / "run", {"cohort": Path("/real/cohort/v1")})
    assert plan["network_mode"] == "none" and plan["read_only"] and plan["cap_drop"] == ["ALL"]
    assert plan["security_opt"] == ["no-new-privileges:true"] and plan["user"] == "1000:1000"
    assert plan["volumes"] == {str(tmp_path / "run" / "code"): {"bind": "/workspace", "mode": "ro"},
                               str(tmp_path / "run" / "outputs"): {"bind": "/workspace/results", "mode": "rw"},
                               "/real/cohort/v1": {"bind": "/data/cohort", "mode": "ro"}}
    assert set(plan["tmpfs"]) == {"/tmp"} and "noexec" in plan["tmpfs"]["/tmp"]  # no home
    assert not any("TOKEN" in k or "URL" in k for k in plan["environment"])  # no hub API, no export service
    assert plan["mem_limit"] == plan["memswap_limit"] == POLICIES.workspace.jobs.limits.mem_limit
    assert plan["pids_limit"] == POLICIES.workspace.jobs.limits.pids_limit


@pytest.mark.parametrize("bad", ["", "/etc", "../x", "jobs", "jobs/1", "."])
def test_outputs_must_be_a_folder_of_the_workspace_outside_jobs(bad: str) -> None:
    with pytest.raises(EnclaveError, match="must be a folder inside the workspace"):
        rules.check_outputs_dir(bad)


def test_a_held_output_is_released_only_by_an_independent_reviewer() -> None:
    project = _project(3)
    project.state = ProjectState.ACTIVE  # open: a closed project's outputs are released by no one (test_egress_hostile)
    member = User(id=1, username="rose", roles=["researcher", "reviewer"])
    project.member_history.append(Membership(user=member, user_id=1, role=MemberRole.RESEARCHER))
    checker = User(id=2, username="oscar", roles=["reviewer"])
    researcher = User(id=3, username="ray", roles=["researcher"])
    job = _job()
    job.release = JobRelease.HELD
    assert rules.can_release(job, checker, project)
    with pytest.raises(NotAllowed, match="are or were a member"):
        rules.check_can_release(job, member, project)
    with pytest.raises(NotAllowed, match="reviewer role"):
        rules.check_can_release(job, researcher, project)
    job.release = JobRelease.BLOCKED
    with pytest.raises(NotAllowed, match="nothing held"):
        rules.check_can_release(job, checker, project)


def test_the_code_snapshot_never_follows_links_and_is_addressed_by_content(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "analysis").mkdir(parents=True)
    (code / "analysis" / "main.py").write_text("print(1)\n")
    (code / "analysis" / "secret").symlink_to("/etc/passwd")
    os.mkfifo(code / "analysis" / "pipe")
    (code / "results").mkdir()
    (code / "results" / "old.csv").write_text("a\n1\n")
    folder = read_folder(code, max_bytes=1 << 20, max_files=10, skip_top=frozenset({"results"}))
    assert list(folder.files) == ["analysis/main.py"]
    assert sorted(s.split(":")[0] for s in folder.skipped) == ["analysis/pipe", "analysis/secret"]
    first, manifest = snapshot(tmp_path / "store", folder)
    again, _ = snapshot(tmp_path / "store", read_folder(code, max_bytes=1 << 20, max_files=10,
                                                         skip_top=frozenset({"results"})))
    (code / "analysis" / "main.py").write_text("print(2)\n")
    changed, _ = snapshot(tmp_path / "store", read_folder(code, max_bytes=1 << 20, max_files=10))
    assert first == again != changed and list(manifest) == ["analysis/main.py"]


def test_a_code_folder_over_its_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 2000)
    with pytest.raises(EnclaveError, match="more than 1000 bytes"):
        read_folder(tmp_path, max_bytes=1000, max_files=10, what="code folder")


def test_set_mode_stricter_is_audited_and_interactive_is_refused_for_tier3(enclave_home: Path) -> None:
    from datasets_mount.catalog import store_version
    from datasets_mount.synthetic import write_cohort
    from enclave import audit
    from enclave.db import session_scope
    from enclave.modes import set_mode
    from enclave.projects import approve_dataset, create_project, today, upsert_user
    from enclave.settings import get_settings

    settings = get_settings()
    with session_scope() as s:
        upsert_user(s, "steward", "pi", roles=["researcher"])
        create_project(s, "steward", slug="study", title="S", approval_ref="E", purpose="p", pi="pi", start=today(),
                       expiry=today() + timedelta(days=9))
        write_cohort(enclave_home / "src", rows=50)
        store_version(s, "steward", POLICIES, settings.datasets_dir, enclave_home / "src", name="c", version="v1",
                      tier=2)
        approve_dataset(s, "steward", "study", "c", "v1", {2, 3})
        assert set_mode(s, "steward", POLICIES, "study", WorkMode.BLIND) == (WorkMode.INTERACTIVE, WorkMode.BLIND)
        rows = audit.query(s, action=audit.AuditAction.PROJECT_MODE.value)
        assert rows[-1]["details"]["workspace_after"] == "blind"
        store_version(s, "steward", POLICIES, settings.datasets_dir, enclave_home / "src", name="t3", version="v1",
                      tier=3)
        approve_dataset(s, "steward", "study", "t3", "v1", {2, 3})
        with pytest.raises(NotAllowed, match="cannot be interactive"):
            set_mode(s, "steward", POLICIES, "study", WorkMode.INTERACTIVE)


def test_an_exported_job_output_carries_the_jobs_provenance(enclave_home: Path) -> None:
    from egress_review.workflow import _job_provenance
    from enclave.db import session_scope
    from enclave.models import ExportFile, JobState

    with session_scope() as s:
        job = _job()
        job.id = None  # type: ignore[assignment]
        job.code_sha256, job.code_manifest, job.state = "c0de" * 16, {"files": {"analysis/main.py": "ab" * 32}}, \
            JobState.FINISHED
        job.outputs = {"results/by_region.csv": {"sha256": "11" * 32, "bytes": 40, "verdict": "pass", "kinds": []},
                       "log.txt": {"sha256": "22" * 32, "bytes": 9, "verdict": "pass", "kinds": []}}
        s.add(job)
        s.flush()
        exported = ExportFile(name="by_region.csv", sha256="33" * 32, size=40, scan={"original_sha256": "11" * 32})
        other = ExportFile(name="notes.md", sha256="44" * 32, size=3, scan={"original_sha256": "44" * 32})
        record = _job_provenance(s, "study", [exported, other])
        assert [(r["job"], r["exported_outputs"], r["code_sha256"]) for r in record] == [
            (job.id, ["results/by_region.csv"], "c0de" * 16)]
        assert _job_provenance(s, "another-study", [exported]) == []


def test_turning_a_project_blind_stops_its_workspaces_and_a_repeat_stops_nothing(
        enclave_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from enclave import workspaces
    from enclave.db import session_scope
    from enclave.modes import change_mode
    from enclave.projects import create_project, today, upsert_user
    from enclave.settings import get_settings

    stopped: list[tuple[str, str]] = []
    monkeypatch.setattr(workspaces, "stop_project_workspaces",
                        lambda _settings, slug, reason, _actor: stopped.append((slug, reason)) or ["rose"])
    with session_scope() as s:
        upsert_user(s, "steward", "pi", roles=["researcher"])
        create_project(s, "steward", slug="study", title="S", approval_ref="E", purpose="p", pi="pi", start=today(),
                       expiry=today() + timedelta(days=9))
    with session_scope() as s:
        done = change_mode(get_settings(), s, "steward", POLICIES, "study", WorkMode.BLIND)
    assert done["stopped_workspaces"] == ["rose"] and stopped == [("study", "work mode interactive -> blind")]
    with session_scope() as s:
        again = change_mode(get_settings(), s, "steward", POLICIES, "study", WorkMode.BLIND)
    assert again["stopped_workspaces"] == [] and len(stopped) == 1


@pytest.mark.parametrize(("reason", "zh"), [
    ("exited with code 1", "已结束，退出码 1"),
    ("stopped: still running after its wall-time limit of 20 s", "已停止：运行超过时间上限 20 秒"),
    ("stopped: killed by the kernel (SIGKILL), as happens when a job uses more than its memory limit of 256M",
     "已停止：被内核终止（SIGKILL），通常是因为作业使用的内存超过上限 256M"),
    ("cancelled by rose", "已由 rose 取消"),
])
def test_job_reasons_read_in_chinese_too(reason: str, zh: str) -> None:
    from jobs.i18n import reason_zh

    assert reason_zh(reason) == zh
