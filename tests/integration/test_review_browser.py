"""A reviewer's and a requester's day in a real browser, in English and Chinese (issue 14, "Reviewing").

One request with a safe table and a file with a resident ID: bob (en) and carol (zh-CN) claim it, read
each file beside its controls, make a mistake that comes back beside its field, confirm, and release
the table while the blocked file is withheld; alice reads every comment and downloads the table only.
A second request is returned, revised from the workspace as version 2, and its reviewer sees what changed;
a third is returned and revised from alice's request page in the browser (zh-CN), with a mistake first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from egress_review import workflow
from enclave.db import session_scope
from enclave.models import Decision, ExportRequest
from enclave.settings import JOBS_PREFIX
from enclave_demo.data import DEMO_PROJECT
from enclave_demo.harness import run_in
from policies import load_policies
from tests.integration.conftest import OTHER_PROJECT, Enclave, check_page, login

SERVICE = "/services/egress-review/"
MAKE = r"""
import json, os
from enclave_export import call, request_export
os.makedirs('/workspace/review', exist_ok=True)
open('/workspace/review/table.csv', 'w').write('sex,n\nF,9800\nM,10200\n')
open('/workspace/review/ids.txt', 'w').write('身份证号 11010519491231002X\n')
open('/workspace/review/small.csv', 'w').write('region,n\neast,4\nwest,120\n')
open('/workspace/review/method.txt', 'w').write('Method: counts by region.\nSource: the clinic.\n')
two = request_export(['review/table.csv', 'review/ids.txt'], 'counts and a list')
small = request_export(['review/small.csv'], 'counts by region')
method = request_export(['review/method.txt'], 'how the counts were made')
print(json.dumps({'two': two, 'small': small, 'method': method}))
"""


@pytest.fixture(scope="module")
def made(enclave: Enclave) -> Iterator[dict]:
    alice = enclave.login("alice")
    assert alice.start(DEMO_PROJECT).status_code in (201, 202)
    try:
        yield run_in(enclave.container("alice"), MAKE) | {"session": alice}
    finally:
        alice.stop()


def person(browser: Browser, enclave: Enclave, user: str, locale: str,
           timezone_id: str | None = None) -> tuple[BrowserContext, Page]:
    # bypass_csp: the pages allow no script, and axe-core (check_page) is one, injected by the test only
    context = browser.new_context(locale=locale, accept_downloads=True, bypass_csp=True, timezone_id=timezone_id)
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, enclave, user)
    page.wait_for_url(re.compile(r"/(hub|user|services)/"))  # the hub, a role's landing page, or a workspace
    return context, page


def fieldset(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator("fieldset.file").filter(has=page.locator("legend a", has_text=name))


def review_per_file(page: Page, enclave: Enclave, rid: int, zh: bool, others: tuple[int, ...] = ()) -> None:
    """Claim, read, make a mistake, correct it, confirm: the table approved, the blocked file returned.
    `others`: the requester's other requests in the project, which the decision page lists for context."""
    lang = "zh-CN" if zh else "en"
    page.goto(f"{enclave.url}{SERVICE}")
    row = page.locator(f"#queue tr[data-request='{rid}']")
    expect(row.locator("td.waited")).to_have_text(re.compile(r"\d+ (分钟|小时|min|h)"))
    check_page(page, lang, "review queue")
    jobs = page.locator("#jobs-queue")  # the other queue an output checker works from
    expect(jobs).to_have_attribute("href", JOBS_PREFIX)
    expect(jobs).to_have_text("敏感数据作业的待审输出" if zh else "Held outputs of jobs on sensitive data")
    row.locator("a").first.click()
    check_page(page, lang, "decision page")
    earlier = page.locator("#earlier")
    for other in others:
        expect(earlier.locator(f"a[href$='requests/{other}']")).to_have_text(f"#{other}")
    page.click("#claim")
    expect(page.locator("#done")).to_contain_text("您已认领此申请" if zh else "You claimed this request")
    table, ids = fieldset(page, "review/table.csv"), fieldset(page, "review/ids.txt")
    expect(table.locator(".inline-content")).to_contain_text("9800")  # the content beside the controls
    expect(ids.locator("input[value='approve']")).to_be_disabled()
    expect(ids.locator(".why-not")).to_contain_text("有阻止性检查结果" if zh else "has blocking findings")
    expect(ids.locator(".finding-text").first).to_contain_text("居民身份证号" if zh else "a resident ID number")
    # a mistake: no vote on the blocked file; what was typed is kept and the problem is beside the field
    table.locator("input[value='approve']").check()
    table.locator("textarea").fill("汇总计数" if zh else "aggregate counts")
    page.locator("fieldset.decision input[value='approve']").check()
    page.click("#submit-review")
    expect(ids.locator(".problem")).to_contain_text("请为文件" if zh else "no decision given for file")
    expect(table.locator("textarea")).to_have_value("汇总计数" if zh else "aggregate counts")
    expect(table.locator("input[value='approve']")).to_be_checked()
    ids.locator("input[value='changes']").check()
    ids.locator("textarea").fill("删除身份证号列" if zh else "drop the ID column")
    page.click("#submit-review")
    expect(page.locator("#confirm-files")).to_contain_text("将会发布" if zh else "will be released")
    expect(page.locator("#confirm-files")).to_contain_text("将不发布" if zh else "will be withheld")
    check_page(page, lang, "decision confirmation")
    page.click("#confirm")
    page.wait_for_url(re.compile(rf"/requests/{rid}\?done=reviewed"))
    expect(page.locator("#done")).to_contain_text("您的审核已记录" if zh else "Your review is recorded")
    expect(ids.locator(".my-vote")).to_contain_text("删除身份证号列" if zh else "drop the ID column")


