"""A small OpenID Connect provider standing in for the institution's identity provider.

Real deployments point the hub at the institution's IdP; this one lets a fresh machine run the whole
login path for real, and the hub reaches it the same way as any provider: by its issuer URL, through the
discovery document and JWKS it serves. Authorization code flow with PKCE (S256 required), RS256-signed ID
tokens with the nonce, a userinfo endpoint, a `groups` claim that the hub maps to enclave roles, and an
end-session endpoint. Failed sign-ins are audited, repeated failures lock the name (known or not) and
throttle the address, and an unknown name costs the same password hashing as a known one.
It is for `make up` and the tests only; production playbooks never install it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import tornado.ioloop
import tornado.web
from joserfc import jwt
from joserfc.jwk import RSAKey

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.i18n import pick_language

LOG = logging.getLogger("enclave_demo.idp")
CODE_TTL = 60
TOKEN_TTL = 3600


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 200_000).hex()
    return f"pbkdf2_sha256${salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    try:
        _algo, salt, _digest = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, salt), stored)


@dataclass
class LoginGuard:
    """Lockout of a name after repeated failures, and a limit on failures per client address.

    Names are counted whether or not they exist, so a lockout says nothing about which accounts are real.
    At most `max_tracked` names and addresses are remembered (the oldest are forgotten first).
    """

    max_failures: int = 5  # per name within `window` seconds, then locked for `lockout` seconds
    window: float = 900.0
    lockout: float = 900.0
    max_failures_per_ip: int = 20  # per address within `window` seconds, then refused until they age out
    max_tracked: int = 10_000
    now: Callable[[], float] = time.monotonic
    _by_name: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _by_ip: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def _recent(self, table: OrderedDict[str, deque[float]], key: str) -> deque[float]:
        times = table.setdefault(key, deque())
        table.move_to_end(key)
        while times and times[0] <= self.now() - self.window:
            times.popleft()
        while len(table) > self.max_tracked:
            table.popitem(last=False)
        return times

    def ip_throttled(self, ip: str) -> bool:
        return len(self._recent(self._by_ip, ip)) >= self.max_failures_per_ip

    def name_locked(self, name: str) -> bool:
        until = self._locked_until.get(name)
        if until is not None and until <= self.now():
            del self._locked_until[name]
            return False
        return until is not None

    def failed(self, name: str, ip: str) -> bool:
        """Count a failure; True when it locks the name."""
        self._recent(self._by_ip, ip).append(self.now())
        times = self._recent(self._by_name, name)
        times.append(self.now())
        if len(times) >= self.max_failures:
            self._locked_until[name] = self.now() + self.lockout
            times.clear()
            return True
        return False

    def succeeded(self, name: str) -> None:
        self._by_name.pop(name, None)


@dataclass
class Grant:
    username: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    challenge: str
    expires: float


class Provider:
    def __init__(self, issuer: str, users: dict[str, Any], clients: dict[str, Any], key: dict[str, Any],
                 guard: LoginGuard | None = None):
        self.issuer = issuer.rstrip("/")
        self.users = users
        self.clients = clients
        self.key = RSAKey.import_key(key)
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.guard = guard or LoginGuard()
        # checked against when the name is unknown, so that costs the same time as a wrong password
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))

    def claims(self, username: str) -> dict[str, Any]:
        u = self.users[username]
        return {"sub": username, "preferred_username": username, "name": u.get("name", username),
                "email": u.get("email", ""), "email_verified": bool(u.get("email")),
                "institution": u.get("institution", ""), "groups": list(u.get("groups", []))}

    def verify_password(self, username: str, password: str) -> bool:
        """Whether the password is right; an unknown name is hashed against a dummy, in the same time."""
        user = self.users.get(username)
        ok = check_password(password, user["password"] if user else self._dummy_hash)
        return ok and user is not None

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": grant.client_id, "iat": now, "exp": now + TOKEN_TTL,
                   **self.claims(grant.username)}
        if grant.nonce:
            payload["nonce"] = grant.nonce
        header = {"alg": "RS256", "kid": self.key.thumbprint()}
        return jwt.encode(header, payload, self.key)


class Base(tornado.web.RequestHandler):
    @property
    def provider(self) -> Provider:
        return self.settings["provider"]

    def check_xsrf_cookie(self) -> None:  # the token endpoint is called by servers, not browsers
        pass

    def error(self, status: int, error: str, description: str) -> None:
        self.set_status(status)
        self.finish({"error": error, "error_description": description})


class Discovery(Base):
    def get(self) -> None:
        i = self.provider.issuer
        self.finish({
            "issuer": i, "authorization_endpoint": f"{i}/authorize", "token_endpoint": f"{i}/token",
            "userinfo_endpoint": f"{i}/userinfo", "jwks_uri": f"{i}/jwks", "end_session_endpoint": f"{i}/logout",
            "response_types_supported": ["code"], "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "preferred_username", "name", "email", "institution", "groups"],
        })


class Jwks(Base):
    def get(self) -> None:
        pub = self.provider.key.as_dict(private=False)
        pub["kid"] = self.provider.key.thumbprint()
        pub["use"], pub["alg"] = "sig", "RS256"
        self.finish({"keys": [pub]})


LOGIN_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:sans-serif;max-width:24em;margin:4em auto}}
label,input,button{{display:block;width:100%;margin:.4em 0}}.err{{color:#b00}}</style></head><body>
<h1>{title}</h1><p>{subtitle}</p><p class="err" role="alert">{error}</p>
<form method="post" action="authorize">{hidden}
<label for="username">{user_label}</label><input id="username" name="username" autocomplete="username" required>
<label for="password">{pass_label}</label><input id="password" name="password" type="password"
 autocomplete="current-password" required>
<button id="login" type="submit">{button}</button></form></body></html>"""

