"""Operators run the enclave and auditors read it, but neither reaches a researcher's server or tokens;
a refused attempt is in the audit trail."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub.scopes import expand_scopes

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from hub.roles import (
    AUDITOR_ROLE,
    OPERATOR_ROLE,
    check_roles_hold_no_data_scopes,
    enclave_roles,
    log_request,
    target_user,
)


def _role(name: str) -> dict[str, Any]:
    return next(r for r in enclave_roles() if r["name"] == name)


def test_operators_start_stop_and_read_but_never_open_servers_or_mint_tokens():
    role = _role(OPERATOR_ROLE)
    assert role["groups"] == ["admin"]
    assert expand_scopes(set(role["scopes"])) == {
        "admin-ui", "list:users", "read:users", "read:users:name", "read:users:groups", "read:users:activity",
        "servers", "read:servers", "start:servers", "delete:servers", "list:groups", "read:groups",
        "read:groups:name", "list:services", "read:services", "read:services:name", "read:hub"}


def test_auditors_only_read():
    role = _role(AUDITOR_ROLE)
    assert role["groups"] == ["auditor"]
    assert expand_scopes(set(role["scopes"])) == {
        "admin-ui", "list:users", "read:users", "read:users:name", "read:users:groups", "read:users:activity",
        "read:servers", "list:groups", "read:groups", "read:groups:name", "list:services", "read:services",
        "read:services:name", "read:hub"}


@pytest.mark.parametrize("scope", ["admin:users", "access:servers", "access:servers!user=alice", "tokens", "admin"])
def test_a_role_that_would_reach_research_data_stops_the_hub(scope: str):
    with pytest.raises(ValueError, match=scope.split("!")[0]):
        check_roles_hold_no_data_scopes([*enclave_roles(), {"name": "site", "scopes": [scope], "groups": ["x"]}])


def test_the_hubs_configured_roles_give_no_person_data_scopes():
    check_roles_hold_no_data_scopes(enclave_roles())  # services (the idle culler, the CLI) hold no people


@pytest.mark.parametrize(("path", "query", "who"), [
    ("/hub/api/oauth2/authorize", "client_id=jupyterhub-user-alice&redirect_uri=x", "alice"),
    ("/hub/api/users/alice/tokens", "", "alice"),
    ("/hub/api/users/alice/server", "", "alice"),
    ("/user/alice/lab", "", "alice"),
    ("/hub/user/alice/lab/tree", "", "alice"),
    ("/hub/spawn/alice", "", "alice"),
    ("/hub/api/oauth2/authorize", "client_id=service-egress-review", None),
    ("/hub/admin", "", None),
])
def test_the_user_a_request_is_about(path: str, query: str, who: str | None):
    assert target_user(path, query) == who


class _Handler:
    def __init__(self, status: int, uri: str, user: str):
        self.request = SimpleNamespace(uri=uri, method="POST", remote_ip="192.0.2.7", request_time=lambda: 0.01,
                                       headers={})
        self._status, self.current_user = status, SimpleNamespace(name=user)
        self.log = SimpleNamespace(exception=lambda *a: None)

    def get_status(self) -> int:
        return self._status


def test_a_refused_attempt_at_another_users_tokens_is_audited(enclave_home: Path):
    log_request(_Handler(403, "/hub/api/users/alice/tokens", "admin"))
    log_request(_Handler(200, "/hub/api/users/admin/tokens", "admin"))  # one's own: nothing to record
    log_request(_Handler(403, "/hub/api/users/admin/tokens", "admin"))
    log_request(_Handler(201, "/hub/api/users/alice/server", "admin"))  # allowed (operators start servers)
    with session_scope() as s:
        events = audit.query(s, action=AuditAction.ACCESS_DENIED)
        assert [(e["actor"], e["target"]) for e in events] == [("admin", "alice")]
        assert audit.verify(s).ok


def test_a_token_for_another_user_answered_not_found_is_audited_as_a_refusal(enclave_home: Path):
    """JupyterHub answers an operator's POST /users/alice/tokens with 404 (it may not even read alice)."""
    log_request(_Handler(404, "/hub/api/users/alice/tokens", "olga"))
    log_request(_Handler(404, "/hub/api/users/nobody-here/tokens", ""))  # anonymous: the hub's 404, no one to name
    log_request(_Handler(404, "/user/alice/lab/tree/missing.ipynb", "alice"))  # one's own missing file
    log_request(_Handler(404, "/hub/spawn/alice", "olga"))  # not the users API: a page that is not there
    with session_scope() as s:
        events = audit.query(s, action=AuditAction.ACCESS_DENIED)
        assert [(e["actor"], e["target"], e["details"]["status"]) for e in events] == [("olga", "alice", 404)]


def _load_hub_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str) -> Any:
    """hub/jupyterhub_config.py as JupyterHub loads it, with one site override in jupyterhub_config.d."""
    from traitlets.config.loader import PyFileConfigLoader

    from enclave.settings import REPO_ROOT, get_settings

    overrides = tmp_path / "jupyterhub_config.d"
    overrides.mkdir()
    (overrides / "60-site.py").write_text(override)
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENCLAVE_HUB_CONFIG_DIR", str(overrides))
    get_settings.cache_clear()
    try:
        return PyFileConfigLoader("jupyterhub_config.py", path=str(REPO_ROOT / "hub")).load_config()
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("override", [
    # a new role for the admin group that opens servers
    'c.JupyterHub.load_roles.append({"name": "helpdesk", "scopes": ["access:servers"], "groups": ["admin"]})',
    # the enclave's operator role defined again by the site, with tokens
    'c.JupyterHub.load_roles.extend([{"name": "enclave-operator", "scopes": ["servers", "tokens"], '
    '"groups": ["admin"]}])',
    # every role replaced by one that gives a named person another user's servers
    'c.JupyterHub.load_roles = [{"name": "x", "scopes": ["access:servers!user=alice"], "users": ["olga"]}]',
])
def test_a_site_override_that_widens_peoples_rights_stops_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   override: str):
    with pytest.raises(ValueError, match="must not reach researchers' servers or tokens"):
        _load_hub_config(tmp_path, monkeypatch, override)


def test_a_site_override_that_keeps_the_rules_is_loaded_after_the_enclaves_configuration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = _load_hub_config(tmp_path, monkeypatch, 'c.JupyterHub.template_vars = {"announcement": "site"}\n'
                              'assert c.JupyterHub.load_roles, "loaded after the enclave roles"')
    assert config.JupyterHub.template_vars == {"announcement": "site"}
    assert {r["name"] for r in config.JupyterHub.load_roles} >= {OPERATOR_ROLE, AUDITOR_ROLE}


def test_every_custom_scope_a_workspace_token_carries_is_one_its_owner_holds(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    """JupyterHub gives a token only what its owner may do: a service scope (exports, jobs, packages, the code
    recorder) in the workspace token's list but not among the users' scopes is silently dropped, and every call
    of that workspace to the service is refused."""
    config = _load_hub_config(tmp_path, monkeypatch, "")
    custom = {s for s in config.EnclaveSpawner.server_token_scopes if s.startswith("custom:")}
    assert custom, "the workspace token asks for the enclave services' scopes"
    assert custom <= set(config.JupyterHub.extra_user_scopes)