def test_reviewers_release_the_approved_file_and_the_requester_reads_every_comment(
        enclave: Enclave, browser: Browser, made):
    rid = made["two"]["id"]
    for user, locale in (("bob", "en-US"), ("carol", "zh-CN")):
        context, page = person(browser, enclave, user, locale)
        try:
            review_per_file(page, enclave, rid, zh=locale == "zh-CN",
                            others=(made["small"]["id"], made["method"]["id"]))
        finally:
            context.close()
    context, page = person(browser, enclave, "alice", "zh-CN")
    try:
        page.goto(f"{enclave.url}{SERVICE}requests/{rid}")
        expect(page.locator("#state")).to_have_text("已发布")
        ids = fieldset(page, "review/ids.txt")
        expect(ids.locator(".outcome")).to_contain_text("未发布")
        expect(ids.locator(".file-comments")).to_contain_text("drop the ID column")
        expect(ids.locator(".file-comments")).to_contain_text("删除身份证号列")
        expect(page.locator("#downloads li")).to_have_count(2)  # the table and results.json, not the blocked file
        with page.expect_download() as dl:
            page.click("#results")
        record = json.loads(Path(dl.value.path()).read_text())
        assert [f["name"] for f in record["files"]] == ["review/table.csv"]
        assert [(f["name"], f["outcome"]) for f in record["withheld"]] == [("review/ids.txt", "returned")]
        check_page(page, "zh-CN", "released request")
        fieldset(page, "review/table.csv").locator("legend a").click()  # the whole file, on its own page
        expect(page.locator("#content")).to_contain_text("9800")
        check_page(page, "zh-CN", "file page")
        page.goto(f"{enclave.url}{SERVICE}requests/999999")  # the service's own error page
        expect(page.locator("#error")).to_have_text("没有编号为 999999 的导出申请")
        check_page(page, "zh-CN", "error page")
        page.goto(f"{enclave.url}{SERVICE}guidance")
        expect(page.locator("#personal-data h3")).to_have_text("个人信息")
        check_page(page, "zh-CN", "guidance")
    finally:
        context.close()


