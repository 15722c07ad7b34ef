"""A researcher in a real browser: OIDC login, project choice, JupyterLab, a polars cell on the demo data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from enclave.demo import DEMO_PROJECT
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
        page.wait_for_url(f"**/requests/{rid}")
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
                       "print('BLOCKED', b['id'], b['files'][0]['verdict'], b['files'][0]['findings'][0]['entity'])",
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
        assert [r["reviewer"] for r in rec["reviews"]] == ["bob", "carol"]
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
