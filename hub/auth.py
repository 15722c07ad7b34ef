"""Login through the institution's OIDC provider, known only by its issuer URL.

The provider's endpoints and keys come from its discovery document; each login sends a nonce and the ID
token is verified (hub.oidc) before any claim is believed. The account is the configured username claim
(by default the stable `sub`), bound to the identity that first used it; roles come from the configured
groups claim, display name and institution from theirs. Every login and refusal is in the audit trail.
Logout ends the hub session and, when the provider has an end_session_endpoint, the provider's session.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler, OAuthLogoutHandler, _deserialize_state, _serialize_state
from sqlalchemy import select
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Unicode

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import Role, User
from enclave.projects import USERNAME, upsert_user
from hub.oidc import IdTokenVerifier, OidcError, ProviderMetadata, discovery_url


class LoginRefused(EnclaveError):
    """The provider vouched for someone the enclave will not let in; the message is the audited reason."""


def check_can_sign_in_as(user: User | None, subject: str, holder: User | None = None) -> None:
    """An account belongs to the identity (issuer + sub) that first signed in with it, and to no other;
    an identity binds one account (`holder`: the account already bound to `subject`, if any).

    One person under two usernames (the username claim changed, or the provider renamed her) would be two
    people to every rule that counts people: she could review her own export request as the second one.
    """
    if user is not None and user.idp_subject and user.idp_subject != subject:
        raise NotAllowed(f"account '{user.username}' is bound to another identity at the provider")
    if holder is not None and (user is None or holder.username != user.username):
        raise NotAllowed(f"this identity at the provider is already bound to account '{holder.username}': "
                         "an administrator must rename that account rather than open a second one")


def check_username(username: str, claim: str) -> None:
    if not USERNAME.match(username):
        raise LoginRefused(f"the provider's '{claim}' claim is not a valid enclave username")


class EnclaveLoginHandler(OAuthLoginHandler):
    """The provider's authorize endpoint from discovery, and a fresh nonce kept in the signed state cookie."""

    _nonce = ""

    async def get(self) -> None:  # type: ignore[override]
        try:
            await self.authenticator.provider()
        except (OidcError, HTTPClientError, OSError) as exc:
            self.log.error("identity provider unavailable: %s", exc)
            raise web.HTTPError(503, "The identity provider cannot be reached; try again in a moment.") from exc
        super().get()

    def set_state_cookie(self, state_cookie_value: str) -> None:
        # OAuthLoginHandler.get sets the state cookie, then redirects: the nonce rides in both.
        state = _deserialize_state(state_cookie_value)
        self._nonce = state["nonce"] = secrets.token_urlsafe(32)
        super().set_state_cookie(_serialize_state(state))

    def authorize_redirect(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("extra_params", {})["nonce"] = self._nonce
        super().authorize_redirect(*args, **kwargs)


class EnclaveLogoutHandler(OAuthLogoutHandler):
    """After the hub session is gone, end the provider's session too when it says how."""

    async def render_logout_page(self) -> None:
        url = await self.authenticator.end_session_url()
        if url:
            self.redirect(url)
            return
        await super().render_logout_page()


class EnclaveAuthenticator(GenericOAuthenticator):
    login_handler = EnclaveLoginHandler
    logout_handler = EnclaveLogoutHandler

    oidc_issuer = Unicode(config=True, help="The identity provider's issuer URL (its discovery document beneath)")
    name_claim = Unicode("name", config=True, help="Claim holding the person's real name")
    institution_claim = Unicode("institution", config=True, help="Claim holding the person's institution")
    post_logout_redirect_url = Unicode(config=True, help="Where the provider sends the browser after logout")

    _metadata: ProviderMetadata | None = None
    _verifier: IdTokenVerifier | None = None

    async def _fetch_json(self, url: str) -> dict[str, Any]:
        return await self.httpfetch(url, f"Fetching {url}", method="GET", validate_cert=self.validate_server_cert)

    async def provider(self) -> ProviderMetadata:
        """The provider's discovery document, read on first use (the hub starts even while the IdP is down)."""
        if self._metadata is None:
            metadata = ProviderMetadata.from_document(self.oidc_issuer,
                                                      await self._fetch_json(discovery_url(self.oidc_issuer)))
            self.authorize_url, self.token_url = metadata.authorization_endpoint, metadata.token_endpoint
            self.userdata_url = metadata.userinfo_endpoint
            self._verifier = IdTokenVerifier(metadata, self.client_id, self._fetch_json)
            self._metadata = metadata
        return self._metadata

    async def end_session_url(self) -> str:
        """The provider's logout address for this client, or "" when it has none (or cannot be reached now)."""
        try:
            metadata = await self.provider()  # also after a hub restart, before anyone signed in again
        except (OidcError, HTTPClientError, OSError) as exc:
            self.log.warning("cannot end the provider session: %s", exc)
            return ""
        if not metadata.end_session_endpoint:
            return ""
        query = urlencode({"client_id": self.client_id, "post_logout_redirect_uri": self.post_logout_redirect_url})
        return f"{metadata.end_session_endpoint}?{query}"

    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> dict[str, Any] | None:
        """The code exchanged for tokens, the ID token verified with this login's nonce, then the user model."""
        await self.provider()
        assert self._verifier is not None
        token_info = await self.get_token_info(handler, self.build_access_tokens_request_params(handler, data))
        nonce = _deserialize_state(handler.get_state_cookie()).get("nonce")
        token_info["id_token_claims"] = await self._verifier.verify(token_info.get("id_token"), nonce)
        return await self._token_to_auth_model(token_info)

    async def token_to_user(self, token_info: dict[str, Any]) -> dict[str, Any]:
        """Verified ID-token claims, completed by the userinfo endpoint's (which must be about the same sub)."""
        claims: dict[str, Any] = token_info["id_token_claims"]
        if not self.userdata_url:
            return dict(claims)
        userinfo = await super().token_to_user(token_info)
        if userinfo.get("sub") != claims["sub"]:
            raise LoginRefused("the userinfo endpoint answered about another subject than the ID token")
        return {**userinfo, **claims}  # what the provider signed wins

    async def get_authenticated_user(self, handler: Any, data: Any) -> dict[str, Any] | None:
        ip = handler.request.remote_ip if handler is not None else ""
        try:
            model = await super().get_authenticated_user(handler, data)
            if model is not None:
                self._admit(model, ip)
        except (OidcError, LoginRefused, NotAllowed) as exc:
            self.log.warning("login refused: %s", exc)
            self._deny(ip, str(exc))
            return None
        if model is None:
            self._deny(ip, "identity provider account has no enclave role")
        return model

    def _deny(self, ip: str, reason: str) -> None:
        with session_scope() as s:
            audit.record(s, "anonymous", AuditAction.LOGIN_DENIED, ip=ip, reason=reason)

    def _admit(self, model: dict[str, Any], ip: str) -> None:
        """Mirror the person into the enclave's user table; never a JupyterHub admin (operators have roles)."""
        info = (model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        check_username(model["name"], str(self.username_claim))
        subject = f"{info.get('iss', '')} {info.get('sub', '')}"
        roles = sorted(set(model.get("groups") or []) & {r.value for r in Role})
        model["admin"] = False
        with session_scope() as s:
            check_can_sign_in_as(s.execute(select(User).where(User.username == model["name"])).scalar_one_or_none(),
                                 subject, s.execute(select(User).where(User.idp_subject == subject)).scalars().first())
            user = upsert_user(s, "idp", model["name"], display_name=str(info.get(self.name_claim) or ""),
                               email=str(info.get("email") or "") if info.get("email_verified") else "",
                               roles=roles, login=True)
            user.idp_subject = subject
            if info.get(self.institution_claim):
                user.institution = str(info[self.institution_claim])
            audit.record(s, model["name"], AuditAction.LOGIN, target=model["name"], ip=ip, roles=roles)