def return_by_both(enclave: Enclave, rid: int, fid: str, file_comment: str, comment: str) -> None:
    """Both reviewers return the request, through the same form a browser posts."""
    for user in ("bob", "carol"):
        session = enclave.login(user)
        page = session.http.get(f"{enclave.url}{SERVICE}requests/{rid}", timeout=30).text
        token = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        r = session.http.post(f"{enclave.url}{SERVICE}requests/{rid}/review", timeout=30, data={
            "_xsrf": token, "decision": "return", f"file-{fid}": "changes", f"comment-{fid}": f"{user}: {file_comment}",
            "comment_to_requester": comment, "confirm": "yes"})
        assert r.status_code == 200


def test_a_returned_request_comes_back_as_version_two_with_what_changed(enclave: Enclave, browser: Browser, made):
    rid = made["small"]["id"]
    return_by_both(enclave, rid, str(made["small"]["files"][0]["id"]), "suppress 4", "Suppress counts under 10.")
    revised = run_in(enclave.container("alice"), "import json\nfrom enclave_export import call\n"
                     "open('/workspace/review/small.csv', 'w').write('region,n\\neast,<10\\nwest,120\\n')\n"
                     f"print(json.dumps(call('POST', 'api/requests', {{'files': ['review/small.csv'], "
                     f"'justification': 'suppressed', 'revises': {rid}}})))")
    assert revised["version"] == 2 and revised["revision_of"] == rid
    context, page = person(browser, enclave, "bob", "en-US")  # he returned version 1: he sees both
    try:
        page.goto(f"{enclave.url}{SERVICE}requests/{revised['id']}")
        expect(page.locator("#diff")).to_contain_text("review/small.csv")
        expect(page.locator("#diff")).to_contain_text("changed")
        expect(page.locator("#history")).to_contain_text("bob: suppress 4")
        expect(page.locator("#history")).to_contain_text("Suppress counts under 10.")
        page.goto(f"{enclave.url}{SERVICE}requests/{rid}")
        expect(page.locator("#state")).to_have_text("revised")
    finally:
        context.close()


def test_a_returned_request_is_revised_from_the_request_page_in_the_browser(enclave: Enclave, browser: Browser, made):
    rid = made["method"]["id"]
    return_by_both(enclave, rid, str(made["method"]["files"][0]["id"]), "name the clinic", "Say which clinic.")
    changed = "'Method: counts by region.\\nSource: the outpatient clinic, 2024.\\n'"
    run_in(enclave.container("alice"), f"open('/workspace/review/method.txt', 'w').write({changed})\nprint(1)")
    context, page = person(browser, enclave, "alice", "en-US")
    try:  # in English: the form offers the returned version's file, ticked, and keeps the justification
        page.goto(f"{enclave.url}{SERVICE}requests/{rid}/revise")
        expect(page.locator("h2")).to_contain_text("Revise request")
        expect(page.locator("input[name='file'][value='review/method.txt']")).to_be_checked()
        expect(page.locator("#justification")).to_have_value("how the counts were made")
    finally:
        context.close()
    context, page = person(browser, enclave, "alice", "zh-CN")
    try:
        page.goto(f"{enclave.url}{SERVICE}requests/{rid}")
        page.click("#revise-link")
        expect(page.locator("#revise-comments")).to_contain_text("Say which clinic.")
        page.fill("#justification", " ")  # a mistake: the problem is beside the field, in Chinese, the rest kept
        page.fill("#other", "review/small.csv")
        page.click("#check-revision")
        expect(page.locator(".problem[data-field='justification']")).to_contain_text("必须填写理由说明")
        expect(page.locator("#other")).to_have_value("review/small.csv")
        check_page(page, "zh-CN", "revise form with a mistake")
        page.fill("#other", "")
        page.fill("#justification", "写明了诊所")
        page.click("#check-revision")
        expect(page.locator("#confirm-files")).to_contain_text("原有文件：重新读取")
        check_page(page, "zh-CN", "revise confirmation")
        page.click("#confirm")
        page.wait_for_url(re.compile(r"/requests/\d+\?done=revised"))
        expect(page.locator("#done")).to_contain_text("您的修订已作为此申请的新版本提交")
        expect(page.locator("#diff")).to_contain_text("已修改")
        expect(page.locator("pre.text-diff .diff-add")).to_contain_text("+Source: the outpatient clinic, 2024.")
        expect(page.locator("#history")).to_contain_text("Say which clinic.")
        check_page(page, "zh-CN", "revised request")
        new = page.url.rsplit("/", 1)[1].split("?")[0]
    finally:
        context.close()
    context, page = person(browser, enclave, "bob", "en-US")  # the reviewer sees the line that changed
    try:
        page.goto(f"{enclave.url}{SERVICE}requests/{new}")
        expect(page.locator("#diff")).to_contain_text("changed")
        expect(page.locator("pre.text-diff .diff-del")).to_contain_text("-Source: the clinic.")
    finally:
        context.close()


