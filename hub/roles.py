"""The enclave's JupyterHub roles: operators run the service, auditors read it, neither sees research data.

JupyterHub's own `admin` role holds `access:servers`, `tokens` and `admin:users`, so an admin could open a
researcher's JupyterLab or mint a token in their name. The enclave never makes anyone a JupyterHub admin:
members of the identity provider's `admin` group get the operator role below, `auditor`s the auditor role.
A refused attempt at another user's server, tokens or spawn page is recorded in the audit trail here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jupyterhub.log import log_request as jupyterhub_log_request

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.models import Role

# Start, stop and look at servers; read users, groups and the hub's state. Deliberately absent:
# access:servers (open a server), tokens (mint tokens as someone), admin:users (rename, make admin),
# admin:auth_state, shares, and everything under admin:servers beyond start/stop (server state).
OPERATOR_SCOPES = ("admin-ui", "list:users", "read:users", "servers", "list:groups", "read:groups",
                   "list:services", "read:services", "read:hub")
AUDITOR_SCOPES = ("admin-ui", "list:users", "read:users", "read:servers", "list:groups", "read:groups",
                  "list:services", "read:services", "read:hub")
# Scopes that reach into another person's work: no enclave role may hold them (checked at start-up).
DATA_SCOPES = frozenset({"admin", "access:servers", "tokens", "admin:users", "users", "admin:auth_state",
                         "admin:servers", "shares", "users:shares", "groups:shares", "inherit"})

OPERATOR_ROLE = "enclave-operator"
AUDITOR_ROLE = "enclave-auditor"


def enclave_roles() -> list[dict[str, Any]]:
    """`load_roles` entries giving each IdP group its role (JupyterHub creates the groups when missing)."""
    return [
        {"name": OPERATOR_ROLE, "description": "Run the enclave: start and stop servers, read status",
         "scopes": list(OPERATOR_SCOPES), "groups": [Role.ADMIN.value]},
        {"name": AUDITOR_ROLE, "description": "Read the hub's users and servers, change nothing",
         "scopes": list(AUDITOR_SCOPES), "groups": [Role.AUDITOR.value]},
    ]


def check_roles_hold_no_data_scopes(roles: list[dict[str, Any]]) -> None:
    """Refuse to start with a role (ours or a site override's) that would let its holder see research data."""
    for role in roles:
        bad = sorted({s.split("!")[0] for s in role.get("scopes", [])} & DATA_SCOPES)
        if bad and (role.get("groups") or role.get("users")):
            raise ValueError(f"JupyterHub role {role['name']!r} gives people {', '.join(bad)}: operators and "
                             "auditors must not reach researchers' servers or tokens")


_USER_PATHS = (
    re.compile(r"^/hub/api/users/([^/]+)/"),
    re.compile(r"^/(?:hub/)?user/([^/]+)(?:/|$)"),
    re.compile(r"^/hub/spawn(?:-pending)?/([^/]+)"),
)
_USER_CLIENT = re.compile(r"^jupyterhub-user-(.+)$")


def target_user(path: str, query: str) -> str | None:
    """Whose server, tokens or spawn page a hub request was about (None when it names no user)."""
    if path.startswith("/hub/api/oauth2/authorize"):
        client = (parse_qs(query).get("client_id") or [""])[0]
        m = _USER_CLIENT.match(client)
        return unquote(m.group(1)) if m else None
    for pattern in _USER_PATHS:
        m = pattern.match(path)
        if m:
            return unquote(m.group(1))
    return None


def _current_name(handler: Any) -> str:
    try:
        user = handler.current_user
    except Exception:  # noqa: BLE001 - the request is over; an unresolvable user is just anonymous
        return ""
    return getattr(user, "name", "") or ""


def log_request(handler: Any) -> None:
    """JupyterHub's access log, plus an audit record for a refused attempt at someone else's server or tokens.

    JupyterHub refuses with 403, or with 404 when the caller may not even know the user exists (an operator
    asking to mint a token for a researcher): on the users API, a signed-in caller's 404 is a refusal too.
    """
    jupyterhub_log_request(handler)
    status = handler.get_status()
    if status not in (403, 404):
        return
    parts = urlsplit(handler.request.uri)
    target = target_user(parts.path, parts.query)
    actor = _current_name(handler)
    if target is None or target == actor:
        return
    if status == 404 and not (actor and parts.path.startswith("/hub/api/users/")):
        return
    try:
        with session_scope() as s:
            audit.record(s, actor or "anonymous", AuditAction.ACCESS_DENIED, target=target,
                         method=handler.request.method, path=parts.path, ip=handler.request.remote_ip,
                         status=status)
    except Exception:  # noqa: BLE001 - the refusal stands; a failed record is logged, never a crashed request
        handler.log.exception("could not record refused access to %s's server in the audit trail", target)
