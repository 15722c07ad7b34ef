"""The jobs service's JSON API over real HTTP, with the hub's token check replaced by a table of tokens and the
container lookup by a table of running workspaces (user -> project, addresses).

Proves that the project comes from the caller's own container and never from the request, that a token counts
only from its owner's workspace, that every refusal is audited and told in the caller's language with the
status its rule gives, and that what the workspace sees of a job holds kinds of finding, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from docker.errors import DockerException

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.models import Job, JobRelease, JobState, ProjectState
from enclave.settings import JOBS_PREFIX, get_settings
from enclave.workspaces import RunningWorkspace
from jobs import service
from jobs.scopes import SCOPE_SUBMIT
from jobs.workflow import get_job
from tests.unit.conftest import workspace_api

HERE = "127.0.0.1"  # where the test's calls come from
ELSEWHERE = "10.11.12.13"
# workspace tokens, as the spawner sets them: the submit scope, for their owner
TOKENS: dict[str, dict[str, Any]] = {
    f"{name}-workspace": {"name": name, "kind": "user", "scopes": [f"{SCOPE_SUBMIT}!user={name}"]}
    for name in ("alice", "bob", "eve")}
TOKENS["alice-export-only"] = {"name": "alice", "kind": "user", "scopes": ["custom:enclave-export:request!user=alice"]}
MAIN = "import pathlib\npathlib.Path('results').mkdir(exist_ok=True)\n"


@pytest.fixture
def projects(enclave_home: Path) -> dict[str, Path]:
    """`study` (alice) and `clinic` (bob), active, each with a tier-2 dataset and code in its workspace;
    eve is a researcher in neither. Returns the workspaces."""
    from datasets_mount.catalog import store_version
    from datasets_mount.synthetic import write_cohort
    from enclave.projects import approve_dataset, create_project, today, transition, upsert_user
    from policies import load_policies

    settings = get_settings()
    policies = load_policies(settings.policy_dir)
    write_cohort(enclave_home / "src", rows=50)
    out = {}
    with session_scope() as s:
        for name in ("alice", "bob", "eve"):
            upsert_user(s, "steward", name, roles=["researcher"])
        store_version(s, "steward", policies, settings.datasets_dir, enclave_home / "src", name="c", version="v1",
                      tier=2)
        for slug, pi in (("study", "alice"), ("clinic", "bob")):
            create_project(s, "steward", slug=slug, title=slug, approval_ref="E", purpose="p", pi=pi, start=today(),
                           expiry=today() + timedelta(days=9))
            transition(s, "steward", slug, ProjectState.APPROVED, "ok")
            approve_dataset(s, "steward", slug, "c", "v1", {2})
            transition(s, "steward", slug, ProjectState.ACTIVE, "ok")
            ws = settings.workspace_dir(slug)
            (ws / "analysis").mkdir(parents=True)
            (ws / "analysis" / "main.py").write_text(MAIN + f"# {slug}\n")
            out[slug] = ws
    return out


class Api:
    """The running service and the table of running workspaces it consults."""

    def __init__(self, base: str, workspaces: dict[str, RunningWorkspace]) -> None:
        self.base, self.workspaces = base, workspaces

    def call(self, method: str, path: str, token: str | None = "alice-workspace", lang: str = "en",
             **kw: Any) -> httpx.Response:
        headers = {"Accept-Language": lang, **({"Authorization": f"token {token}"} if token else {})}
        with httpx.Client(base_url=self.base, timeout=30) as c:
            return c.request(method, path, headers=headers, **kw)


@pytest.fixture
def api(projects: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    workspaces = {"alice": RunningWorkspace("study", frozenset({HERE})),
                  "bob": RunningWorkspace("clinic", frozenset({ELSEWHERE}))}
    def lookup(_settings: Any, name: str) -> RunningWorkspace | None:
        if name == "docker-down":
            raise DockerException("engine gone")
        return workspaces.get(name)

    with workspace_api(service, monkeypatch, TOKENS, lookup) as port:
        yield Api(f"http://{HERE}:{port}{JOBS_PREFIX}", workspaces)


def refusals(user: str) -> list[dict[str, Any]]:
    with session_scope() as s:
        return [e for e in audit.query(s, action=AuditAction.JOB_REFUSED, user=user)]


def test_a_job_is_queued_for_the_project_of_the_callers_own_container(api: Api) -> None:
    r = api.call("POST", "api/jobs", json={"run": "python analysis/main.py", "outputs": "results/"})
    assert r.status_code == 201, r.text
    view = r.json()
    with session_scope() as s:
        job = get_job(s, view["id"])
        assert (job.project, job.submitter, job.state) == ("study", "alice", JobState.QUEUED)
        assert "analysis/main.py" in job.code_manifest["files"]
        assert view["code_sha256"] == job.code_sha256 and view["outputs_dir"] == "results"
    assert view["state"] == "queued" and view["folder"] is None and view["files"] == []


def test_the_request_cannot_name_the_project(api: Api) -> None:
    r = api.call("POST", "api/jobs", json={"run": "python analysis/main.py", "project": "clinic"})
    assert r.status_code == 400 and r.json()["error"] == "unknown field(s): project"
    with session_scope() as s:
        assert s.query(Job).count() == 0


def test_a_token_counts_only_from_its_owners_running_workspace(api: Api) -> None:
    """bob's token from alice's container, alice's token once her workspace runs elsewhere, and a user with no
    running workspace are all refused, audited with the address they came from."""
    other = api.call("POST", "api/jobs", token="bob-workspace", json={"run": "python analysis/main.py"})
    assert other.status_code == 403 and other.json()["error"] == "jobs are accepted only from your own workspace"
    api.workspaces["alice"] = RunningWorkspace("study", frozenset({ELSEWHERE}))
    moved = api.call("GET", "api/jobs")
    assert moved.status_code == 403 and "only from your own workspace" in moved.json()["error"]
    none = api.call("GET", "api/jobs", token="eve-workspace", lang="zh-CN")
    assert none.status_code == 403 and none.json()["error"] == "作业只能从您正在运行的工作区提交；请先启动工作区"
    assert [(e["project"], e["target"], e["details"]["step"]) for e in refusals("bob")] == [
        ("clinic", f"address:{HERE}", "submit")]
    assert [e["details"]["step"] for e in refusals("alice")] == ["list"]
    assert [e["project"] for e in refusals("eve")] == [None]
    with session_scope() as s:
        assert s.query(Job).count() == 0


def test_a_call_without_the_submit_scope_or_without_a_token_is_refused(api: Api) -> None:
    for token in ("alice-export-only", None, "made-up"):
        r = api.call("POST", "api/jobs", token=token, json={"run": "true"})
        assert r.status_code == 403 and "workspace token is needed" in r.json()["error"], token


def test_a_non_member_with_a_workspace_still_running_is_refused_and_audited(api: Api) -> None:
    """eve's container still carries the study label (she was removed while it ran): the rules say no."""
    api.workspaces["eve"] = RunningWorkspace("study", frozenset({HERE}))
    sub = api.call("POST", "api/jobs", token="eve-workspace", json={"run": "python analysis/main.py"})
    assert sub.status_code == 403
    assert sub.json()["error"] == "cannot submit a job: you are not a member of project 'study'"
    listed = api.call("GET", "api/jobs", token="eve-workspace", lang="zh-CN")
    assert listed.status_code == 403 and listed.json()["error"] == "您不是项目“study”的成员"
    assert [(e["project"], e["details"]["step"]) for e in refusals("eve")] == [("study", "submit"), ("study", "list")]