# --- Withdrawing, the queue's filters and sorting, times in the reader's zone (issue 14) ----------------------
# These requests are made by the export workflow in this process (the service's own code and checks), not from
# a workspace: what is proven here is what the pages do with them, and no workspace has to start for it.

TABLE = b"sex,n\nF,9800\nM,10200\n"
RESIDENT_ID = "身份证号 11010519491231002X\n".encode()
LANGS = [("en-US", "en"), ("zh-CN", "zh-CN")]


def state_in_db(rid: int) -> str:
    with session_scope() as s:
        return s.get(ExportRequest, rid).state.value  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def queued(enclave: Enclave) -> dict[str, int]:
    """dave (other-study): a table waiting three days, a file with a resident ID, a fresh table, one request to
    withdraw per language and one to read times on; alice (demo): a table carol has reviewed (in review)."""
    egress = load_policies(enclave.settings.policy_dir).egress

    def submit(who: str, project: str, files: list[tuple[str, bytes]], why: str) -> int:
        with session_scope() as s:
            return workflow.submit(s, who, project, files, why, enclave.settings.egress_store,
                                   egress.for_project(project)).id

    made = {"old": submit("dave", OTHER_PROJECT, [("q/old.csv", TABLE)], "counts by sex, last week"),
            "blocked": submit("dave", OTHER_PROJECT, [("q/ids.txt", RESIDENT_ID)], "a list"),
            "fresh": submit("dave", OTHER_PROJECT, [("q/fresh.csv", TABLE)], "counts by sex"),
            "reviewed": submit("alice", DEMO_PROJECT, [("q/reviewed.csv", TABLE)], "counts by sex"),
            "withdraw-en": submit("dave", OTHER_PROJECT, [("q/w-en.csv", TABLE)], "sent by mistake"),
            "withdraw-zh-CN": submit("dave", OTHER_PROJECT, [("q/w-zh.csv", TABLE)], "误发的申请"),
            "times": submit("dave", OTHER_PROJECT, [("q/times.csv", TABLE)], "counts by sex")}
    with session_scope() as s:
        old = s.get(ExportRequest, made["old"])
        old.created_at = old.updated_at = datetime.now(UTC) - timedelta(days=3, minutes=5)  # type: ignore[union-attr]
        fid = str(s.get(ExportRequest, made["reviewed"]).files[0].id)  # type: ignore[union-attr]
    with session_scope() as s:
        workflow.review(s, "carol", made["reviewed"], Decision.APPROVE, {fid: {"decision": "approve", "comment": ""}},
                        "aggregate counts")
    return made


