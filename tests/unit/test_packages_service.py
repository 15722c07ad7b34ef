"""The package service over real HTTP: the index pip reads and the requests API, on one port.

The hub's token check is replaced by a table of tokens and the container lookup by a table of running
workspaces. Proves that a request is made for the project of the caller's own container (never one the call
names), that a token counts only from its owner's workspace and only with its scope, that refusals are one
sentence in the caller's language, that a project sees only its own requests, and that the index serves the
wheelhouse as it is now (a wheel checked in later is there at once) and nothing else: no uploads, no pages, no
fallback to pypi.org.
"""

from __future__ import annotations

import hashlib
import shutil
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
from enclave.models import ProjectState
from enclave.projects import create_project, today, transition, upsert_user
from enclave.settings import PACKAGES_PREFIX, REPO_ROOT, get_settings
from enclave.workspaces import RunningWorkspace
from packages import service, workflow
from packages.models import PackageRequest
from packages.scopes import SCOPE_REQUEST
from policies import load_policies
from tests.tiny_wheel import write_wheel
from tests.unit.conftest import workspace_api

HERE = "127.0.0.1"
ELSEWHERE = "10.11.12.13"
TOKENS: dict[str, dict[str, Any]] = {
    f"{name}-workspace": {"name": name, "kind": "user", "scopes": [f"{SCOPE_REQUEST}!user={name}"]}
    for name in ("alice", "bob", "eve")}
TOKENS["alice-jobs-only"] = {"name": "alice", "kind": "user", "scopes": ["custom:enclave-jobs:submit!user=alice"]}


@pytest.fixture
def world(enclave_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """alice in `study`, bob in `clinic`, eve in neither; an allow-list with `tinystat` on it."""
    policy_dir = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policy_dir)
    (policy_dir / "packages.yaml").write_text(
        "python:\n  tinystat: {version: \"1.0\"}\nrefused_names: [evilpkg]\ntop_names: [requests]\n"
        "stewards: [steward]\n")
    monkeypatch.setenv("ENCLAVE_POLICY_DIR", str(policy_dir))
    get_settings.cache_clear()
    with session_scope() as s:
        for name in ("alice", "bob", "eve"):
            upsert_user(s, "admin", name, roles=["researcher"])
        for slug, pi in (("study", "alice"), ("clinic", "bob")):
            create_project(s, "admin", slug=slug, title=slug, approval_ref="E", purpose="p", pi=pi, start=today(),
                           expiry=today() + timedelta(days=9))
            transition(s, "admin", slug, ProjectState.APPROVED, "ok")
            transition(s, "admin", slug, ProjectState.ACTIVE, "ok")
    return policy_dir


class Api:
    def __init__(self, root: str, workspaces: dict[str, RunningWorkspace]) -> None:
        self.root, self.workspaces = root, workspaces

    def call(self, method: str, path: str, token: str | None = "alice-workspace", lang: str = "en",
             **kw: Any) -> httpx.Response:
        headers = {"Accept-Language": lang, **({"Authorization": f"token {token}"} if token else {})}
        with httpx.Client(base_url=self.root + PACKAGES_PREFIX, timeout=30) as c:
            return c.request(method, path, headers=headers, **kw)

    def index(self, method: str, path: str) -> httpx.Response:
        with httpx.Client(base_url=self.root, timeout=30) as c:
            return c.request(method, path)


