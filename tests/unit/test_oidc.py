"""ID tokens are believed only when the provider signed them for this hub and this login: signature against
the provider's JWKS (refetched when it rotates its keys), issuer, audience, expiry and nonce."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from hub.oidc import IdTokenRejected, IdTokenVerifier, OidcError, ProviderMetadata

ISSUER = "https://login.example.org/realms/hospital"
CLIENT = "enclave-hub"
NONCE = "n-0S6_WzA2Mj"


class FakeProvider:
    """A provider's published keys; counts how often the hub fetched them."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, auto_kid=True)]
        self.fetches = 0

    async def fetch_json(self, url: str) -> dict[str, Any]:
        assert url == f"{ISSUER}/jwks"
        self.fetches += 1
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

    def rotate(self) -> RSAKey:
        self.keys = [RSAKey.generate_key(2048, auto_kid=True)]
        return self.keys[0]


def metadata(algorithms: list[str] | None = None) -> ProviderMetadata:
    doc = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth", "token_endpoint": f"{ISSUER}/token",
           "jwks_uri": f"{ISSUER}/jwks", "userinfo_endpoint": f"{ISSUER}/userinfo",
           "id_token_signing_alg_values_supported": algorithms or ["RS256"]}
    return ProviderMetadata.from_document(ISSUER, doc)


def token(key: Any, alg: str = "RS256", kid: str | None = None, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "iat": now, "exp": now + 300, "nonce": NONCE,
              **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"alg": alg, "kid": kid if kid is not None else getattr(key, "kid", None)}
    return jwt.encode({k: v for k, v in header.items() if v}, claims, key)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


def verify(provider: FakeProvider, id_token: str, nonce: str | None = NONCE, **kw: Any) -> dict[str, Any]:
    verifier = kw.pop("verifier", None) or IdTokenVerifier(metadata(), CLIENT, provider.fetch_json, **kw)
    return asyncio.run(verifier.verify(id_token, nonce))


def test_a_token_the_provider_signed_for_this_login_is_believed(provider: FakeProvider):
    claims = verify(provider, token(provider.keys[0]))
    assert claims["sub"] == "248289761001" and claims["nonce"] == NONCE


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"iss": "https://evil.example.org"}, "'iss' claim is wrong"),
    ({"aud": "another-client"}, "'aud' claim is wrong"),
    ({"nonce": "someone-elses-login"}, "'nonce' claim is wrong (not this login)"),
    ({"nonce": None}, "lacks a required claim"),
    ({"exp": int(time.time()) - 3600}, "has expired"),
    ({"sub": None}, "lacks a required claim"),
    ({"aud": [CLIENT, "other"]}, "several audiences"),
])
def test_a_token_with_a_wrong_claim_is_rejected(provider: FakeProvider, overrides: dict[str, Any], reason: str):
    with pytest.raises(IdTokenRejected) as err:
        verify(provider, token(provider.keys[0], **overrides))
    assert reason in str(err.value)


def test_several_audiences_are_accepted_when_this_hub_is_the_authorised_party(provider: FakeProvider):
    assert verify(provider, token(provider.keys[0], aud=[CLIENT, "other"], azp=CLIENT))["azp"] == CLIENT


def test_a_login_without_a_nonce_is_rejected(provider: FakeProvider):
    with pytest.raises(IdTokenRejected, match="no nonce"):
        verify(provider, token(provider.keys[0]), nonce=None)


def test_a_token_signed_with_another_key_under_the_providers_key_id_is_rejected(provider: FakeProvider):
    forger = RSAKey.generate_key(2048)
    with pytest.raises(IdTokenRejected, match="signature does not verify"):
        verify(provider, token(forger, kid=provider.keys[0].kid))


def test_a_token_signed_with_the_client_secret_or_unsigned_is_rejected(provider: FakeProvider):
    secret = OctKey.import_key("the-client-secret-which-is-long-enough-for-hs256")
    with pytest.raises(IdTokenRejected, match="algorithm 'HS256' is not one"):
        verify(provider, token(secret, alg="HS256", kid=provider.keys[0].kid))
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = token(provider.keys[0]).split(".")[1]
    with pytest.raises(IdTokenRejected, match="algorithm 'none' is not one"):
        verify(provider, f"{header}.{body}.")


def test_a_rotated_key_is_fetched_once_and_then_trusted(provider: FakeProvider):
    clock = [time.time()]
    verifier = IdTokenVerifier(metadata(), CLIENT, provider.fetch_json, now=lambda: clock[0])
    asyncio.run(verifier.verify(token(provider.keys[0]), NONCE))
    assert provider.fetches == 1
    new_key = provider.rotate()
    clock[0] += 60  # later than the refetch interval, within the tokens' lifetime
    assert verify(provider, token(new_key), verifier=verifier)["iss"] == ISSUER
    assert provider.fetches == 2  # the unknown kid made the hub look again
    verify(provider, token(new_key), verifier=verifier)
    assert provider.fetches == 2  # and the new key is kept


def test_an_unknown_key_id_does_not_make_the_hub_refetch_keys_in_a_loop(provider: FakeProvider):
    clock = [time.time()]
    verifier = IdTokenVerifier(metadata(), CLIENT, provider.fetch_json, now=lambda: clock[0])
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    with pytest.raises(IdTokenRejected, match="which the provider does not publish"):
        verify(provider, token(stranger), verifier=verifier)
    with pytest.raises(IdTokenRejected, match="which the provider does not publish"):
        verify(provider, token(stranger), verifier=verifier)
    assert provider.fetches == 1  # the second attempt, within the refetch interval, used the keys it had


def test_discovery_must_name_the_configured_issuer_and_an_asymmetric_algorithm():
    doc = {"issuer": "https://other.example.org", "authorization_endpoint": "a", "token_endpoint": "t",
           "jwks_uri": "j"}
    with pytest.raises(OidcError, match="names issuer 'https://other.example.org', not the configured"):
        ProviderMetadata.from_document(ISSUER, doc)
    with pytest.raises(OidcError, match="accepts only"):
        ProviderMetadata.from_document(ISSUER, {**doc, "issuer": ISSUER,
                                                "id_token_signing_alg_values_supported": ["HS256", "none"]})
    with pytest.raises(OidcError, match="lacks jwks_uri"):
        ProviderMetadata.from_document(ISSUER, {**doc, "issuer": ISSUER, "jwks_uri": ""})
    assert metadata(["ES256", "HS256"]).algorithms == ("ES256",)