def queue_rows(page: Page) -> list[dict[str, str]]:
    """The queue as the page shows it, top to bottom."""
    return page.eval_on_selector_all("#queue tr[data-request]", """rows => rows.map(r => ({
        id: r.dataset.request, project: r.cells[1].innerText.trim(), state: r.querySelector('.state').innerText,
        verdict: r.querySelector('.verdict').className, waited: r.querySelector('td.waited').innerText}))""")


def apply_filter(page: Page, **chosen: str) -> list[dict[str, str]]:
    """Chooses in the filter form as a reviewer would (all others back to "All") and applies it."""
    for name in ("project", "state", "verdict"):
        page.select_option(f"#queue-filter select[name='{name}']", chosen.get(name, ""))
    page.select_option("#queue-filter select[name='sort']", chosen.get("sort", "waited"))
    page.fill("#queue-filter input[name='age']", chosen.get("age", ""))
    with page.expect_navigation():
        page.click("#apply-filter")
    return queue_rows(page)


def ids(rows: list[dict[str, str]]) -> list[int]:
    return [int(r["id"]) for r in rows]


@pytest.mark.parametrize(("reviewer", "locale", "lang"), [("bob", "en-US", "en"), ("rhea", "zh-CN", "zh-CN")])
def test_the_review_queue_filters_by_project_state_age_and_verdict_and_sorts(
        enclave: Enclave, browser: Browser, queued, reviewer: str, locale: str, lang: str):
    zh = lang == "zh-CN"
    mine = {queued[k] for k in ("old", "blocked", "fresh", "reviewed")}
    context, page = person(browser, enclave, reviewer, locale)
    try:
        page.goto(f"{enclave.url}{SERVICE}")
        everything = queue_rows(page)
        assert mine <= set(ids(everything)), everything
        # waiting time is shown; longest waiting first: the three-day-old request, then the others oldest first
        waited = {int(r["id"]): r["waited"] for r in everything}
        assert re.fullmatch(r"3 天 0 小时" if zh else r"3 d 0 h", waited[queued["old"]]), waited
        assert re.fullmatch(r"\d+ (分钟|小时)" if zh else r"\d+ (min|h)", waited[queued["fresh"]]), waited
        assert ids(everything)[0] == queued["old"] and ids(everything)[1:] == sorted(ids(everything)[1:])
        check_page(page, lang, "review queue")

        rows = apply_filter(page, project=OTHER_PROJECT)
        assert {r["project"] for r in rows} == {OTHER_PROJECT}
        assert {queued["old"], queued["blocked"], queued["fresh"]} <= set(ids(rows))
        assert queued["reviewed"] not in ids(rows)
        rows = apply_filter(page, state="in_review")
        assert queued["reviewed"] in ids(rows) and queued["fresh"] not in ids(rows)
        assert {r["state"] for r in rows} == {"审核中" if zh else "in review"}, rows
        rows = apply_filter(page, verdict="block")
        assert queued["blocked"] in ids(rows) and not {queued["old"], queued["fresh"]} & set(ids(rows))
        assert {r["verdict"] for r in rows} == {"verdict verdict-block"}
        rows = apply_filter(page, age="2")
        assert ids(rows) == [queued["old"]]  # every other request was made during this run, minutes ago
        # the form keeps what was chosen, and one more filter narrows further
        expect(page.locator("#queue-filter input[name='age']")).to_have_value("2")
        assert apply_filter(page, age="2", verdict="block") == []
        expect(page.locator("#queue-filter + p.note")).to_have_text("没有申请。" if zh else "No requests.")
        check_page(page, lang, "review queue, filtered to nothing")

        rows = apply_filter(page, sort="newest")
        assert ids(rows) == sorted(ids(rows), reverse=True) and ids(rows)[0] != queued["old"]
        rows = apply_filter(page, sort="project")
        assert [(r["project"], int(r["id"])) for r in rows] == sorted((r["project"], int(r["id"])) for r in rows)
        assert ids(rows) != ids(everything) and sorted(ids(rows)) == sorted(ids(everything))
        check_page(page, lang, "review queue, sorted by project")
    finally:
        context.close()