TEXT = {
    "en": {"title": "Institution sign-in", "subtitle": "Sign in with your real-name institutional account.",
           "user_label": "Username", "pass_label": "Password", "button": "Sign in",
           "bad": "Unknown username or wrong password.",
           "locked": "Too many failed sign-ins. Try again later.",
           "signed_out": "You are signed out."},
    "zh-CN": {"title": "机构统一身份认证", "subtitle": "请使用实名机构账号登录。", "user_label": "用户名",
              "pass_label": "密码", "button": "登录", "bad": "用户名或密码错误。",
              "locked": "登录失败次数过多，请稍后再试。", "signed_out": "您已退出登录。"},
}

AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
               "code_challenge_method")


class Authorize(Base):
    def _params(self) -> dict[str, str]:
        return {k: self.get_argument(k, "") for k in AUTH_PARAMS}

    def _validate(self, p: dict[str, str]) -> str | None:
        client = self.provider.clients.get(p["client_id"])
        if client is None:
            return "unknown client_id"
        if p["redirect_uri"] not in client["redirect_uris"]:
            return "redirect_uri is not registered for this client"
        if p["response_type"] != "code":
            return "only response_type=code is supported"
        if "openid" not in p["scope"].split():
            return "scope must include openid"
        if p["code_challenge_method"] != "S256" or len(p["code_challenge"]) < 43:
            return "PKCE with code_challenge_method=S256 is required"
        return None

    def _page(self, p: dict[str, str], error: str = "") -> None:
        lang = pick_language(self.request.headers.get("Accept-Language", ""))
        t = TEXT[lang]
        hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in p.items())
        # form-action also governs the redirect after the post, so the client's origin is allowed too
        target = urlsplit(p["redirect_uri"])
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                        f"form-action 'self' {target.scheme}://{target.netloc}")
        self.set_header("X-Frame-Options", "DENY")
        self.finish(LOGIN_PAGE.format(lang=lang, hidden=hidden, error=html.escape(error), **{
            k: t[k] for k in ("title", "subtitle", "user_label", "pass_label", "button")}))

    def _valid_params(self) -> dict[str, str] | None:
        """The request's parameters, or None after answering 400 naming what is wrong."""
        p = self._params()
        problem = self._validate(p)
        if problem:
            self.set_status(400)
            self.finish(f"invalid authorization request: {html.escape(problem)}")
            return None
        return p

    def get(self) -> None:
        p = self._valid_params()
        if p is not None:
            self._page(p)

    def post(self) -> None:
        p = self._valid_params()
        if p is None:
            return
        username = self.get_argument("username", "").strip()[:200]
        ip = self.request.remote_ip or ""
        guard = self.provider.guard
        text = TEXT[pick_language(self.request.headers.get("Accept-Language", ""))]
        if guard.ip_throttled(ip) or guard.name_locked(username):
            self._audit(AuditAction.IDP_LOGIN_FAILED, username, ip, "refused: locked out or throttled")
            self.set_status(429)
            self._page(p, text["locked"])
            return
        if not self.provider.verify_password(username, self.get_argument("password", "")):
            locked = guard.failed(username, ip)
            self._audit(AuditAction.IDP_LOGIN_FAILED, username, ip, "unknown username or wrong password")
            if locked:
                self._audit(AuditAction.IDP_LOCKOUT, username, ip, f"{guard.max_failures} failures in a row")
            self.set_status(401)
            self._page(p, text["bad"])
            return
        guard.succeeded(username)
        code = secrets.token_urlsafe(32)
        self.provider.codes[code] = Grant(username, p["client_id"], p["redirect_uri"], p["scope"],
                                          p["nonce"] or None, p["code_challenge"], time.time() + CODE_TTL)
        sep = "&" if "?" in p["redirect_uri"] else "?"
        self.redirect(p["redirect_uri"] + sep + urlencode({"code": code, "state": p["state"]}))


    def _audit(self, action: AuditAction, username: str, ip: str, reason: str) -> None:
        """Record a failed sign-in; the refusal stands even when the trail cannot be written."""
        try:
            with session_scope() as s:
                audit.record(s, "anonymous", action, target=username, ip=ip, reason=reason, via="demo-idp")
        except Exception:  # noqa: BLE001 - log and carry on refusing
            LOG.exception("could not audit a failed sign-in for %r", username)


