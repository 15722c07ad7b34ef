"""The demo identity provider: failed sign-ins audited, a name locked after repeated failures (known or
not, so a lockout tells nothing), an address throttled, an unknown name as slow as a wrong password, and
discovery/JWKS/end-session as any provider serves them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from joserfc.jwk import RSAKey
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave_demo.idp import LoginGuard, Provider, hash_password, make_app

CALLBACK = "http://enclave.example.org/hub/oauth_callback"
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _provider(guard: LoginGuard | None = None) -> Provider:
    users = {"alice": {"password": hash_password("right"), "name": "Alice", "groups": ["researcher"],
                       "institution": "Demo Hospital"}}
    clients = {"enclave-hub": {"secret": "s", "redirect_uris": [CALLBACK],
                               "post_logout_redirect_uris": ["http://enclave.example.org/hub/login"]}}
    return Provider("http://127.0.0.1:1", users, clients, RSAKey.generate_key(2048).as_dict(private=True), guard)


def _serve(provider: Provider, requests: list[tuple[str, str, dict[str, str] | None]]) -> list[HTTPResponse]:
    """Answer the requests (method, path, form) in order from the IdP's real handlers."""

    async def run() -> list[HTTPResponse]:
        sock, port = bind_unused_port()
        http = HTTPServer(make_app(provider))
        http.add_sockets([sock])
        client = AsyncHTTPClient(force_instance=True)
        out = []
        try:
            for method, path, form in requests:
                body = urlencode(form) if form is not None else None
                out.append(await client.fetch(f"http://127.0.0.1:{port}{path}", method=method, body=body,
                                              follow_redirects=False, raise_error=False))
        finally:
            client.close()
            http.stop()
        return out

    return asyncio.run(run())


AUTH = {"response_type": "code", "client_id": "enclave-hub", "redirect_uri": CALLBACK, "scope": "openid",
        "state": "st", "nonce": "nc", "code_challenge": CHALLENGE, "code_challenge_method": "S256"}


def _login(username: str, password: str) -> tuple[str, str, dict[str, str]]:
    return ("POST", "/authorize", {**AUTH, "username": username, "password": password})


def _idp_events(action: AuditAction) -> list[dict[str, Any]]:
    with session_scope() as s:
        return audit.query(s, action=action)


def test_a_failed_sign_in_is_audited_and_a_right_one_is_not(enclave_home: Path):
    wrong, unknown, right = _serve(_provider(), [_login("alice", "wrong"), _login("mallory", "x"),
                                                 _login("alice", "right")])
    assert wrong.code == 401 and unknown.code == 401
    assert right.code == 302 and right.headers["Location"].startswith(CALLBACK + "?code=")
    events = _idp_events(AuditAction.IDP_LOGIN_FAILED)
    assert [(e["target"], e["details"]["ip"]) for e in events] == [("alice", "127.0.0.1"), ("mallory", "127.0.0.1")]


def test_repeated_failures_lock_the_name_even_for_the_right_password(enclave_home: Path):
    guard = LoginGuard(max_failures=3, lockout=600)
    answers = _serve(_provider(guard), [_login("alice", "bad")] * 3 + [_login("alice", "right")])
    assert [a.code for a in answers] == [401, 401, 401, 429]
    assert b"Too many failed sign-ins" in answers[-1].body
    assert [e["target"] for e in _idp_events(AuditAction.IDP_LOCKOUT)] == ["alice"]


def test_an_unknown_name_locks_the_same_way_so_a_lockout_tells_nothing(enclave_home: Path):
    guard = LoginGuard(max_failures=3)
    known = _serve(_provider(guard), [_login("alice", "bad")] * 4)
    unknown = _serve(_provider(LoginGuard(max_failures=3)), [_login("nobody", "bad")] * 4)
    assert [a.code for a in known] == [a.code for a in unknown] == [401, 401, 401, 429]
    assert [a.body for a in known] == [a.body for a in unknown]


def test_the_lock_ends_after_the_lockout_period():
    clock = [0.0]
    guard = LoginGuard(max_failures=2, lockout=60, now=lambda: clock[0])
    guard.failed("alice", "192.0.2.1")
    assert guard.failed("alice", "192.0.2.1") and guard.name_locked("alice")
    clock[0] = 61
    assert not guard.name_locked("alice")


def test_one_address_failing_on_many_names_is_throttled():
    guard = LoginGuard(max_failures=100, max_failures_per_ip=5)
    for i in range(5):
        guard.failed(f"user{i}", "192.0.2.9")
    assert guard.ip_throttled("192.0.2.9") and not guard.ip_throttled("192.0.2.10")


def test_the_guard_remembers_a_bounded_number_of_names():
    guard = LoginGuard(max_tracked=100)
    for i in range(1000):
        guard.failed(f"user{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(guard._by_name) <= 100 and len(guard._by_ip) <= 100


def test_an_unknown_name_costs_the_same_password_hashing_as_a_wrong_password():
    provider = _provider()

    def timed(name: str) -> float:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            assert not provider.verify_password(name, "wrong")
            best = min(best, time.perf_counter() - t0)
        return best

    known, unknown = timed("alice"), timed("nobody-by-this-name")
    assert unknown > 0.5 * known and known > 0.5 * unknown, (known, unknown)


def test_discovery_announces_jwks_and_end_session_and_logout_returns_to_registered_uris_only():
    discovery, jwks, back, elsewhere = _serve(_provider(), [
        ("GET", "/.well-known/openid-configuration", None), ("GET", "/jwks", None),
        ("GET", "/logout?" + urlencode({"client_id": "enclave-hub",
                                        "post_logout_redirect_uri": "http://enclave.example.org/hub/login"}), None),
        ("GET", "/logout?" + urlencode({"client_id": "enclave-hub",
                                        "post_logout_redirect_uri": "https://evil.example.org/"}), None)])
    doc = json.loads(discovery.body)
    assert doc["end_session_endpoint"] == "http://127.0.0.1:1/logout" and doc["jwks_uri"].endswith("/jwks")
    assert json.loads(jwks.body)["keys"][0]["kty"] == "RSA" and "d" not in json.loads(jwks.body)["keys"][0]
    assert back.code == 302 and back.headers["Location"] == "http://enclave.example.org/hub/login"
    assert elsewhere.code == 200 and b"signed out" in elsewhere.body
