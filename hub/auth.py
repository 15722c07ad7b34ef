"""Login through the institution's OIDC provider, recorded in the audit trail and mirrored into the
enclave's own user table (roles come from the IdP's groups claim)."""

from __future__ import annotations

from typing import Any

from oauthenticator.generic import GenericOAuthenticator

from enclave import audit
from enclave.db import session_scope
from enclave.models import Role
from enclave.projects import upsert_user


class EnclaveAuthenticator(GenericOAuthenticator):
    async def get_authenticated_user(self, handler: Any, data: Any) -> dict[str, Any] | None:
        model = await super().get_authenticated_user(handler, data)
        ip = handler.request.remote_ip if handler is not None else ""
        if model is None:
            with session_scope() as s:
                audit.record(s, "anonymous", "login.denied", ip=ip,
                             reason="identity provider account has no enclave role")
            return None
        info = (model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        groups = set(model.get("groups") or [])
        roles = sorted(groups & {r.value for r in Role})
        with session_scope() as s:
            upsert_user(s, "idp", model["name"], display_name=str(info.get("name", "")),
                        email=str(info.get("email", "")), roles=roles, login=True)
            audit.record(s, model["name"], "login", target=model["name"], ip=ip, roles=roles)
        return model