@pytest.mark.parametrize(("locale", "lang"), LANGS)
def test_withdrawing_asks_first_and_then_says_it_is_withdrawn(enclave: Enclave, browser: Browser, queued,
                                                               locale: str, lang: str):
    zh, rid = lang == "zh-CN", queued[f"withdraw-{lang}"]
    context, page = person(browser, enclave, "dave", locale)
    try:
        page.goto(f"{enclave.url}{SERVICE}requests/{rid}")
        expect(page.locator("#state")).to_have_text("已提交" if zh else "submitted")
        page.click("#withdraw")
        expect(page.locator("h2")).to_contain_text("确定撤回此申请？" if zh else "Withdraw this request?")
        expect(page.locator("#confirm-what")).to_contain_text("撤回后无法恢复" if zh else "cannot be undone")
        check_page(page, lang, "withdrawal confirmation")
        assert state_in_db(rid) == "submitted"  # asking recorded nothing
        page.click("#cancel")  # changing one's mind leaves the request as it was
        expect(page.locator("#state")).to_have_text("已提交" if zh else "submitted")
        assert state_in_db(rid) == "submitted"

        page.click("#withdraw")
        page.click("#confirm")
        page.wait_for_url(re.compile(rf"/requests/{rid}\?done=withdrawn"))
        expect(page.locator("#done")).to_contain_text("申请已撤回。" if zh else "The request is withdrawn.")
        expect(page.locator("#done")).to_contain_text("当前状态：已撤回。" if zh else "Now: withdrawn.")
        expect(page.locator("#state")).to_have_text("已撤回" if zh else "withdrawn")
        expect(page.locator("#withdraw")).to_have_count(0)  # nothing left to withdraw
        assert state_in_db(rid) == "withdrawn"
        check_page(page, lang, "withdrawn request")
        page.goto(f"{enclave.url}{SERVICE}")
        expect(page.locator(f"#mine tr[data-request='{rid}'] .state")).to_have_text("已撤回" if zh else "withdrawn")
    finally:
        context.close()
    queue = enclave.login("bob").http.get(f"{enclave.url}{SERVICE}", timeout=30).text  # gone from the reviewers
    assert 'id="queue"' in queue or "No requests." in queue
    assert f'data-request="{rid}"' not in queue.split("<h3>")[0]  # the queue comes before "Requests I reviewed"


ZONES = {"Asia/Shanghai": {"zh-CN": "中国标准时间", "en": "China Standard Time"},
         "Europe/London": {"zh-CN": "Europe/London", "en": "Europe/London"}}  # no words for it: its IANA name


@pytest.mark.parametrize(("locale", "lang"), LANGS)
def test_the_request_page_shows_times_in_the_browsers_time_zone_and_names_it(
        enclave: Enclave, browser: Browser, queued, locale: str, lang: str):
    rid = queued["times"]
    with session_scope() as s:
        created = s.get(ExportRequest, rid).created_at  # type: ignore[union-attr]
    created = created if created.tzinfo else created.replace(tzinfo=UTC)  # stored in UTC (SQLite drops the zone)
    shown = {}
    for zone, label in ZONES.items():
        context, page = person(browser, enclave, "dave", locale, timezone_id=zone)
        try:
            expected = f"{created.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {label[lang]}"
            page.goto(f"{enclave.url}{SERVICE}requests/{rid}")
            expect(page.locator("#submitted")).to_have_text(expected)
            check_page(page, lang, f"request page in {zone}")
            page.goto(f"{enclave.url}{SERVICE}")
            expect(page.locator(f"#mine tr[data-request='{rid}'] time")).to_have_text(expected)
            shown[zone] = expected
        finally:
            context.close()
    assert shown["Asia/Shanghai"][:16] != shown["Europe/London"][:16]  # 8 hours apart in December, or 7 in summer
