"""A site on its own hostname: the hub's login sends the browser to the identity provider's configured
issuer URL (never 127.0.0.1), found through the provider's discovery document like any real provider, and
the whole sign-in and sign-out work through those names. Here the names are other loopback addresses
(127.0.0.2 for the site, 127.0.0.3 for the provider) so the test needs no DNS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from enclave.db import session_scope
from enclave.models import User
from enclave_demo.data import DEMO_INSTITUTION
from enclave_demo.harness import Enclave, instance

SITE, IDP = "http://127.0.0.2:28000", "http://127.0.0.3:29000"
ENV = {"ENCLAVE_PUBLIC_PORT": "28000", "ENCLAVE_HUB_API_PORT": "28081", "ENCLAVE_IDP_PORT": "29000",
       "ENCLAVE_PROXY_API_PORT": "28001", "ENCLAVE_EGRESS_PORT": "28082", "ENCLAVE_GOVERNANCE_PORT": "28083",
       "ENCLAVE_JOBS_PORT": "28084", "ENCLAVE_PACKAGES_PORT": "28085", "ENCLAVE_ACTIVITY_PORT": "28086",
       "ENCLAVE_PUBLIC_URL": SITE, "ENCLAVE_OIDC_ISSUER": IDP,
       "ENCLAVE_TRUSTED_PROXIES": "127.0.0.0/8"}  # as if a reverse proxy on this host terminated TLS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enclave]:
    home: Path = tmp_path_factory.mktemp("enclave-site")
    with instance(home, name="enclavesite", ports=ENV) as e:
        yield e


def test_oauth_login_sends_the_browser_to_the_configured_issuer_not_loopback(site: Enclave):
    r = requests.get(f"{SITE}/hub/oauth_login", allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{IDP}/authorize"
    query = parse_qs(location.query)
    assert query["redirect_uri"] == [f"{SITE}/hub/oauth_callback"]
    assert len(query["nonce"][0]) >= 32 and query["code_challenge_method"] == ["S256"]
    assert "127.0.0.1" not in r.headers["Location"]


def test_sign_in_and_out_through_the_site_and_provider_names(site: Enclave):
    alice = site.login("alice")
    assert alice.last.status_code == 200 and alice.last.url.startswith(f"{SITE}/hub/"), alice.last.url
    assert alice.api("GET", "/user").json()["name"] == "alice"
    with session_scope() as s:
        user = s.execute(select(User).where(User.username == "alice")).scalar_one()
        assert user.institution == DEMO_INSTITUTION and user.idp_subject == f"{IDP} alice"
    out = alice.http.get(f"{SITE}/hub/logout", allow_redirects=False, timeout=30)
    assert out.status_code == 302 and out.headers["Location"].startswith(f"{IDP}/logout?"), out.headers
    back = alice.http.get(out.headers["Location"], timeout=30)
    assert back.url.startswith(f"{SITE}/hub/login"), back.url
    assert alice.api("GET", "/user").status_code == 403  # the hub session is gone


def _hub_log_with(site: Enclave, *needles: str, timeout: float = 30) -> str:
    """The hub's log once it holds every needle: the hub writes its access log after answering, so a busy
    machine can show the response before the line."""
    deadline = time.monotonic() + timeout
    while True:
        log = (site.settings.log_dir / "hub.log").read_text()
        if all(n in log for n in needles) or time.monotonic() > deadline:
            return log
        time.sleep(0.5)


def test_forwarded_addresses_are_believed_from_the_configured_proxies(site: Enclave):
    """The hub's record of who connected follows X-Forwarded-For past a trusted proxy; X-Real-Ip never counts."""
    alice = site.login("alice")
    r = alice.http.get(f"{SITE}/hub/api/user?probe=forwarded", headers={"X-Forwarded-For": "203.0.113.9"},
                       timeout=30)
    assert r.status_code == 200
    spoof = alice.http.get(f"{SITE}/hub/api/user?probe=real-ip", headers={"X-Real-Ip": "198.51.100.7"}, timeout=30)
    assert spoof.status_code == 200
    log = _hub_log_with(site, "probe=forwarded", "probe=real-ip")
    assert "GET /hub/api/user?probe=forwarded (alice@203.0.113.9)" in log
    line = next(x for x in log.splitlines() if "probe=real-ip" in x)
    assert "198.51.100.7" not in line and "(alice@127.0.0." in line, line  # X-Real-Ip is believed from nobody
