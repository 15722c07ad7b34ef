"""The output checkers' pages of the jobs service over real HTTP (the hub's token check replaced by a table, the
login cookie signed as the hub's OAuth flow would set it, as in the export pages' tests).

Proves that an independent output checker sees the queue of held jobs and a held file's checked content
(escaped, with its findings), releases it after confirming and the file is then in the workspace's jobs
folder; that members, the requester and researchers are refused the pages (audited, in their language);
that a form mistake comes back beside its field with the input kept; that every view is audited; and that
the workspace API still refuses a call arriving from the proxy's address.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import httpx
import pytest
from jupyterhub.services.auth import HubOAuth

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.models import Job, JobRelease, JobState
from enclave.settings import WORKSPACE_JOBS, get_settings
from enclave.workspaces import RunningWorkspace
from jobs.files import store_blob
from jobs.scopes import SERVICE_ACCESS
from jobs.workflow import get_job
from tests.unit import test_jobs_service as service_tests
from tests.unit.test_egress_service_auth import Service
from tests.unit.test_jobs_service import ELSEWHERE, HERE, TOKENS, Api

projects, api = service_tests.projects, service_tests.api  # the running service and its two projects
HELD_TEXT = "region,count\nnorth,3\n<script>alert(1)</script>\n"
PEOPLE = ("rita", "alice", "mia", "eve")


@pytest.fixture
def checkers(own_hub_auth: None, api: Api) -> Iterator[Service]:
    """rita: reviewer, in no project; alice: the submitter (a member), given the reviewer role too; mia: a
    member of study with the reviewer role; eve: a researcher. Each signs in with a browser token."""
    from enclave.projects import add_member, upsert_user

    with session_scope() as s:
        upsert_user(s, "steward", "rita", roles=["reviewer"])
        upsert_user(s, "steward", "mia", roles=["researcher", "reviewer"])
        upsert_user(s, "steward", "alice", roles=["researcher", "reviewer"])
        add_member(s, "steward", "study", "mia")
    TOKENS.update({f"{n}-token": {"name": n, "kind": "user", "scopes": [SERVICE_ACCESS]} for n in PEOPLE})
    yield Service(api.base, HubOAuth().cookie_name, bytes.fromhex(get_settings().secret("jobs-cookie")))
    for n in PEOPLE:
        TOKENS.pop(f"{n}-token", None)


def held_job() -> int:
    """A finished job of study whose table the checks held (a small count), beside a log that passed."""
    store = get_settings().jobs_store
    outputs = {"log.txt": {"sha256": store_blob(store, b"done\n"), "original_sha256": "0" * 64, "bytes": 5,
                           "verdict": "pass", "kinds": [], "findings": []},
               "results/by_region.csv": {
                   "sha256": store_blob(store, HELD_TEXT.encode()), "original_sha256": "1" * 64,
                   "bytes": len(HELD_TEXT), "verdict": "review", "kinds": ["disclosure-control:threshold>=10"],
                   "findings": [{"check": "disclosure-control", "kind": "threshold>=10", "verdict": "review",
                                 "location": {"row": 2, "column": "count"}}]}}
    with session_scope() as s:
        job = Job(project="study", submitter="alice", command="python analysis/main.py", code_sha256="c" * 64,
                  state=JobState.FINISHED, exit_code=0, reason="exited with code 0", release=JobRelease.HELD,
                  outputs=outputs, ended_at=datetime.now(UTC))
        s.add(job)
        s.flush()
        return job.id


def browser(svc: Service, user: str, lang: str = "en") -> httpx.Client:
    c = svc.client(user)
    c.headers["Accept-Language"] = lang
    return c


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def form_token(page: str) -> str:
    m = re.search(r'name="_xsrf" value="([^"]+)"', page)
    assert m, "no form on the page"
    return m.group(1)


def actions(action: AuditAction, user: str) -> list[dict[str, Any]]:
    with session_scope() as s:
        return list(audit.query(s, action=action, user=user))


def test_a_checker_sees_the_queue_and_the_held_content_and_releases_it_into_the_workspace(checkers: Service):
    jid = held_job()
    rita = browser(checkers, "rita")
    queue = rita.get("")
    assert queue.status_code == 200, queue.text
    row = re.search(rf'<tr data-job="{jid}">(.*?)</tr>', queue.text, re.S)
    assert row and "study" in row.group(1) and "alice" in row.group(1) and "python analysis/main.py" in row.group(1)
    assert "disclosure-control:threshold&gt;=10" in row.group(1)
    page = rita.get(f"held/{jid}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text  # escaped
    shown = text(page.text)
    assert "north,3" in shown and f"Shown in full ({len(HELD_TEXT)} bytes)." in shown
    assert "disclosure-control threshold>=10 row 2, column count" in shown
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    form = {"_xsrf": form_token(page.text), "decision": "release", "reason": "counts checked; 3 is a category"}
    ask = rita.post(f"held/{jid}", data=form)
    assert ask.status_code == 200 and 'id="confirm-form"' in ask.text
    assert "Nothing has been recorded yet." in text(ask.text)
    with session_scope() as s:
        assert get_job(s, jid).release == JobRelease.HELD  # nothing before the confirmation
    done = rita.post(f"held/{jid}", data={**form, "confirm": "yes"})
    assert done.status_code == 302 and done.headers["location"].endswith(f"held/{jid}?done=released")
    after = text(rita.get(f"held/{jid}?done=released").text)
    assert f"Released: the held files are now in /workspace/jobs/{jid}/ of project study." in after
    delivered = get_settings().workspace_dir("study") / WORKSPACE_JOBS / str(jid)
    assert (delivered / "results" / "by_region.csv").read_text() == HELD_TEXT
    with session_scope() as s:
        assert (get_job(s, jid).release, get_job(s, jid).released_by) == (JobRelease.RELEASED, "rita")
    assert f'data-job="{jid}"' not in rita.get("").text  # no longer in the queue


def test_every_view_of_held_content_is_audited_with_the_files_shown(checkers: Service):
    jid = held_job()
    rita = browser(checkers, "rita")
    for _ in range(2):
        assert rita.get(f"held/{jid}").status_code == 200
    views = actions(AuditAction.JOB_INSPECT, "rita")
    assert [(v["project"], v["target"]) for v in views] == [("study", f"job:{jid}")] * 2
    assert list(views[0]["details"]["files"]) == ["results/by_region.csv"]


@pytest.mark.parametrize("who", ["alice", "mia", "eve"])
def test_the_requester_a_member_and_a_researcher_are_refused_the_pages_and_it_is_audited(checkers: Service,
                                                                                         who: str):
    jid = held_job()
    c = browser(checkers, who)
    page = c.get(f"held/{jid}")
    assert page.status_code == 403 and "north,3" not in page.text
    expected = ("only output checkers (the reviewer role) may release a job's held outputs" if who == "eve"
                else "you are or were a member of project 'study': you cannot check its outputs")
    assert expected in unescape(page.text)
    c.cookies.set("_xsrf", "x")
    junk = c.post(f"held/{jid}", data={"_xsrf": "x", "decision": "release", "reason": "r"})
    assert junk.status_code == 403  # a post without this browser's form token is refused, and answered
    queue = c.get("")
    assert f'data-job="{jid}"' not in queue.text
    assert queue.status_code == (403 if who == "eve" else 200)
    steps = [e["details"]["step"] for e in actions(AuditAction.JOB_REFUSED, who)]
    assert steps.count("inspect") == 1 and (who != "eve" or "queue" in steps)
    assert actions(AuditAction.JOB_INSPECT, who) == []
    with session_scope() as s:
        assert get_job(s, jid).release == JobRelease.HELD


def test_an_empty_reason_comes_back_beside_its_field_with_the_choice_kept(checkers: Service):
    jid = held_job()
    rita = browser(checkers, "rita")
    page = rita.post(f"held/{jid}", data={"_xsrf": form_token(rita.get(f"held/{jid}").text),
                                          "decision": "withhold", "reason": "   "})
    assert page.status_code == 400
    problem = re.search(r'<p class="problem" data-field="reason">([^<]+)</p>', page.text)
    assert problem and problem.group(1) == "a reason is required: say what you checked"
    assert re.search(r'name="decision" value="withhold" checked', page.text)
    assert 'id="confirm-form"' not in page.text
    with session_scope() as s:
        assert get_job(s, jid).release == JobRelease.HELD


def test_the_pages_are_in_chinese_for_a_chinese_browser(checkers: Service):
    jid = held_job()
    rita = browser(checkers, "rita", "zh-CN,zh;q=0.9")
    page = rita.get(f"held/{jid}")
    assert '<html lang="zh-CN">' in page.text
    shown = text(page.text)
    assert "待审文件" in shown and "第 2 行 count 列" in shown and "放行：待审文件交付到项目的工作区" in shown
    assert "Held files" not in shown and "Reason (what you checked)" not in shown
    refused = browser(checkers, "eve", "zh-CN").get(f"held/{jid}")
    assert '<html lang="zh-CN">' in refused.text
    assert "只有输出审核员（审核员角色）可以发布作业被扣留的输出" in refused.text
    bad = rita.post(f"held/{jid}", data={"_xsrf": form_token(page.text), "reason": ""})
    assert "请选择放行或不放行" in bad.text and "必须填写理由：请说明您检查了什么" in bad.text


def test_a_workspace_api_call_arriving_through_the_proxy_is_refused(checkers: Service, api: Api):
    """Through the proxy every call comes from 127.0.0.1 (the proxy's address), not the workspace's container;
    a forwarded-for header naming the container changes nothing, and a checker's browser cookie is no token."""
    api.workspaces["alice"] = RunningWorkspace("study", frozenset({ELSEWHERE}))
    with httpx.Client(base_url=api.base, timeout=30) as c:
        proxied = c.post("api/jobs", json={"run": "python analysis/main.py"},
                         headers={"Authorization": "token alice-workspace", "X-Forwarded-For": ELSEWHERE,
                                  "X-Real-Ip": ELSEWHERE})
    assert HERE == "127.0.0.1"
    assert proxied.status_code == 403 and proxied.json()["error"] == "jobs are accepted only from your own workspace"
    with browser(checkers, "rita") as rita:
        assert rita.get("api/jobs").status_code == 403
    with session_scope() as s:
        assert s.query(Job).count() == 0


def test_a_page_visitor_without_a_login_is_sent_to_the_hub(checkers: Service):
    r = checkers.client().get("")
    where = r.headers.get("location", "")
    assert r.status_code == 302 and ("oauth" in where or "login" in where), where


def test_the_checks_keep_each_findings_check_kind_and_place_for_the_checker_but_no_detail(projects: dict[str, Any]):
    """What the job page lists comes from the runner's check of the outputs: check, kind, verdict, location."""
    from jobs import results
    from policies import load_policies
    from tests.identifiers import RID

    settings = get_settings()
    with session_scope() as s:
        job = Job(project="study", submitter="alice", command="python main.py", code_sha256="c" * 64, datasets={})
        checked, _release = results.check_files(settings, load_policies(settings.policy_dir), s, job,
                                                {"results/ids.txt": f"a\nid {RID}\n".encode()})
    findings = checked["results/ids.txt"]["findings"]
    assert findings and {f["check"] for f in findings} == {"personal-data"}
    assert all(set(f) == {"check", "kind", "verdict", "location"} for f in findings)
    assert RID not in str(findings) and any(f["location"] for f in findings)


@pytest.mark.parametrize(("lang", "said", "other"), [
    ("en", "the jobs service failed on this page; tell the enclave administrators", "作业服务"),
    ("zh-CN,zh;q=0.9", "作业服务在此页面出错；请告知安全区管理员", "the jobs service failed")])
def test_an_unexpected_failure_of_a_page_says_whom_to_tell_in_the_readers_language(
        checkers: Service, monkeypatch: pytest.MonkeyPatch, lang: str, said: str, other: str):
    from jobs import pages

    def broken(_user: Any) -> None:
        raise RuntimeError("a bug, not a refusal")

    monkeypatch.setattr(pages.rules, "check_is_output_checker", broken)
    page = browser(checkers, "rita", lang).get("")  # the queue
    assert page.status_code == 500 and said in text(page.text) and other not in text(page.text)
    assert "RuntimeError" not in page.text and "Traceback" not in page.text
