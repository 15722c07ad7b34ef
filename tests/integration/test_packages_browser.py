"""Package requests in a real browser, in English and Chinese: a researcher asks for two packages (a typosquat
is refused beside its field first), the package steward approves one (fetched on the host from a local folder
of wheels, checked, into the wheelhouse and the allow-list) and refuses the other with a reason; the researcher
reads both outcomes and is told them by the notifier. Every packages page is scanned for the other language
and checked with axe-core.

The governance service is restarted for this module on a copy of the policies (an approval rewrites
packages.yaml, never the repository's) and with ENCLAVE_PACKAGES_FETCH_ARGS naming the local folder, as a
site names its mirror; afterwards it is started again as the enclave had it."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from enclave.settings import GOVERNANCE_PREFIX
from enclave_demo.data import DEMO_PROJECT
from enclave_demo.runner import start_governance_service, start_process, stop_process, wait_http
from governance.notify import targets_path
from packages.wheelhouse import read_allow_list, sha256_of
from tests.integration.conftest import Enclave, check_page, signed_in
from tests.unit.test_packages import make_wheel

GOV = GOVERNANCE_PREFIX




class Hooks:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def wait_for(self, what: str, timeout: float = 90) -> str:
        """The governance service tells the trail's news every 15 s; returns the message that says `what`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hook in list(self.got):
                if what in f"{hook.get('title', '')} {hook.get('message', '')}":
                    return str(hook["message"])
            time.sleep(1)
        raise AssertionError(f"no webhook notification with {what!r}; got {self.got}")


@pytest.fixture(scope="module")
def governed(enclave: Enclave, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Hooks]]:
    """The governance service on a copy of the policies, fetching from a local folder of wheels, and a local
    webhook in the notification targets. Yields (policy folder, wheel folder, webhook receiver)."""
    settings, base = enclave.settings, tmp_path_factory.mktemp("packages-web")
    policy_dir, wheels = base / "policies", base / "wheels"
    shutil.copytree(settings.policy_dir, policy_dir)
    make_wheel(wheels, "tinyfit", "1.2", payload="fitted")
    hooks = Hooks()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hooks.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    http = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    targets = targets_path(settings)
    targets.write_text(json.dumps({"webhooks": [f"json://127.0.0.1:{http.server_address[1]}/h"]}))
    stop_process(settings, "governance")
    start_process(settings, "governance", [sys.executable, "-m", "governance.service"], extra_env={
        "ENCLAVE_POLICY_DIR": str(policy_dir), "ENCLAVE_PACKAGES_FETCH_ARGS": f"--no-index --find-links {wheels}"})
    wait_http(f"http://127.0.0.1:{settings.governance_port}{GOV}health", 30, "governance service",
              settings.log_dir / "governance.log")
    try:
        yield policy_dir, wheels, hooks
    finally:
        targets.unlink(missing_ok=True)
        http.shutdown()
        stop_process(settings, "governance")
        start_governance_service(settings)




def ask(page: Page, enclave: Enclave, name: str, reason: str) -> None:
    page.goto(f"{enclave.url}{GOV}packages")
    page.select_option("#project", DEMO_PROJECT)
    page.fill("#name", name)
    page.fill("#reason", reason)
    page.click("#ask")
    page.wait_for_load_state("networkidle")


def request_id(page: Page) -> int:
    return int(page.url.rsplit("#request-", 1)[1])


