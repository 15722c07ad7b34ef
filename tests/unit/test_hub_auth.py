"""The account a sign-in lands in: the configured claim (sub by default), bound to the identity that first
used it; display name and institution stored from claims; never a JupyterHub admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from enclave.db import session_scope
from enclave.errors import NotAllowed
from enclave.models import User
from hub.auth import EnclaveAuthenticator, LoginRefused

ISSUER = "https://login.example.org"


def _model(name: str, sub: str, **claims: Any) -> dict[str, Any]:
    info = {"iss": ISSUER, "sub": sub, "name": "Alice Li", "institution": "Hospital A", "groups": ["researcher"],
            "email": "alice@example.org", "email_verified": True, **claims}
    return {"name": name, "admin": None, "groups": info["groups"], "auth_state": {"oauth_user": info}}


def test_a_sign_in_stores_name_institution_and_the_identity_and_is_never_a_hub_admin(enclave_home: Path):
    model = _model("alice", "alice", groups=["researcher", "admin"])
    EnclaveAuthenticator()._admit(model, "192.0.2.1")
    assert model["admin"] is False
    with session_scope() as s:
        user = s.execute(select(User).where(User.username == "alice")).scalar_one()
        assert (user.display_name, user.institution, user.idp_subject) == ("Alice Li", "Hospital A", f"{ISSUER} alice")
        assert user.roles == ["admin", "researcher"]


def test_another_identity_with_the_same_username_is_refused(enclave_home: Path):
    auth = EnclaveAuthenticator()
    auth._admit(_model("alice", "alice"), "192.0.2.1")
    auth._admit(_model("alice", "alice"), "192.0.2.1")  # the same person again
    with pytest.raises(NotAllowed, match="bound to another identity"):
        auth._admit(_model("alice", "someone-else"), "192.0.2.1")
    with session_scope() as s:
        assert s.execute(select(User).where(User.username == "alice")).scalar_one().idp_subject == f"{ISSUER} alice"


def test_the_same_identity_under_a_second_username_is_refused(enclave_home: Path):
    """The username claim changed, or the provider renamed her: one person never gets two accounts."""
    auth = EnclaveAuthenticator()
    auth._admit(_model("alice", "alice", groups=["researcher"]), "192.0.2.1")
    with pytest.raises(NotAllowed, match="already bound to account 'alice'"):
        auth._admit(_model("alice2", "alice", groups=["reviewer"]), "192.0.2.1")
    with session_scope() as s:
        bound = s.execute(select(User.username).where(User.idp_subject == f"{ISSUER} alice")).scalars().all()
        assert bound == ["alice"]
        assert s.execute(select(User).where(User.username == "alice2")).scalar_one_or_none() is None


def test_an_unverified_email_is_not_stored(enclave_home: Path):
    EnclaveAuthenticator()._admit(_model("bob", "bob", email="boss@example.org", email_verified=False), "")
    with session_scope() as s:
        assert s.execute(select(User).where(User.username == "bob")).scalar_one().email == ""


def test_a_claim_that_is_no_valid_username_is_refused(enclave_home: Path):
    with pytest.raises(LoginRefused, match="'sub' claim is not a valid enclave username"):
        EnclaveAuthenticator(username_claim="sub")._admit(_model("Not A Name!", "x"), "")
