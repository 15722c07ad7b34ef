"""The identity provider as OpenID Connect describes it: known by its issuer URL, trusted only for what it signs.

Endpoints, keys and algorithms come from the issuer's discovery document; every ID token is verified here
(signature against the provider's JWKS, issuer, audience, expiry, nonce) before the hub believes a claim.
oauthenticator's GenericOAuthenticator decodes ID tokens without checking their signature and never sends
a nonce, so the enclave does not rely on it for this.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from enclave.errors import EnclaveError

# Asymmetric signatures only: never "none", never HS* (the client secret must not be able to mint tokens).
ACCEPTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_SKEW_SECONDS = 60
JWKS_REFETCH_INTERVAL = 5.0  # an unknown kid triggers at most one JWKS fetch in this many seconds

FetchJson = Callable[[str], Awaitable[dict[str, Any]]]


class OidcError(EnclaveError):
    """The provider or one of its answers cannot be trusted; the message says why (never a token's content)."""


class IdTokenRejected(OidcError):
    pass


@dataclass(frozen=True)
class ProviderMetadata:
    """What the discovery document says, checked against the issuer we were configured with."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    end_session_endpoint: str
    algorithms: tuple[str, ...]

    @classmethod
    def from_document(cls, issuer: str, doc: dict[str, Any]) -> ProviderMetadata:
        where = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        if doc.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
            raise OidcError(f"{where} names issuer {doc.get('issuer')!r}, not the configured {issuer!r} "
                            "(ENCLAVE_OIDC_ISSUER)")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise OidcError(f"{where} lacks {', '.join(missing)}")
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]  # RS256 is the spec's default
        algorithms = tuple(a for a in offered if a in ACCEPTED_ALGORITHMS)
        if not algorithms:
            raise OidcError(f"{where} offers ID-token algorithms {offered}; the enclave accepts only "
                            f"{', '.join(ACCEPTED_ALGORITHMS)}")
        return cls(issuer=doc["issuer"], authorization_endpoint=doc["authorization_endpoint"],
                   token_endpoint=doc["token_endpoint"], jwks_uri=doc["jwks_uri"],
                   userinfo_endpoint=doc.get("userinfo_endpoint", ""),
                   end_session_endpoint=doc.get("end_session_endpoint", ""), algorithms=algorithms)


def discovery_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


class IdTokenVerifier:
    """Verifies ID tokens against the provider's current keys; a token signed with a new key refetches them."""

    def __init__(self, metadata: ProviderMetadata, client_id: str, fetch_json: FetchJson,
                 now: Callable[[], float] = time.time):
        self.metadata, self.client_id, self.fetch_json, self.now = metadata, client_id, fetch_json, now
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")

    async def _refresh_keys(self) -> KeySet:
        doc = await self.fetch_json(self.metadata.jwks_uri)
        try:
            self._keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcError(f"the provider's JWKS at {self.metadata.jwks_uri} is not a key set: {exc}") from exc
        self._fetched_at = self.now()
        return self._keys

    async def _key_for(self, kid: str | None) -> Any:
        keys = self._keys or await self._refresh_keys()
        try:
            return keys.get_by_kid(kid)
        except (InvalidKeyIdError, ValueError):
            if self.now() - self._fetched_at < JWKS_REFETCH_INTERVAL:
                raise self._unknown_kid(kid) from None
        keys = await self._refresh_keys()  # the provider may have rotated its keys since we last looked
        try:
            return keys.get_by_kid(kid)
        except (InvalidKeyIdError, ValueError):
            raise self._unknown_kid(kid) from None

    @staticmethod
    def _unknown_kid(kid: str | None) -> IdTokenRejected:
        return IdTokenRejected(f"ID token signed with key {kid!r}, which the provider does not publish")

    async def verify(self, id_token: str | None, nonce: str | None) -> dict[str, Any]:
        """The token's claims when it is genuine, fresh, for us and for this login; IdTokenRejected otherwise."""
        if not id_token:
            raise IdTokenRejected("the provider's token response holds no ID token (is 'openid' in the scope?)")
        if not nonce:
            raise IdTokenRejected("this login has no nonce to check the ID token against")
        try:
            header = jws.extract_compact(id_token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise IdTokenRejected(f"the ID token is not a signed JWT: {exc}") from exc
        if header.get("alg") not in self.metadata.algorithms:
            raise IdTokenRejected(f"ID token algorithm {header.get('alg')!r} is not one the provider announced "
                                  f"and the enclave accepts ({', '.join(self.metadata.algorithms)})")
        key = await self._key_for(header.get("kid"))
        try:
            token = jwt.decode(id_token, key, algorithms=list(self.metadata.algorithms))
        except BadSignatureError as exc:
            raise IdTokenRejected("the ID token's signature does not verify with the provider's key") from exc
        except (DecodeError, JoseError, ValueError) as exc:
            raise IdTokenRejected(f"the ID token cannot be read: {exc}") from exc
        self._check_claims(token.claims, nonce)
        return token.claims

    def _check_claims(self, claims: dict[str, Any], nonce: str) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.now()), leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": self.metadata.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise IdTokenRejected("the ID token has expired") from exc
        except MissingClaimError as exc:
            raise IdTokenRejected(f"the ID token lacks a required claim: {exc.description}") from exc
        except ClaimError as exc:
            raise IdTokenRejected(f"the ID token's {exc.claim!r} claim is wrong "
                                  f"({'not this login' if exc.claim == 'nonce' else exc.description})") from exc
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise IdTokenRejected("the ID token has several audiences and its 'azp' is not this hub")
