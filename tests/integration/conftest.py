"""One real enclave for the whole integration suite: demo IdP, proxy, hub and Docker workspaces.

It runs on its own ports, home and instance name, so it never touches an enclave started by `make up`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from enclave.settings import REPO_ROOT
from enclave_demo.harness import Enclave, HubSession, instance, run_in

__all__ = ["Enclave", "HubSession", "run_in", "running_workspaces", "OTHER_PROJECT", "AXE", "check_page",
           "other_language_left", "accessibility_problems", "CHROMIUM", "CHROMIUM_ARGS", "browser", "login",
           "signed_in"]

PORTS = {"ENCLAVE_PUBLIC_PORT": "18000", "ENCLAVE_HUB_API_PORT": "18081", "ENCLAVE_IDP_PORT": "19000",
         "ENCLAVE_PROXY_API_PORT": "18001", "ENCLAVE_EGRESS_PORT": "18082", "ENCLAVE_GOVERNANCE_PORT": "18083",
         "ENCLAVE_JOBS_PORT": "18084", "ENCLAVE_PACKAGES_PORT": "18085",
         "ENCLAVE_ACTIVITY_PORT": "18086"}
EXTRA_USERS = [
    {"username": "dave", "name": "Dave Zhou 周大伟", "groups": ["researcher"], "password": "dave-it-pw"},
    {"username": "eve", "name": "Eve Sun 孙伊", "groups": ["researcher"], "password": "eve-it-pw"},
    {"username": "frank", "name": "Frank Wu 吴凡", "groups": ["researcher"], "password": "frank-it-pw"},
    # a third reviewer, in no project: resolves conflicts between bob and carol
    {"username": "rhea", "name": "Rhea Lin 林瑞", "groups": ["reviewer"], "password": "rhea-it-pw"},
    # the governance test's applicant and member, in no project until their application is approved
    {"username": "gina", "name": "Gina Xu 徐静", "groups": ["researcher"], "password": "gina-it-pw"},
    {"username": "ivan", "name": "Ivan Ma 马一凡", "groups": ["researcher"], "password": "ivan-it-pw"},
]
OTHER_PROJECT = "other-study"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, one per test module (a module's pages share it, not its contexts)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def login(page: Page, enclave: Enclave, username: str) -> None:
    """Sign in as a person does: the hub's login button, the identity provider's form."""
    page.goto(f"{enclave.url}/hub/login")
    page.click("#idp-login")
    page.wait_for_url(f"{enclave.settings.idp_url}/authorize*")
    page.fill("#username", username)
    page.fill("#password", enclave.passwords[username])
    page.click("#login")


def signed_in(browser: Browser, enclave: Enclave, user: str, lang: str, bypass_csp: bool = True) -> Page:
    """A new page of a browser speaking `lang`, signed in as `user`. bypass_csp: the service pages allow no
    script, and axe-core (check_page) is one, injected by the test only."""
    context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang}, bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(60_000)
    login(page, enclave, user)
    page.wait_for_load_state("networkidle")
    return page


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "restarts_docker: stops and restarts the Docker engine; runs last")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks integration tests, and moves tests that restart the Docker engine to the end of the run.

    Stopping the engine stops every workspace container and the hub's view of them; run in the middle, it
    would break whatever test came next. Ordering is stated here, never implied by file names.
    """
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("restarts_docker") is not None)  # stable: others keep order


def _other_project(settings, policies) -> None:  # type: ignore[no-untyped-def]
    """A second project with its own researcher and dataset, to prove projects cannot see each other."""
    from datasets_mount.catalog import store_version
    from datasets_mount.synthetic import write_cohort
    from enclave.db import session_scope
    from enclave.models import ProjectState
    from enclave.projects import add_member, approve_dataset, create_project, today, transition, upsert_user
    from enclave_demo.data import DEMO_PROJECT

    with session_scope() as s:
        for u in EXTRA_USERS:
            upsert_user(s, "test", u["username"], display_name=u["name"], roles=u["groups"])
        create_project(s, "test", slug=OTHER_PROJECT, title="Other study", approval_ref="ETH-2", purpose="isolation",
                       pi="dave", start=today(), expiry=today() + timedelta(days=30))
        transition(s, "test", OTHER_PROJECT, ProjectState.APPROVED, "ok")
        src = settings.home / "registry-src"
        write_cohort(src, rows=500, seed=11)
        store_version(s, "test", policies, settings.datasets_dir, src, name="registry", version="v1", tier=2)
        approve_dataset(s, "test", OTHER_PROJECT, "registry", "v1", {0, 1, 2, 3})
        transition(s, "test", OTHER_PROJECT, ProjectState.ACTIVE, "ok")
        add_member(s, "test", DEMO_PROJECT, "frank")  # a second researcher in the demo project


@pytest.fixture(scope="session")
def enclave(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enclave]:
    home = tmp_path_factory.mktemp("enclave-it")
    with instance(home, name="enclavetest", ports=PORTS, setup=_other_project, extra_users=EXTRA_USERS) as e:
        try:
            yield e
        finally:
            log = e.settings.log_dir / "hub.log"
            print("\n--- hub log tail ---\n" + log.read_text(errors="replace")[-4000:])


@contextmanager
def running_workspaces(enclave: Enclave, projects: dict[str, str]) -> Iterator[dict[str, HubSession]]:
    """Logs each user in and starts their workspace for the given project; stops them all afterwards."""
    sessions = {user: enclave.login(user) for user in projects}
    try:
        for user, project in projects.items():
            r = sessions[user].start(project)
            assert r.status_code in (201, 202), r.text
        yield sessions
    finally:
        for session in sessions.values():
            session.stop()


# --- Every page in the reader's language and usable by everyone (issue 14) ---------------------------------
# Shared by the browser tests of the hub, the export review and governance. Pages that allow no script need a
# browser context made with bypass_csp=True: axe-core is a script, injected by the test only.

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Words that are the same in both languages: names of things, not sentences left untranslated.
ALLOWED_LATIN = {"Enclave", "JupyterLab", "JupyterHub", "API", "CPU", "hub", "Python", "GMT", "UTC"}
WORD = re.compile(r"^[A-Za-z]{3,}[,.;:!?)]*$")
CJK = re.compile(r"[\u3400-\u9fff]")


def other_language_left(page: Page, lang: str) -> list[str]:
    """Visible words of the other language (text marked translate="no" is data: names, slugs, purposes)."""
    text = page.evaluate("""() => { const b = document.body.cloneNode(true);
        b.querySelectorAll('[translate="no"], script, style, details:not([open]) > :not(summary)')
         .forEach(e => e.remove());
        const holder = document.createElement('div'); holder.style.position = 'absolute'; holder.append(b);
        document.documentElement.append(holder); const t = holder.innerText; holder.remove(); return t; }""")
    if lang == "zh-CN":
        return sorted({w for w in text.split() if WORD.match(w) and w.strip(",.;:!?)") not in ALLOWED_LATIN})
    return sorted(set(CJK.findall(text)))


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".filter(v => ['serious', 'critical'].includes(v.impact))"
                          ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    return list(found)


def check_page(page: Page, lang: str, what: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang, what
    assert other_language_left(page, lang) == [], what
    assert accessibility_problems(page) == [], what
