"""The governance service over real HTTP, the hub's token check replaced by a table: every page and action
is allowed or refused as `governance.rules` says, and refusals are recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jupyterhub.services.auth import HubOAuth
from tornado.web import create_signed_value

from enclave.audit import query
from enclave.db import session_scope
from enclave.models import ApplicationState, Party
from enclave.settings import GOVERNANCE_PREFIX, get_settings
from governance import service, workflow
from tests.unit.conftest import hub_service
from tests.unit.test_governance import FORM, _step, _submitted, gov  # noqa: F401 - the fixture

USERS = ("alice", "dave", "bob", "carol", "rhea", "audrey", "admin", "zoe")
TOKENS = {f"{n}-token": {"name": n, "kind": "user", "scopes": [service.SERVICE_ACCESS]} for n in USERS}


class Client:
    """One person's browser: the signed login cookie the hub's OAuth would set, and the XSRF cookie."""

    def __init__(self, base: str, cookie: str, secret: bytes, user: str, lang: str = "en") -> None:
        self.http = httpx.Client(base_url=base, timeout=30, follow_redirects=False,
                                 headers={"Accept-Language": lang})
        self.http.cookies.set(cookie, create_signed_value(secret, cookie, f"{user}-token").decode())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, data: dict[str, Any], files: dict[str, Any] | None = None) -> httpx.Response:
        if "_xsrf" not in self.http.cookies:
            self.http.get("")
        return self.http.post(path, data={**data, "_xsrf": self.http.cookies["_xsrf"]}, files=files)


@pytest.fixture
def site(gov, own_hub_auth, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # type: ignore[no-untyped-def] # noqa: F811
    settings = get_settings()
    with hub_service(service, monkeypatch, TOKENS) as port:
        base, cookie = f"http://127.0.0.1:{port}{GOVERNANCE_PREFIX}", HubOAuth().cookie_name
        secret = bytes.fromhex(settings.secret("governance-cookie"))
        yield lambda user, lang="en": Client(base, cookie, secret, user, lang)


PAGES = ["", "catalogue", "catalogue/cohort@v1", "applications", "accreditation", "audit", "audit/exports",
         "dashboard", "ops", "audit/export.csv"]
# who gets a page (the others: 403); everyone signed in reads the catalogue, applications and their standing
ALLOWED = {"audit": {"audrey", "admin"}, "audit/exports": {"audrey", "admin"}, "audit/export.csv": {"audrey", "admin"},
           "dashboard": {"audrey", "admin", "bob", "carol", "rhea"}, "ops": {"admin"}}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_allowed_or_refused_by_role(site, page):  # type: ignore[no-untyped-def]
    for user in USERS:
        r = site(user).get(page)
        want = 200 if user in ALLOWED.get(page, set(USERS)) else 403
        assert r.status_code == want, (user, page, r.status_code)
        assert "<script" not in r.text
        assert "script-src" not in r.headers["Content-Security-Policy"] and "default-src 'none'" in r.headers[
            "Content-Security-Policy"]


def test_not_signed_in_is_sent_to_the_hub_login(site):  # type: ignore[no-untyped-def]
    r = httpx.get(site("alice").http.base_url.join("applications"), follow_redirects=False)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]


def test_a_researcher_applies_through_the_form_and_two_parties_approve(site):  # type: ignore[no-untyped-def]
    alice = site("alice")
    r = alice.post("applications/new", {**FORM, "datasets": "cohort@v1", "action": "submit"})
    assert r.status_code == 302, r.text
    app_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    page = site("bob").get(f"applications/{app_id}").text
    assert f'id="approve-{_step(app_id, Party.STEWARD)}"' in page
    bob = site("bob")
    r = bob.post(f"applications/{app_id}/decide", {"step": _step(app_id, Party.STEWARD), "decision": "changes",
                                                   "comment": ""})
    assert r.status_code == 400 and "comment" in r.text
    bob.post(f"applications/{app_id}/decide", {"step": _step(app_id, Party.STEWARD), "decision": "changes",
                                               "comment": "name the outcomes"})
    assert 'id="changes-asked"' in alice.get(f"applications/{app_id}").text
    alice.post(f"applications/{app_id}", {**FORM, "outputs": "readmission rates", "action": "submit"})
    bob.post(f"applications/{app_id}/decide", {"step": _step(app_id, Party.STEWARD), "decision": "approve"})
    site("carol").post(f"applications/{app_id}/decide", {"step": _step(app_id, Party.ETHICS),
                                                          "decision": "approve"})
    page = alice.get(f"applications/{app_id}").text
    assert 'id="approved"' in page and 'id="project" translate="no">new-study<' in page and "readmission rates" in page


def test_nobody_approves_their_own_and_the_refusal_is_recorded(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    from enclave.projects import upsert_user

    with session_scope() as s:
        upsert_user(s, "admin", "bob", roles=["reviewer", "researcher"])
    app_id = _submitted(gov, applicant="bob", form={**FORM, "members": ""})
    r = site("bob").post(f"applications/{app_id}/decide", {"step": _step(app_id, Party.STEWARD),
                                                           "decision": "approve"})
    assert r.status_code == 403 and "own application" in r.text
    with session_scope() as s:
        refused = query(s, action="governance.refused", user="bob")
        assert refused and "own application" in refused[-1]["details"]["reason"]
        assert workflow.get_application(s, app_id).state == ApplicationState.SUBMITTED


def test_auditors_change_nothing(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    app_id = _submitted(gov)
    audrey = site("audrey")
    attempts = [("applications/new", FORM), (f"applications/{app_id}/decide",
                                             {"step": _step(app_id, Party.STEWARD), "decision": "approve"}),
                (f"applications/{app_id}/withdraw", {}), ("catalogue/cohort@v1", {"description": "x"}),
                ("accreditation", {"username": "alice", "level": "3", "training_completed": "2026-01-01",
                                   "expires": "2027-01-01"})]
    for path, data in attempts:
        assert audrey.post(path, data).status_code == 403, path
    with session_scope() as s:
        assert workflow.get_application(s, app_id).state == ApplicationState.SUBMITTED
        assert not query(s, action="dataset.doc.edit") and not query(s, action="accreditation.set")


def test_researchers_see_only_their_own_applications(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    app_id = _submitted(gov)
    assert site("zoe").get(f"applications/{app_id}").status_code == 404
    assert f"applications/{app_id}\"" not in site("zoe").get("applications").text
    assert site("dave").get(f"applications/{app_id}").status_code == 200  # named as a member
    assert site("audrey").get(f"applications/{app_id}").status_code == 200


def test_invalid_application_keeps_the_draft_and_names_each_field_in_chinese(site):  # type: ignore[no-untyped-def]
    r = site("alice", "zh-CN").post("applications/new", {"slug": "x", "action": "submit"})
    assert r.status_code == 400
    assert "申请暂不能提交" in r.text and "伦理批件编号为必填项" in r.text and "草稿已保存" in r.text
    with session_scope() as s:
        assert [a.state for a in workflow.own_applications(s, "alice")] == [ApplicationState.DRAFT]


def test_stewards_edit_descriptions_audited_and_search_finds_them(site):  # type: ignore[no-untyped-def]
    assert site("carol").post("catalogue/cohort@v1", {"description": "no"}).status_code == 403
    r = site("bob").post("catalogue/cohort@v1", {"description": "Diabetes admissions 糖尿病住院", "col-sex": "F/M"})
    assert r.status_code == 302
    page = site("alice").get("catalogue/cohort@v1").text
    assert "Diabetes admissions" in page and "F/M" in page and "synthetic" in page
    assert "cohort@v1" in site("alice").get("catalogue", params={"q": "糖尿病"}).text
    assert "no-datasets" in site("alice").get("catalogue", params={"q": "nothing-like-this"}).text
    assert "no-datasets" in site("alice").get("catalogue", params={"tier": "3"}).text
    with session_scope() as s:
        ev = query(s, action="dataset.doc.edit")[-1]
        assert ev["actor"] == "bob" and ev["details"]["after"]["columns"] == {"sex": "F/M"}


def test_dummy_download_is_the_synthetic_csv(site):  # type: ignore[no-untyped-def]
    page = site("alice").get("catalogue/cohort@v1").text
    link = re.search(r'href="[^"]*(catalogue/cohort@v1/dummy/[^"]+)"', page)
    assert link, "no dummy download link"
    r = site("alice").get(link.group(1))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.text.splitlines()[0].count(",") >= 3 and len(r.text.splitlines()) > 10


def test_audit_search_export_and_chain(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    _submitted(gov)
    audrey = site("audrey")
    page = audrey.get("audit", params={"user": "alice", "action": "application.*"}).text
    assert 'class="ok" id="chain"' in page and "application.submit" in page and "dataset.ingest" not in page
    rows = json.loads(audrey.get("audit/export.json", params={"action": "application.submit"}).text)
    assert [r["action"] for r in rows] == ["application.submit"]
    assert audrey.get("audit", params={"from": "yesterday"}).status_code == 400
    with session_scope() as s:
        assert query(s, action="audit.export")[-1]["actor"] == "audrey"


def test_dashboard_draws_svg_from_the_database(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    page = site("audrey").get("dashboard").text
    assert page.count("<svg") == 6 and 'id="chart-tiers"' in page
    tiers = re.search(r'id="chart-tiers".*?</svg>', page, re.S).group(0)
    assert "2 pseudonymised: 1</title>" in tiers  # the one tier-2 dataset version


def test_the_pi_asks_for_an_amendment_from_the_home_page(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    from tests.unit.test_governance import _decide

    app_id = _submitted(gov)
    _decide(gov, "bob", app_id, Party.STEWARD)
    _decide(gov, "carol", app_id, Party.ETHICS)
    alice = site("alice")
    assert 'id="amend-new-study"' in alice.get("").text
    assert 'id="amend-new-study"' not in site("dave").get("").text  # a member, not the PI
    form = alice.get("applications/new", params={"amends": "new-study"}).text
    assert 'value="dave"' in form and 'value="ETH-42"' in form  # starts from the project as it is
    assert site("dave").get("applications/new", params={"amends": "new-study"}).status_code == 403
    r = alice.post("applications/new", {"amends": "new-study", "slug": "new-study", "members": "dave zoe",
                                        "action": "submit"})
    assert r.status_code == 302, r.text
    amend_id = int(r.headers["Location"].rsplit("/", 1)[1])
    page = site("bob").get(f"applications/{amend_id}").text
    assert "amendment of" in page and "+ zoe" in page


def test_the_ethics_document_is_kept_with_the_version_and_shown_only_to_who_may_see_it(site):  # type: ignore[no-untyped-def]
    alice = site("alice")
    pdf = b"%PDF-1.4\n% ethics committee decision\n%%EOF\n"
    bad = alice.post("applications/new", {**FORM, "action": "save"}, files={"ethics_doc": ("x.pdf", b"MZ\x90")})
    assert bad.status_code == 400 and "must be a PDF" in bad.text
    r = alice.post("applications/new", {**FORM, "action": "save"}, files={"ethics_doc": ("decision.pdf", pdf)})
    app_id = int(r.headers["Location"].rsplit("/", 1)[1])
    alice.post(f"applications/{app_id}", {**FORM, "action": "submit"})  # no new file: the draft's stays
    page = site("bob").get(f"applications/{app_id}").text
    link = re.search(r'class="doc" href="[^"]*(applications/\d+/document/[0-9a-f]{64})"', page)
    assert link and "decision.pdf" in page
    got = site("bob").get(link.group(1))
    assert got.content == pdf and got.headers["Content-Type"] == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"] and "sandbox" in got.headers["Content-Security-Policy"]
    assert site("zoe").get(link.group(1)).status_code == 404


def test_the_audit_page_shows_the_newest_records_and_counts_them_all(enclave_home):  # type: ignore[no-untyped-def]
    from enclave import audit
    from governance import supervision

    with session_scope() as s:
        for i in range(30):
            audit.record(s, "admin", "login", target=f"t{i}")
        every = supervision.search(s, action="logi*")
        rows, total = supervision.latest(s, action="logi*", limit=10)
    assert total == len(every) == 30
    assert [r["target"] for r in rows] == [f"t{i}" for i in range(20, 30)]  # the end of the trail, oldest first
    assert rows == every[-10:]  # the same records as the export gives, row for row


def test_standings_and_tier_names_are_in_the_readers_language(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    """The standing is a domain message and tier and level names come from the policies: shown as they are,
    a zh-CN reader met English sentences on the home, accreditation, catalogue and dashboard pages."""
    zh, en = site("alice", "zh-CN"), site("alice", "en")
    for page in ("", "accreditation"):
        assert "您没有资质认证记录" in zh.get(page).text
        assert "you have no accreditation on record" in en.get(page).text
    assert "2 · 假名化" in zh.get("catalogue").text and "2 · pseudonymised" in en.get("catalogue").text
    levels = zh.get("accreditation").text
    assert "<td>标准</td>" in levels and "standard" not in levels
    tiers = re.search(r'id="chart-tiers".*?</svg>', site("audrey", "zh-CN").get("dashboard").text, re.S).group(0)
    assert "2 假名化: 1</title>" in tiers


def test_the_standing_on_the_home_page_names_the_level_in_the_readers_language(site, gov):  # type: ignore[no-untyped-def] # noqa: F811,E501
    """The level's name comes from governance.yaml in both languages: not "级别 2, standard" on a zh-CN page."""
    from datetime import timedelta

    from enclave.access import record_accreditation
    from enclave.projects import today

    with session_scope() as s:
        record_accreditation(s, "admin", "alice", level=2, training_completed=today() - timedelta(days=30),
                             expires=today() + timedelta(days=300))
    zh, en = site("alice", "zh-CN").get("").text, site("alice", "en").get("").text
    assert "您的资质（级别 2，标准）有效期至" in zh and "standard" not in zh
    assert "your accreditation (level 2, standard) is current until" in en


def test_a_junk_xsrf_cookie_on_a_post_is_refused_and_answered(site, gov):  # type: ignore[no-untyped-def] # noqa: F811
    alice = site("alice")
    alice.http.cookies.set("_xsrf", "x")
    r = alice.http.post("applications/new", data={**FORM, "datasets": "cohort@v1", "action": "submit", "_xsrf": "x"},
                        timeout=10)
    assert r.status_code == 403
    assert "applications/" not in r.headers.get("Location", "")