class EndSession(Base):
    """RP-initiated logout: this IdP keeps no session of its own, so it only sends the browser back."""

    def get(self) -> None:
        client = self.provider.clients.get(self.get_argument("client_id", ""))
        target = self.get_argument("post_logout_redirect_uri", "")
        if client is not None and target and target in client.get("post_logout_redirect_uris", []):
            self.redirect(target)
            return
        text = TEXT[pick_language(self.request.headers.get("Accept-Language", ""))]
        self.finish(f"<!doctype html><p>{html.escape(text['signed_out'])}</p>")


class Token(Base):
    def post(self) -> None:
        client_id, secret = self.get_argument("client_id", ""), self.get_argument("client_secret", "")
        auth = self.request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            from urllib.parse import unquote

            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        client = self.provider.clients.get(client_id)
        if client is None or not hmac.compare_digest(client["secret"], secret):
            return self.error(401, "invalid_client", "client authentication failed")
        if self.get_argument("grant_type", "") != "authorization_code":
            return self.error(400, "unsupported_grant_type", "only authorization_code is supported")
        grant = self.provider.codes.pop(self.get_argument("code", ""), None)
        if grant is None or grant.expires < time.time() or grant.client_id != client_id:
            return self.error(400, "invalid_grant", "unknown, used or expired code")
        if grant.redirect_uri != self.get_argument("redirect_uri", ""):
            return self.error(400, "invalid_grant", "redirect_uri does not match")
        verifier = self.get_argument("code_verifier", "")
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or not hmac.compare_digest(expected, grant.challenge):
            return self.error(400, "invalid_grant", "PKCE code_verifier does not match")
        access = secrets.token_urlsafe(32)
        self.provider.tokens[access] = (grant.username, time.time() + TOKEN_TTL)
        self.set_header("Cache-Control", "no-store")
        self.finish({"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_TTL,
                     "scope": grant.scope, "id_token": self.provider.id_token(grant)})


class UserInfo(Base):
    def get(self) -> None:
        auth = self.request.headers.get("Authorization", "")
        entry = self.provider.tokens.get(auth.removeprefix("Bearer ").strip()) if auth else None
        if entry is None or entry[1] < time.time():
            self.set_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            return self.error(401, "invalid_token", "missing, unknown or expired access token")
        self.finish(self.provider.claims(entry[0]))


def make_app(provider: Provider) -> tornado.web.Application:
    return tornado.web.Application([
        (r"/\.well-known/openid-configuration", Discovery), (r"/jwks", Jwks), (r"/authorize", Authorize),
        (r"/token", Token), (r"/userinfo", UserInfo), (r"/logout", EndSession),
    ], provider=provider)


def load_or_create_key(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    key = RSAKey.generate_key(2048).as_dict(private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key))
    path.chmod(0o600)
    return key


def main() -> None:
    parser = argparse.ArgumentParser(description="Enclave demo OIDC identity provider")
    parser.add_argument("--config", required=True, help="JSON file with issuer, users and clients")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ip", default="127.0.0.1")
    args = parser.parse_args()
    cfg = json.loads(Path(args.config).read_text())
    provider = Provider(cfg["issuer"], cfg["users"], cfg["clients"], load_or_create_key(Path(cfg["key_file"])),
                        LoginGuard(**cfg.get("lockout", {})))
    make_app(provider).listen(args.port, address=args.ip)
    print(f"enclave-idp listening on {args.ip}:{args.port} issuer {provider.issuer}", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