@pytest.fixture
def api(world: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    workspaces = {"alice": RunningWorkspace("study", frozenset({HERE})),
                  "bob": RunningWorkspace("clinic", frozenset({ELSEWHERE}))}
    def lookup(_settings: Any, name: str) -> RunningWorkspace | None:
        if name == "docker-down":
            raise DockerException("engine gone")
        return workspaces.get(name)

    with workspace_api(service, monkeypatch, TOKENS, lookup) as port:
        yield Api(f"http://{HERE}:{port}", workspaces)


def stored() -> list[tuple[str, str, str, str]]:
    with session_scope() as s:
        return [(r.requester, r.project, r.name, r.state.value) for r in s.query(PackageRequest).order_by("id")]


def test_a_request_is_made_for_the_project_of_the_callers_own_container(api: Api) -> None:
    r = api.call("POST", "api/requests", json={"spec": "Tiny_Plot==0.3", "reason": "figures for the paper"})
    assert r.status_code == 201, r.text
    assert (r.json()["project"], r.json()["name"], r.json()["version"], r.json()["state"]) == (
        "study", "tiny-plot", "0.3", "requested")
    assert stored() == [("alice", "study", "tiny-plot", "requested")]


def test_the_call_cannot_name_the_project(api: Api) -> None:
    r = api.call("POST", "api/requests", json={"spec": "tinyplot", "reason": "x", "project": "clinic"})
    assert r.status_code == 400 and r.json()["error"] == "unknown field(s): project"
    assert stored() == []


def test_a_token_counts_only_from_its_owners_running_workspace(api: Api) -> None:
    other = api.call("POST", "api/requests", token="bob-workspace", json={"spec": "tinyplot", "reason": "x"})
    assert other.status_code == 403
    assert other.json()["error"] == "package requests are accepted only from your own workspace"
    none = api.call("GET", "api/requests", token="eve-workspace", lang="zh-CN")
    assert none.status_code == 403 and none.json()["error"] == "软件包须从您正在运行的工作区申请；请先启动工作区"
    assert stored() == []
    with session_scope() as s:
        trail = [(e["actor"], e["project"], e["target"]) for e in
                 audit.query(s, action=AuditAction.PACKAGE_REQUEST_REFUSED)]
    assert trail == [("bob", "clinic", f"address:{HERE}"), ("eve", None, f"address:{HERE}")]


def test_a_call_without_the_request_scope_or_without_a_token_is_refused(api: Api) -> None:
    for token in ("alice-jobs-only", None, "made-up"):
        r = api.call("POST", "api/requests", token=token, json={"spec": "tinyplot", "reason": "x"})
        assert r.status_code == 403 and "workspace token is needed" in r.json()["error"], token
    assert stored() == []


def test_the_rules_refusals_are_one_sentence_in_the_callers_language(api: Api) -> None:
    allowed = api.call("POST", "api/requests", json={"spec": "tinystat", "reason": "x"})
    assert allowed.status_code == 403
    assert allowed.json()["error"] == ("'tinystat' is already approved (tinystat==1.0): `pip install` it in the "
                                       "workspace")
    squat = api.call("POST", "api/requests", json={"spec": "requestz", "reason": "x"}, lang="zh-CN")
    assert squat.status_code == 403
    assert squat.json()["error"] == "“requestz”疑似仿冒“requests”（仿冒名规则）；请直接申请“requests”"
    no_reason = api.call("POST", "api/requests", json={"spec": "tinyplot", "reason": "  "})
    assert no_reason.status_code == 403 and no_reason.json()["error"].startswith("give a reason")
    for body, status, text in (({"spec": ["x"]}, 400, "'spec' must be text"),
                               ({"spec": "a b c", "reason": "x"}, 403, "'a b c' is not a Python package name")):
        r = api.call("POST", "api/requests", json=body)
        assert r.status_code == status and r.json()["error"].startswith(text), r.text
    assert api.call("POST", "api/requests", content=b"{no").json()["error"].startswith("the body is not JSON")
    assert stored() == []


def test_a_project_lists_its_own_requests_only_with_the_stewards_decision(api: Api) -> None:
    policy = load_policies(get_settings().policy_dir).packages
    with session_scope() as s:
        workflow.request_package(s, policy, "bob", "clinic", "otherpkg", "bob's own")
        mine = workflow.request_package(s, policy, "alice", "study", "tinyplot", "figures").id
    with session_scope() as s:
        workflow.refuse(s, policy, "steward", mine, "use matplotlib, it is there")
    listed = api.call("GET", "api/requests")
    assert listed.status_code == 200
    assert [(r["name"], r["state"], r["decision_reason"]) for r in listed.json()] == [
        ("tinyplot", "refused", "use matplotlib, it is there")]


def test_the_index_serves_a_wheel_checked_in_after_it_started_and_nothing_else(api: Api) -> None:
    assert api.index("GET", "/simple/tinystat/").status_code == 404  # not fetched yet: not found, no redirect
    wheel = write_wheel(get_settings().wheelhouse_dir, "tinystat", "1.0")
    page = api.index("GET", "/simple/tinystat/")
    assert page.status_code == 200
    assert f"{wheel.name}#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}" in page.text
    assert api.index("GET", f"/packages/{wheel.name}").content == wheel.read_bytes()
    assert "tinystat" in api.index("GET", "/simple/").text
    assert api.index("POST", "/simple/").status_code == 405  # no uploads
    assert api.index("GET", "/").status_code == 404  # only the index, no pages
    assert api.index("GET", "/simple/requests/").status_code == 404  # never a fallback to pypi.org


def test_an_engine_that_does_not_answer_is_a_503_sentence_not_a_traceback(api: Api) -> None:
    TOKENS["down-workspace"] = {"name": "docker-down", "kind": "user", "scopes": [f"{SCOPE_REQUEST}!user=docker-down"]}
    try:
        r = api.call("GET", "api/requests", token="down-workspace", lang="zh-CN")
    finally:
        del TOKENS["down-workspace"]
    assert r.status_code == 503 and r.json()["error"] == "容器引擎没有响应；请几分钟后重试"