def test_a_suspended_project_submits_nothing_and_says_why_in_the_callers_language(api: Api) -> None:
    from enclave.projects import transition

    with session_scope() as s:
        transition(s, "steward", "study", ProjectState.SUSPENDED, "ethics review")
    en = api.call("POST", "api/jobs", json={"run": "python analysis/main.py"})
    zh = api.call("POST", "api/jobs", json={"run": "python analysis/main.py"}, lang="zh-CN,zh;q=0.9")
    assert en.status_code == zh.status_code == 403
    assert en.json()["error"] == "cannot submit a job: project 'study' is suspended, not active (ethics review)"
    assert zh.json()["error"] == "无法提交作业：项目“study”处于已暂停状态，未激活（ethics review）"
    assert [e["details"]["reason"] for e in refusals("alice")] == [en.json()["error"]] * 2


def test_bad_input_is_one_sentence_with_status_400_never_a_traceback(api: Api) -> None:
    cases = [({"content": b"{not json"}, "the body is not JSON"),
             ({"json": ["python x.py"]}, "the body must be a JSON object"),
             ({"json": {"run": ["python"]}}, "'run' must be text"),
             ({"json": {"run": "  "}}, "--run is required"),
             ({"json": {"run": "true", "outputs": "../etc"}}, "must be a folder inside the workspace"),
             ({"json": {"run": "true", "code": "nowhere"}}, "the code folder does not exist")]
    for kw, expected in cases:
        r = api.call("POST", "api/jobs", **kw)
        assert r.status_code == 400 and expected in r.json()["error"], (kw, r.text)
        assert "Traceback" not in r.text
    zh = api.call("POST", "api/jobs", json={"run": "true", "outputs": "jobs"}, lang="zh-CN")
    assert zh.json()["error"].startswith("--outputs “jobs”必须是工作区内的文件夹")


