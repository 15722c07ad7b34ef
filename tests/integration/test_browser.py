"""A researcher in a real browser: OIDC login, project choice, JupyterLab, a polars cell on the demo data."""

from __future__ import annotations

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


def test_researcher_logs_in_and_analyses_the_demo_dataset(enclave: Enclave, browser: Browser, tmp_path):
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
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
        cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
        expect(cell).to_be_visible()
        expect(page.locator(".jp-StatusBar-Widget").filter(has_text="Idle").first).to_be_visible(timeout=90_000)
        cell.click()
        page.keyboard.type("import polars as pl\n"
                           "df = pl.read_parquet('/data/cohort/cohort.parquet')\n"
                           "print('ROWS', df.height, 'READMITTED', df['readmitted'].sum())")
        page.keyboard.press("Shift+Enter")
        out = page.locator(".jp-OutputArea-output").first
        expect(out).to_contain_text("ROWS 20000", timeout=60_000)
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
