"""The egress service's handlers, over real HTTP, with the hub's token check replaced by a table of tokens.

Proves that XSRF is skipped only for a request its `Authorization` token really authenticated, and that
the pages decide from the database on every request (a role taken away counts at once).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jupyterhub.services.auth import HubOAuth
from tornado.web import create_signed_value

from egress_review import service, workflow
from egress_review.scopes import SCOPE_REQUEST, SERVICE_ACCESS
from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.models import ExportState
from enclave.projects import upsert_user
from enclave.settings import EGRESS_PREFIX, get_settings
from tests.egress_helpers import submit
from tests.unit.conftest import hub_service

# token -> the user model the hub would return for it; anything else is an unknown token
TOKENS = {f"{name}-token": {"name": name, "kind": "user", "scopes": [SERVICE_ACCESS]}
          for name in ("alice", "bob")}
# workspace tokens, as the spawner sets them: the request scope only, for their owner
TOKENS |= {f"{name}-workspace": {"name": name, "kind": "user", "scopes": [f"{SCOPE_REQUEST}!user={name}"]}
           for name in ("alice", "bob")}


class Service:
    """The running service: its base URL and a signed login cookie as the hub's OAuth flow would set it."""

    def __init__(self, base: str, cookie_name: str, secret: bytes) -> None:
        self.base, self.cookie_name, self.secret = base, cookie_name, secret

    def client(self, user: str | None = None) -> httpx.Client:
        c = httpx.Client(base_url=self.base, timeout=30, follow_redirects=False)
        if user:
            c.cookies.set(self.cookie_name, create_signed_value(self.secret, self.cookie_name,
                                                                f"{user}-token").decode())
        return c


@pytest.fixture
def egress(world: Path, own_hub_auth: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    settings = get_settings()
    with hub_service(service, monkeypatch, TOKENS) as port:
        yield Service(f"http://127.0.0.1:{port}{EGRESS_PREFIX}", HubOAuth().cookie_name,
                      bytes.fromhex(settings.secret("egress-cookie")))


def state(rid: int) -> ExportState:
    with session_scope() as s:
        return workflow.get_request(s, rid).state


def form_token(c: httpx.Client, rid: int) -> str:
    page = c.get(f"requests/{rid}")
    assert page.status_code == 200, page.text[-300:]
    m = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert m
    return m.group(1)


def test_a_bogus_token_header_does_not_excuse_a_cookie_request_from_xsrf(egress: Service):
    rid = submit(egress_store())
    with egress.client("alice") as c:
        r = c.post(f"requests/{rid}/withdraw", headers={"Authorization": "token not-a-real-token"})
    assert r.status_code == 403 and "_xsrf" in r.text
    assert state(rid) == ExportState.SUBMITTED


def test_a_cookie_request_needs_the_form_token_and_succeeds_with_it(egress: Service):
    rid = submit(egress_store())
    with egress.client("alice") as c:
        assert c.post(f"requests/{rid}/withdraw").status_code == 403
        assert state(rid) == ExportState.SUBMITTED
        token = form_token(c, rid)
        assert c.post(f"requests/{rid}/withdraw", data={"_xsrf": token, "confirm": "yes"}).status_code == 302
    assert state(rid) == ExportState.WITHDRAWN


def test_a_request_its_token_authenticates_needs_no_form_token(egress: Service):
    rid = submit(egress_store())
    with egress.client() as c:
        r = c.post(f"requests/{rid}/withdraw", data={"confirm": "yes"}, headers={"Authorization": "token alice-token"})
    assert r.status_code == 302
    assert state(rid) == ExportState.WITHDRAWN


def test_a_reviewer_role_taken_away_counts_on_the_next_page(egress: Service):
    rid = submit(egress_store())
    with egress.client("bob") as c:
        assert 'id="review-form"' in c.get(f"requests/{rid}").text
        with session_scope() as s:
            upsert_user(s, "admin", "bob", roles=["researcher"])
        assert c.get(f"requests/{rid}").status_code == 404
        home = c.get("")
        assert home.status_code == 200 and 'id="queue"' not in home.text


def egress_store() -> Path:
    return get_settings().egress_store


def test_the_api_serves_a_request_to_its_requester_only(egress: Service):
    """A token (a workspace holds one) never gets the reviewer form of a request, not even bob's own queue."""
    rid = submit(egress_store())
    with egress.client() as c:
        other = c.get(f"api/requests/{rid}", headers={"Authorization": "token bob-workspace"})
        own = c.get(f"api/requests/{rid}", headers={"Authorization": "token alice-workspace"})
    assert other.status_code == 404 and f"no export request {rid}" in other.text
    assert own.status_code == 200 and "reviews" not in own.json()


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def test_a_reviewer_reading_the_image_bytes_is_recorded_as_an_inspection(egress: Service):
    rid = submit(egress_store(), [("plot.png", _png())])
    with session_scope() as s:
        fid = workflow.get_request(s, rid).files[0].id
    with egress.client("bob") as c:
        r = c.get(f"requests/{rid}/files/{fid}/image")
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    with session_scope() as s:
        seen = audit.query(s, action=AuditAction.EXPORT_INSPECT, user="bob")
    assert [(e["target"], e["details"]["file"]) for e in seen] == [(f"request:{rid}", "plot.png")]


def test_a_junk_xsrf_cookie_on_a_post_is_refused_and_answered(egress: Service):
    """A forged or stale `_xsrf` cookie with a matching form field: refused at once (it once could make the
    caller's identification wait on itself), and the request stays as it was."""
    rid = submit(egress_store())
    with egress.client("alice") as c:
        c.cookies.set("_xsrf", "x")
        r = c.post(f"requests/{rid}/withdraw", data={"_xsrf": "x", "confirm": "yes"}, timeout=10)
    assert r.status_code == 403
    assert state(rid) == ExportState.SUBMITTED
