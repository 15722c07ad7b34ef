"""The governance cycle in a real browser, in English and Chinese: a researcher applies for a project on a
catalogue dataset, the steward asks for changes and then approves, the ethics officer approves, the project
exists and a workspace starts in it, the auditor finds every step, and the notifications reached a local
SMTP server and a local webhook. A lapsed accreditation stops a start with the reason shown. Every governance
page each role reaches is scanned for the other language and checked with axe-core, in both languages."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, expect

from enclave.db import session_scope
from enclave.models import ProjectState
from enclave.projects import active_datasets, get_project, today
from governance import workflow
from governance.notify import targets_path
from policies import load_policies
from tests.integration.conftest import Enclave, check_page, login, signed_in

GOV = "/services/governance/"
PURPOSE = "Readmission after diabetes admissions, private purpose text"




class Receivers:
    """A local SMTP server and a local webhook receiver, named in the enclave's notification targets."""

    def __init__(self) -> None:
        self.mail: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
        self.mail.append({"to": list(envelope.rcpt_tos), "body": envelope.content.decode(errors="replace")})
        return "250 OK"

    def wait_for(self, what: str, timeout: float = 90) -> None:
        """The governance service tells the trail's news every 15 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what in json.dumps(self.hooks, ensure_ascii=False):
                return
            time.sleep(1)
        raise AssertionError(f"no webhook notification with {what!r}; got {self.hooks}")


@pytest.fixture(scope="module")
def receivers(enclave: Enclave) -> Iterator[Receivers]:
    rec = Receivers()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(rec, hostname="127.0.0.1", port=port)
    smtp.start()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            rec.hooks.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    http = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    path = targets_path(enclave.settings)
    path.write_text(json.dumps({"email": f"mailto://127.0.0.1:{port}?from=enclave@example.org&mode=insecure"
                                         "&user=enclave", "webhooks": [f"json://127.0.0.1:{http.server_address[1]}/h"]}))
    try:
        yield rec
    finally:
        path.unlink(missing_ok=True)
        smtp.stop()
        http.shutdown()




def decide(page: Page, enclave: Enclave, app_id: int, decision: str, comment: str = "") -> None:
    page.goto(f"{enclave.url}{GOV}applications/{app_id}")
    form = page.locator("form.decide")
    expect(form).to_have_count(1)
    if comment:
        form.locator("textarea").fill(comment)
    form.locator(f"button[value='{decision}']").click()
    page.wait_for_url(f"**{GOV}applications/{app_id}")


WORDS = {"en": {"submitted": "submitted", "changes": "changes", "approved": "approved", "synthetic": "synthetic"},
         "zh-CN": {"submitted": "已提交", "changes": "需修改", "approved": "已批准", "synthetic": "合成数据"}}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_application_to_workspace_to_audit(browser: Browser, enclave: Enclave, receivers: Receivers,
                                           lang: str) -> None:
    w, slug = WORDS[lang], f"gov-{lang.lower().replace('-', '')}"
    gina = signed_in(browser, enclave, "gina", lang)
    # the catalogue: the dataset with its synthetic dummy, then the application on it
    gina.goto(f"{enclave.url}{GOV}catalogue?q=cohort")
    gina.click("a[href$='catalogue/cohort@v1']")
    expect(gina.locator("#synthetic")).to_contain_text(w["synthetic"])
    expect(gina.locator("#schema")).to_contain_text("age")
    gina.goto(f"{enclave.url}{GOV}applications/new")
    gina.fill("#slug", slug)
    gina.fill("#title", f"Governance test {lang}")
    gina.fill("#purpose", PURPOSE)
    gina.check("input[value='cohort@v1']")
    gina.fill("#members", "ivan")
    gina.fill("#outputs", "rates")
    gina.fill("#duration_days", "30")
    gina.fill("#ethics_ref", "ETH-GOV-1")
    gina.click("#save")
    gina.wait_for_url(re.compile(r".*/applications/\d+$"))
    app_id = int(gina.url.rsplit("/", 1)[1])
    gina.click("#submit")
    expect(gina.locator("#state")).to_have_text(w["submitted"])

    bob = signed_in(browser, enclave, "bob", "en")
    bob.goto(f"{enclave.url}{GOV}applications")
    expect(bob.locator("#queue")).to_contain_text(slug)
    decide(bob, enclave, app_id, "changes", "Name the outcome measures.")
    expect(bob.locator("#state")).to_have_text("changes")

    gina.goto(f"{enclave.url}{GOV}applications/{app_id}")
    expect(gina.locator("#changes-asked")).to_be_visible()
    expect(gina.locator("#decisions")).to_contain_text("Name the outcome measures.")
    gina.fill("#outputs", "30-day readmission rates by age band")
    gina.click("#submit")
    expect(gina.locator("#state")).to_have_text(w["submitted"])
    expect(gina.locator(".diff")).to_contain_text("30-day readmission rates")

    decide(bob, enclave, app_id, "approve")
    carol = signed_in(browser, enclave, "carol", "zh-CN")
    decide(carol, enclave, app_id, "approve")
    expect(carol.locator("#state")).to_have_text("已批准")
    gina.goto(f"{enclave.url}{GOV}applications/{app_id}")
    expect(gina.locator("#state")).to_have_text(w["approved"])
    expect(gina.locator("#project")).to_have_text(slug)

    with session_scope() as s:
        p = get_project(s, slug)
        assert p.state == ProjectState.ACTIVE and p.pi == "gina" and p.approval_ref == "ETH-GOV-1"
        assert sorted(m.user.username for m in p.members) == ["gina", "ivan"]
        assert [d.label for d in active_datasets(p)] == ["cohort@v1"]
        assert p.expiry_date == today() + timedelta(days=30)

    hub = enclave.login("gina", lang)
    try:
        r = hub.start(slug)
        assert r.status_code in (201, 202), r.text
        assert enclave.container("gina").labels["org.enclave.project"] == slug
    finally:
        hub.stop()

    audrey = signed_in(browser, enclave, "audrey", lang)
    assert f"{GOV}audit" in audrey.url  # the auditor lands on the audit view
    audrey.goto(f"{enclave.url}{GOV}audit?project={slug}")
    expect(audrey.locator("#chain.ok")).to_be_visible()
    actions = audrey.locator("#trail td.action").all_inner_texts()
    for step in ("application.submit", "application.decide", "project.create", "member.add", "dataset.approve",
                 "application.approved", "workspace.start", "workspace.stop"):
        assert step in actions, (step, actions)
    assert actions.count("application.decide") == 3 and actions.count("application.submit") == 2
    with audrey.expect_download() as dl:
        audrey.click("#export-csv")
    assert "application.approved" in dl.value.path().read_text(encoding="utf-8-sig")

    receivers.wait_for(f"application:{app_id} approved")
    sent = json.dumps(receivers.hooks, ensure_ascii=False) + "".join(m["body"] for m in receivers.mail)
    assert f"application:{app_id} submitted" in sent and "needs_changes" in sent
    assert any("bob@example.org" in m["to"] for m in receivers.mail)
    assert PURPOSE not in sent and "Name the outcome measures." not in sent


def test_lapsed_accreditation_stops_the_start_with_the_reason(browser: Browser, enclave: Enclave) -> None:
    """ivan is a member of gov-en (made above); the admin records an accreditation that lapsed yesterday."""
    with session_scope() as s:
        try:
            get_project(s, "gov-en")
        except Exception:  # noqa: BLE001 - run alone: the project comes from the test above
            pytest.skip("needs the project made by test_application_to_workspace_to_audit[en]")
    admin = signed_in(browser, enclave, "admin", "en")
    admin.goto(f"{enclave.url}{GOV}accreditation")
    admin.fill("#username", "ivan")
    admin.select_option("#level", "2")
    admin.fill("#training_completed", str(today() - timedelta(days=400)))
    admin.fill("#expires", str(today() - timedelta(days=1)))
    admin.click("#set-accreditation button")
    expect(admin.locator("#accreditations")).to_contain_text("ivan")
    ivan = enclave.login("ivan")
    r = ivan.start("gov-en", wait=False)
    assert r.status_code == 403 and "lapsed on" in r.text, r.text
    spawn = ivan.http.get(f"{enclave.url}/hub/spawn", timeout=30).text
    assert "lapsed on" in spawn
    page = signed_in(browser, enclave, "ivan", "zh-CN")
    page.goto(f"{enclave.url}{GOV}accreditation")
    expect(page.locator("#my-standing")).to_contain_text(f"已于 {today() - timedelta(days=1)} 失效")  # in her language


# --- every governance page in the reader's language, usable by everyone (issue 14) ---------------------------

SCANNED = "gov-scan"
# each demo role and the pages it reaches (service.py's routes; {app} is one application it may see; a missing
# application shows the error page)
PAGES = {
    "alice": ["", "catalogue", "catalogue/cohort@v1", "applications", "applications/new", "applications/{app}",
              "accreditation", "applications/999999"],
    "bob": ["", "catalogue", "catalogue/cohort@v1", "applications", "applications/{app}", "accreditation",
            "dashboard"],
    "audrey": ["", "applications", "applications/{app}", "audit", "audit/exports", "dashboard", "accreditation",
               "catalogue", "catalogue/cohort@v1"],
    "admin": ["", "ops", "accreditation", "audit", "audit/exports", "dashboard", "applications",
              "applications/{app}"],
}


@pytest.fixture(scope="module")
def scanned_application(enclave: Enclave) -> int:
    """alice's submitted application on the demo cohort, waiting for the steward (bob)."""
    policies = load_policies(enclave.settings.policy_dir)
    with session_scope() as s:
        app = workflow.new_application(s, "alice", {
            "slug": SCANNED, "title": "Scanned application", "purpose": PURPOSE, "datasets": ["cohort@v1"],
            "members": [], "outputs": "rates by age band", "duration_days": "30", "ethics_ref": "ETH-SCAN-1"})
        workflow.submit(s, "alice", app.id, policies)
        return app.id


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_governance_page_speaks_one_language_and_passes_axe(browser: Browser, enclave: Enclave,
                                                                  scanned_application: int, lang: str) -> None:
    # bypass_csp: the pages allow no script, and axe-core (check_page) is one, injected by the test only
    context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    found: list[str] = []
    try:
        for user, paths in PAGES.items():
            context.clear_cookies()  # the next person signs in afresh in the same context
            login(page, enclave, user)
            page.wait_for_load_state("networkidle")
            for path in paths:
                page.goto(f"{enclave.url}{GOV}{path.format(app=scanned_application)}")
                expect(page.locator("main")).to_be_visible()
                try:
                    check_page(page, lang, f"{user} {path}")
                except AssertionError as exc:  # every page's problems at once, not only the first page's
                    found.append(f"{user} /{path}: {exc}")
    finally:
        context.close()
    assert found == []