def test_a_job_of_another_project_is_not_found_and_the_attempt_is_audited(api: Api) -> None:
    api.workspaces["bob"] = RunningWorkspace("clinic", frozenset({HERE}))
    jid = api.call("POST", "api/jobs", json={"run": "python analysis/main.py"}).json()["id"]
    assert api.call("GET", f"api/jobs/{jid}").json()["id"] == jid
    theirs = api.call("GET", f"api/jobs/{jid}", token="bob-workspace")
    assert theirs.status_code == 404 and theirs.json()["error"] == f"no job {jid}"
    assert api.call("GET", "api/jobs", token="bob-workspace").json() == []
    assert [(e["target"], e["details"]["step"]) for e in refusals("bob")] == [(f"job:{jid}", "show")]
    assert api.call("GET", "api/jobs/999999").status_code == 404


def test_the_workspace_sees_what_came_back_and_what_is_held_with_kinds_never_values(api: Api) -> None:
    with session_scope() as s:
        job = Job(project="study", submitter="alice", command="python analysis/leak.py", code_sha256="c" * 64,
                  state=JobState.FINISHED, exit_code=0, reason="exited with code 0", release=JobRelease.HELD,
                  resources={"wall_seconds": 3.25, "cpu_ns": 2_000_000_000, "max_memory_bytes": 50 * 1024**2},
                  outputs={"log.txt": {"sha256": "1" * 64, "original_sha256": "2" * 64, "bytes": 900,
                                       "verdict": "review", "kinds": ["sdc:small-count"]},
                           "results/by_region.csv": {"sha256": "3" * 64, "original_sha256": "3" * 64, "bytes": 40,
                                                     "verdict": "pass", "kinds": []}})
        s.add(job)
        s.flush()
        jid = job.id
    view = api.call("GET", f"api/jobs/{jid}").json()
    assert (view["state"], view["exit_code"], view["run_seconds"], view["release"]) == ("finished", 0, 3.25, "held")
    files = {f["name"]: f for f in view["files"]}
    assert files["log.txt"]["in_workspace"] is False and files["log.txt"]["path"] is None
    assert files["log.txt"]["kinds"] == ["sdc:small-count"] and files["log.txt"]["log"] is True
    assert files["results/by_region.csv"]["path"] == f"/workspace/jobs/{jid}/results/by_region.csv"
    assert "1" * 64 not in str(view) and "2" * 64 not in str(view)  # not even the held file's hashes
    zh = api.call("GET", f"api/jobs/{jid}", lang="zh-CN").json()
    assert zh["reason"] == "已结束，退出码 0" and zh["release_text"].startswith("等待输出审核员审核")
    assert [j["id"] for j in api.call("GET", "api/jobs").json()] == [jid]


def test_an_engine_that_does_not_answer_is_503_with_a_sentence(api: Api) -> None:
    TOKENS["docker-down-workspace"] = {"name": "docker-down", "kind": "user",
                                       "scopes": [f"{SCOPE_SUBMIT}!user=docker-down"]}
    try:
        r = api.call("GET", "api/jobs", token="docker-down-workspace", lang="zh-CN")
    finally:
        del TOKENS["docker-down-workspace"]
    assert r.status_code == 503 and r.json()["error"] == "容器引擎没有响应；请几分钟后重试"


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "the jobs service failed on this call; tell the enclave administrators"),
    ("zh-CN,zh;q=0.9", "作业服务处理此调用时出错；请告知安全区管理员")])
def test_an_unexpected_failure_is_500_with_whom_to_tell_in_the_callers_language(
        api: Api, monkeypatch: pytest.MonkeyPatch, lang: str, said: str) -> None:
    def broken(_settings: Any, name: str) -> RunningWorkspace | None:
        raise RuntimeError("a bug, not a refusal")

    monkeypatch.setattr(service, "workspace_of", broken)
    r = api.call("GET", "api/jobs", lang=lang)
    assert r.status_code == 500 and r.json()["error"] == said
    assert "RuntimeError" not in r.text and "Traceback" not in r.text


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "a workspace token is needed"), ("zh-CN", "需要工作区令牌：请在您的工作区中调用")])
def test_a_call_without_a_workspace_token_is_told_so_in_the_callers_language(api: Api, lang: str, said: str) -> None:
    r = api.call("GET", "api/jobs", token=None, lang=lang)
    assert r.status_code == 403 and r.json()["error"].startswith(said)
