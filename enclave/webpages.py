"""What every enclave web page sends, whichever hub service serves it (egress review, governance, jobs).

The pages run no script and are never framed or cached: one policy, written once, so a service cannot drift
into a weaker one. The reader's language comes from the browser, the same way for every service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from jupyterhub.services.auth import HubAuthenticated
from tornado import web

from enclave.i18n import local_time, pick_language, zone_of
from enclave.settings import TIME_ZONE_COOKIE

CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


class PageBasics:
    """Mixed into a tornado RequestHandler: the security headers and the reader's language."""

    request: Any
    set_header: Any  # tornado's RequestHandler provides both; this class comes first in the bases

    def get_current_user(self) -> Any:
        """Who is asking, as the hub's auth mixin (next in the bases) says, guarded against waiting on itself:
        its cookie check may ask for the XSRF token, which asks who the user is; with no answer yet that would
        identify the caller again inside itself and never answer (a junk `_xsrf` cookie on a post did, in every
        service). Anonymous meanwhile; tornado keeps the real answer when this returns."""
        self._current_user = None
        return super().get_current_user()  # type: ignore[misc]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    @property
    def lang(self) -> str:
        return pick_language(self.request.headers.get("Accept-Language", ""))

    @property
    def zone(self) -> str:
        """The reader's time zone, as the hub's pages recorded it from the browser (UTC until they have)."""
        cookie = self.request.cookies.get(TIME_ZONE_COOKIE)
        return zone_of(unquote(cookie.value) if cookie is not None else "")

    def when(self, ts: Any) -> str:
        """A stored time in the reader's zone and words, the zone named (templates: `when(r.created_at)`)."""
        return local_time(ts, self.zone, self.lang)



def error_sentence(kwargs: dict[str, Any], status_code: int, reason: str, failed: str) -> str:
    """The English sentence of a tornado error (`write_error`'s kwargs), for pages and JSON APIs alike: the
    HTTPError's message, else the status reason, else (a failure of ours) `failed`, which says whom to tell."""
    exc = kwargs.get("exc_info", (None, None, None))[1]
    text = getattr(exc, "log_message", None) or ""
    if isinstance(exc, web.HTTPError) and exc.args and text:
        text = text % exc.args
    if text:
        return str(text)
    return failed if status_code >= 500 else reason


class WorkspaceTokenApi(PageBasics, HubAuthenticated):
    """Mixed into the JSON APIs workspaces call with their own token (jobs, package requests, the code recorder):
    one way to accept the service's scope, whole or filtered to the caller (`...!user=<name>`, as workspace tokens
    carry it), and no XSRF check, since the `Authorization` header alone authenticates (HubAuth reads no cookie
    here) and there are no pages a browser could be tricked into posting.

    A subclass names its scope in `token_scope` and the two refusals `caller` gives in its own words (each with
    its zh-CN form in the service's catalogue); `initialize` takes the service's context with its `hub_auth`.
    """

    token_scope: str = ""
    token_needed: str = "a workspace token is needed: call this from your workspace"
    people_only: str = "only people call this"

    def initialize(self, ctx: Any) -> None:
        self.ctx = ctx
        self.hub_auth = ctx.hub_auth

    @property
    def hub_scopes(self) -> set[str]:  # type: ignore[override]
        return {self.token_scope}

    def check_hub_user(self, model: dict[str, Any]) -> dict[str, Any]:
        name, have = model["name"], set(model.get("scopes", []))
        if self.token_scope in have or f"{self.token_scope}!user={name}" in have:
            return model
        return super().check_hub_user(model)  # type: ignore[no-any-return]

    def check_xsrf_cookie(self) -> None:
        """None: see the class."""

    def caller(self) -> str:
        """The person whose workspace token made the call (a service's or a bare user's token is refused)."""
        user = self.current_user  # type: ignore[attr-defined]
        if not user:
            raise web.HTTPError(403, self.token_needed)
        if user.get("kind", "user") != "user":
            raise web.HTTPError(403, self.people_only)
        return str(user["name"])

    failed: str = "the service failed on this call; tell the enclave administrators"

    def translated(self, text: str) -> str:
        """`text` in the caller's language: a service answers with its own catalogue (English without one)."""
        return text

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """One sentence in the caller's language, never a traceback: an unexpected failure says whom to tell."""
        text = error_sentence(kwargs, status_code, self._reason, self.failed)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "error": self.translated(text)},  # type: ignore[attr-defined]
                               ensure_ascii=False))

    def json_object(self, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """The body as a JSON object; with `fields`, one naming anything else is refused (who and where are
        never the body's to say: the caller and its workspace come from the token)."""
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise web.HTTPError(400, "%s", f"the body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        unknown = sorted(set(data) - set(fields)) if fields is not None else []
        if unknown:
            raise web.HTTPError(400, "%s", f"unknown field(s): {', '.join(unknown)}")
        return data

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "application/json; charset=utf-8")  # type: ignore[attr-defined]
        self.finish(json.dumps(data, ensure_ascii=False, default=str))  # type: ignore[attr-defined]
