"""Package requests and stewards' decisions in the governance pages, over real HTTP with a signed-in user: who
may ask, see and decide (packages.rules), refusals beside their fields in zh-CN and en, approval doing what
the CLI does (allow-list, fetch on the host from a local folder of wheels, checks, wheelhouse), and the
requester told the decision."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from enclave.db import session_scope
from enclave.errors import NotAllowed
from enclave.models import AuditEvent, ProjectState
from enclave.projects import add_member, create_project, get_project, get_user, today, transition
from enclave.settings import REPO_ROOT, ConfigError, get_settings, load_settings
from governance import notify
from packages import rules, workflow
from packages.models import RequestState
from policies import load_policies
from tests.unit.test_governance import gov  # noqa: F401 - the fixture
from tests.unit.test_governance_service import site  # noqa: F401 - the fixture
from tests.unit.test_packages import make_sdist, make_wheel


@pytest.fixture
def pkgs(gov, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # type: ignore[no-untyped-def] # noqa: F811
    """Project `study`: alice (PI, also a package steward) and dave; bob is the other steward; zoe is in no
    project. The allow-list is one package, `tinystat`; approvals fetch from a local folder of wheels
    (ENCLAVE_PACKAGES_FETCH_ARGS), never from PyPI. Yields that folder."""
    policy_dir = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policy_dir)
    (policy_dir / "packages.yaml").write_text(
        "# allow-list for the test\npython:\n  tinystat: {version: \"1.0\"}\n"
        "refused_names: [evilpkg]\ntop_names: [requests]\nstewards: [bob, alice]\nmax_file_bytes: 100000\n")
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("ENCLAVE_POLICY_DIR", str(policy_dir))
    monkeypatch.setenv("ENCLAVE_PACKAGES_FETCH_ARGS", f"--no-index --find-links '{index}'")
    get_settings.cache_clear()
    with session_scope() as s:
        create_project(s, "admin", slug="study", title="Study 研究", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        add_member(s, "admin", "study", "dave")
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
    yield index
    get_settings.cache_clear()


def ask(client: Any, name: str, reason: str = "survival curves", version: str = "", project: str = "study") -> Any:
    return client.post("packages", {"project": project, "name": name, "version": version, "reason": reason})


def asked_id(response: Any) -> int:
    assert response.status_code == 302, response.text
    return int(re.search(r"asked=(\d+)", response.headers["Location"]).group(1))


def field_problems(page: str, field: str) -> list[str]:
    return re.findall(rf'<p class="problem" data-field="{field}" role="alert">(.*?)</p>', page)


def row(page: str, rid: int) -> str:
    found = re.search(rf'<(?:tr|section)[^>]* id="request-{rid}".*?</(?:tr|section)>', page, re.S)
    assert found, f"request {rid} is not on the page"
    return found.group(0)


def actions(action: str) -> list[AuditEvent]:
    with session_scope() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


# --- asking --------------------------------------------------------------------------------------------------

def test_a_member_asks_through_the_form_and_sees_the_request_waiting(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    alice = site("alice")
    rid = asked_id(ask(alice, "Tiny_Other", version="2.0"))
    page = alice.get(f"packages?asked={rid}").text
    assert 'id="asked"' in page and 'data-state="requested"' in row(page, rid)
    assert "tiny-other==2.0" in row(page, rid) and "survival curves" in row(page, rid)
    assert "tiny-other" in row(site("dave").get("packages").text, rid)  # the other member sees it too
    assert 'id="request-' not in site("zoe").get("packages").text  # not in the project: not shown
    [ev] = actions("package.request")
    assert (ev.actor, ev.project, ev.target) == ("alice", "study", f"package-request:{rid}")


def test_mistakes_are_shown_beside_their_fields_in_chinese_and_nothing_is_asked(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    r = ask(site("alice", "zh-CN"), "reqeusts", reason=" ")
    assert r.status_code == 403
    assert field_problems(r.text, "name") == ["“reqeusts”疑似仿冒“requests”（仿冒名规则）；请直接申请“requests”"]
    assert field_problems(r.text, "reason") == ["请说明理由：该软件包在本项目中的用途"]
    assert field_problems(r.text, "project") == [] and 'value="reqeusts"' in r.text  # what was typed stays
    with session_scope() as s:
        assert workflow.list_requests(s) == []
    assert "give a reason" in actions("package.request.refused")[0].details  # the first reason, as the CLI


def test_mistakes_are_shown_beside_their_fields_in_english(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    r = ask(site("alice"), "evilpkg", version="1 or 2")
    assert field_problems(r.text, "name") == ["&#39;evilpkg&#39; is on the refused list (refused names)"]
    assert field_problems(r.text, "version") == ["&#39;1 or 2&#39; is not a version such as 2.2.3"]
    r = ask(site("alice"), "")
    assert field_problems(r.text, "name") == [
        "&#39;&#39; is not a Python package name (give NAME or NAME==VERSION)"]
    assert field_problems(ask(site("alice", "zh-CN"), "").text, "name") == ["请填写软件包名称（NAME 或 NAME==VERSION）"]


def test_an_approved_or_already_asked_package_is_not_asked_again(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    alice = site("alice", "zh-CN")
    assert field_problems(ask(alice, "tinystat").text, "name") == [
        "“tinystat”已获批准（tinystat==1.0）：请在工作区中直接 `pip install`"]
    asked_id(ask(alice, "tinyother"))
    assert field_problems(ask(site("dave"), "TinyOther").text, "name") == [
        "&#39;tinyother&#39; is already requested in project &#39;study&#39; and waits for a steward"]


def test_someone_in_no_project_is_offered_no_form_and_a_forged_request_is_refused(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    zoe = site("zoe", "zh-CN")
    assert 'id="no-project"' in zoe.get("packages").text and 'id="package-form"' not in zoe.get("packages").text
    r = ask(zoe, "tinyother")
    assert r.status_code == 403 and field_problems(r.text, "project") == ["您不是项目“study”的成员"]
    assert field_problems(ask(site("zoe"), "tinyother", project="nowhere").text, "project") == [
        "no project &#39;nowhere&#39;"]
    assert field_problems(ask(site("zoe", "zh-CN"), "tinyother", project="nowhere").text, "project") == [
        "没有项目“nowhere”"]
    with session_scope() as s:
        assert workflow.list_requests(s) == []
    assert [e.actor for e in actions("package.request.refused")] == ["zoe", "zoe", "zoe"]


# --- who sees what -----------------------------------------------------------------------------------------

def test_the_queue_is_for_package_stewards_and_linked_only_for_them(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    for user in ("bob", "alice"):
        assert site(user).get("packages/queue").status_code == 200
        assert 'id="nav-package-queue"' in site(user).get("").text
    for user in ("carol", "dave", "zoe", "audrey"):
        assert site(user).get("packages/queue").status_code == 403, user
        assert 'id="nav-package-queue"' not in site(user).get("").text, user
    assert "只有软件包管理员" in site("dave", "zh-CN").get("packages/queue").text
    assert 'id="nav-packages"' in site("dave").get("").text  # researchers are led to the packages page
    assert 'id="nav-packages"' not in site("carol").get("").text  # a reviewer in no project, not a steward


def test_the_rules_say_who_sees_a_request(pkgs):  # type: ignore[no-untyped-def]
    policy = workflow.current_policy(get_settings())
    with session_scope() as s:
        req = workflow.request_package(s, policy, "alice", "study", "tinyother", "why")
        project = get_project(s, "study")
        seen = {u: rules.can_see_request(policy, get_user(s, u), req, project) for u in ("alice", "dave", "bob",
                                                                                          "zoe", "carol")}
    assert seen == {"alice": True, "dave": True, "bob": True, "zoe": False, "carol": False}


def test_request_problems_name_the_field_each_reason_concerns(pkgs):  # type: ignore[no-untyped-def]
    policy = workflow.current_policy(get_settings())
    with session_scope() as s:
        problems = rules.request_problems(policy, get_user(s, "zoe"), get_project(s, "study"), "evilpkg", "", [])
        assert [f for f, _ in problems] == ["project", "reason", "name"]
        with pytest.raises(NotAllowed, match="not a member of project 'study'"):  # the first, as before
            rules.check_can_request(policy, get_user(s, "zoe"), get_project(s, "study"), "evilpkg", "", [])
        assert rules.request_problems(policy, get_user(s, "dave"), get_project(s, "study"), "tinyother", "ok",
                                      []) == []


# --- deciding ----------------------------------------------------------------------------------------------

def test_a_steward_approves_in_the_browser_and_the_wheel_is_fetched_checked_and_listed(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    wheel = make_wheel(pkgs, "tinyother", "1.0")
    rid = asked_id(ask(site("alice"), "tinyother"))
    bob = site("bob")
    assert f'id="approve-{rid}"' in bob.get("packages/queue").text
    r = bob.post(f"packages/{rid}/approve", {"version": "1.0", "reason": "fine"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"packages/queue#request-{rid}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (get_settings().wheelhouse_dir / wheel.name).read_bytes() == wheel.read_bytes()
    assert workflow.current_policy(get_settings()).python["tinyother"].sha256 == [digest]
    page = site("alice", "zh-CN").get("packages").text
    assert 'data-state="approved"' in row(page, rid) and "已在 Enclave 软件包索引中" in row(page, rid)
    assert "tinyother" in re.search(r'id="allowed".*?</table>', page, re.S).group(0)  # read again, no restart
    assert [e.actor for e in actions("package.approve")] == ["bob"] and digest in actions("package.fetch")[0].details


def test_a_failed_fetch_is_shown_to_the_steward_and_the_researcher(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    make_sdist(pkgs, "tinyother", "1.0")  # no wheel: the builder refuses source distributions
    rid = asked_id(ask(site("alice"), "tinyother==1.0"))
    assert site("bob").post(f"packages/{rid}/approve", {"version": "", "reason": ""}).status_code == 302
    assert "Not yet in the enclave&#39;s index: tinyother==1.0: no wheel of tinyother" in row(
        site("bob").get("packages/queue").text, rid)
    assert "尚未进入 Enclave 软件包索引：tinyother==1.0：没有适用于 Python 3.11 的 tinyother wheel 文件" in row(
        site("alice", "zh-CN").get("packages").text, rid)
    assert not any(get_settings().wheelhouse_dir.iterdir())


def test_approving_without_a_version_shows_the_reason_beside_the_version_field(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    rid = asked_id(ask(site("alice"), "tinyother"))
    r = site("bob", "zh-CN").post(f"packages/{rid}/approve", {"version": "", "reason": ""})
    assert r.status_code == 403
    assert field_problems(r.text, "version") == [
        f"软件包申请 {rid} 未指定版本：请用 --version 指定固定版本（如 2.2.3）后再批准"]
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == RequestState.REQUESTED
    assert "tinyother" not in workflow.current_policy(get_settings()).python


def test_a_steward_refuses_with_a_reason_the_researcher_reads(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    rid = asked_id(ask(site("alice"), "tinyother"))
    bob = site("bob")
    r = bob.post(f"packages/{rid}/refuse", {"reason": " "})
    assert field_problems(r.text, "reason") == ["give a reason: the researcher reads why the package was refused"]
    assert bob.post(f"packages/{rid}/refuse", {"reason": "use scipy.stats 请用 scipy"}).status_code == 302
    for lang, state in (("zh-CN", "已拒绝"), ("en", "refused")):
        mine = row(site("alice", lang).get("packages").text, rid)
        assert f">{state}</span>" in mine and "use scipy.stats 请用 scipy" in mine
    again = bob.post(f"packages/{rid}/approve", {"version": "1.0"})
    assert again.status_code == 409 and field_problems(again.text, "decision") == [
        f"package request {rid} is already refused"]
    assert [e.actor for e in actions("package.refuse")] == ["bob"]


def test_nobody_decides_their_own_request_and_the_refusal_is_recorded(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    rid = asked_id(ask(site("alice"), "tinyother"))
    alice = site("alice", "zh-CN")
    queue = row(alice.get("packages/queue").text, rid)
    assert "任何人都不能审批自己的软件包申请" in queue and f'id="approve-{rid}"' not in queue
    r = alice.post(f"packages/{rid}/approve", {"version": "1.0"})
    assert r.status_code == 403 and field_problems(r.text, "decision") == ["任何人都不能审批自己的软件包申请"]
    r = site("dave", "zh-CN").post(f"packages/{rid}/refuse", {"reason": "no"})  # not a steward: no queue to show
    assert r.status_code == 403 and "只有软件包管理员（packages.yaml 中的 stewards）可以批准或拒绝软件包申请" in r.text
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == RequestState.REQUESTED
    missing = site("bob", "zh-CN").post("packages/999/approve", {"version": "1.0"})
    assert missing.status_code == 404 and "没有编号为 999 的软件包申请" in missing.text
    assert [e.actor for e in actions("package.decide.refused")] == ["alice", "dave", "bob"]


def test_a_decision_without_the_xsrf_token_changes_nothing(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    rid = asked_id(ask(site("alice"), "tinyother"))
    bob = site("bob")
    bob.get("packages/queue")
    r = bob.http.post(f"packages/{rid}/refuse", data={"reason": "no"})
    assert r.status_code == 403 and "_xsrf" in r.text
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == RequestState.REQUESTED


# --- telling the researcher --------------------------------------------------------------------------------

def test_the_requester_is_told_each_decision_in_both_languages_without_the_reason(pkgs, site):  # type: ignore[no-untyped-def] # noqa: F811
    make_wheel(pkgs, "tinyother", "1.0")
    one = asked_id(ask(site("alice"), "tinyother"))
    two = asked_id(ask(site("dave"), "tinyplot"))
    site("bob").post(f"packages/{one}/approve", {"version": "1.0"})
    site("bob").post(f"packages/{two}/refuse", {"reason": "secret steward remark"})
    with session_scope() as s:
        told = notify.process(s, get_settings(), load_policies(get_settings().policy_dir), start_at_head=False)
    decided = {n.kind: n for n in told if n.kind.startswith("package.")}
    assert set(decided) == {"package.approved", "package.refused"}
    approved, refused = decided["package.approved"], decided["package.refused"]
    assert approved.to == ["alice"] and refused.to == ["dave"]
    assert "已获批准" in approved.body() and "was approved: `pip install tinyother`" in approved.body()
    assert "未获批准" in refused.body() and "was refused" in refused.body()
    assert "secret steward remark" not in refused.body() and refused.link.endswith(f"packages#request-{two}")


# --- the setting that points the host's pip at a mirror (or, here, a folder) -------------------------------

def test_the_fetch_arguments_are_shell_words_and_bad_quoting_is_a_clear_error():
    got = load_settings({"ENCLAVE_PACKAGES_FETCH_ARGS": "--index-url https://mirror.example/simple --cert '/a b'"})
    assert got.packages_fetch_args == ("--index-url", "https://mirror.example/simple", "--cert", "/a b")
    assert load_settings({}).packages_fetch_args == ()
    with pytest.raises(ConfigError, match="ENCLAVE_PACKAGES_FETCH_ARGS=.* is not a list of shell words"):
        load_settings({"ENCLAVE_PACKAGES_FETCH_ARGS": "--cert '/a"})


def test_every_word_of_the_packages_pages_has_a_chinese_entry():
    from governance.i18n import ZH_CN
    from governance.service import TEMPLATES

    words = set()
    for name in ("packages.html", "package_queue.html", "_packages.html"):
        words |= set(re.findall(r't\("([^"]+)"\)', (TEMPLATES / name).read_text(encoding="utf-8")))
    assert len(words) > 20
    assert sorted(w for w in words if w not in ZH_CN) == []