def test_a_researcher_asks_a_steward_approves_one_and_refuses_another(browser: Browser, enclave: Enclave,
                                                                       governed: tuple[Path, Path, Hooks]) -> None:
    policy_dir, wheels, hooks = governed
    alice_zh = signed_in(browser, enclave, "alice", "zh-CN")
    alice_zh.goto(f"{enclave.url}{GOV}")
    alice_zh.click("#nav-packages")
    expect(alice_zh.locator("h1")).to_have_text("软件包")
    check_page(alice_zh, "zh-CN", "packages page (zh-CN)")
    ask(alice_zh, enclave, "reqeusts", "")  # a typosquat, and no reason: each said beside its field
    expect(alice_zh.locator("p.problem[data-field='name']")).to_have_text(
        "“reqeusts”疑似仿冒“requests”（仿冒名规则）；请直接申请“requests”")
    expect(alice_zh.locator("p.problem[data-field='reason']")).to_have_text("请说明理由：该软件包在本项目中的用途")
    check_page(alice_zh, "zh-CN", "packages form with mistakes (zh-CN)")

    alice = signed_in(browser, enclave, "alice", "en")
    ask(alice, enclave, "tinyfit", "curve fitting for the readmission model")
    expect(alice.locator("#asked")).to_be_visible()
    fit = request_id(alice)
    ask(alice, enclave, "tinyplot", "quick plots")
    plot = request_id(alice)
    expect(alice.locator(f"#request-{plot}")).to_have_attribute("data-state", "requested")
    check_page(alice, "en", "packages page with requests (en)")

    bob = signed_in(browser, enclave, "bob", "en")
    bob.goto(f"{enclave.url}{GOV}")
    bob.click("#nav-package-queue")
    check_page(bob, "en", "package queue (en)")
    bob.fill(f"#version-{fit}", "1.2")
    bob.fill(f"#approve-reason-{fit}", "pure Python, small")
    bob.click(f"#approve-{fit}")
    expect(bob.locator(f"#request-{fit}")).to_have_attribute("data-state", "approved")
    expect(bob.locator(f"#request-{fit}")).to_contain_text("In the enclave's index")
    bob.click(f"#refuse-{plot}")  # no reason: the researcher must read one
    expect(bob.locator("p.problem[data-field='reason']")).to_have_text(
        "give a reason: the researcher reads why the package was refused")
    bob.fill(f"#refuse-reason-{plot}", "matplotlib is already in the image")
    bob.click(f"#refuse-{plot}")
    expect(bob.locator(f"#request-{plot}")).to_have_attribute("data-state", "refused")
    bob_zh = signed_in(browser, enclave, "bob", "zh-CN")
    bob_zh.goto(f"{enclave.url}{GOV}packages/queue")
    check_page(bob_zh, "zh-CN", "package queue, decided (zh-CN)")

    # what the approval did on the host: the checked wheel in the wheelhouse, pinned with its hash
    wheel = next(wheels.glob("tinyfit-1.2-*.whl"))
    assert (enclave.settings.wheelhouse_dir / wheel.name).read_bytes() == wheel.read_bytes()
    assert read_allow_list(policy_dir / "packages.yaml").python["tinyfit"].sha256 == [sha256_of(wheel)]

    alice_zh.goto(f"{enclave.url}{GOV}packages")
    expect(alice_zh.locator(f"#request-{fit}")).to_contain_text("已批准")
    expect(alice_zh.locator(f"#request-{fit}")).to_contain_text("已在 Enclave 软件包索引中")
    expect(alice_zh.locator(f"#request-{plot}")).to_contain_text("已拒绝")
    expect(alice_zh.locator(f"#request-{plot}")).to_contain_text("matplotlib is already in the image")
    expect(alice_zh.locator("#allowed")).to_contain_text("tinyfit")
    check_page(alice_zh, "zh-CN", "packages page with decisions (zh-CN)")
    alice.goto(f"{enclave.url}{GOV}packages")
    expect(alice.locator(f"#request-{plot}")).to_contain_text("refused")
    check_page(alice, "en", "packages page with decisions (en)")

    approved = hooks.wait_for(f"package-request:{fit} approved")
    assert "已获批准" in approved and "`pip install tinyfit`" in approved
    refused = hooks.wait_for(f"package-request:{plot} refused")
    assert "未获批准" in refused and "was refused" in refused and "matplotlib is already" not in refused
