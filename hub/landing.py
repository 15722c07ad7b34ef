"""Where a person lands after login (`c.JupyterHub.default_url`): the page where their work is.

Researchers, reviewers and operators keep the hub's own landing (the spawn page or home, whose buttons
lead to their projects and workspaces, the export review queue and the governance operations view):
their sessions call the hub's API with the hub's XSRF cookie, which only a hub page sets. Auditors land
on the audit view, and approvers named in governance.yaml who hold no other role on the applications
waiting for them. An empty answer means "the hub's default".
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from enclave.db import session_scope
from enclave.models import Role, User
from enclave.settings import GOVERNANCE_PREFIX
from policies.schema import GovernancePolicy

log = logging.getLogger("enclave.landing")
HUB_ROLES = frozenset({Role.RESEARCHER.value, Role.REVIEWER.value, Role.ADMIN.value})


def landing_for(roles: list[str], username: str, policy: GovernancePolicy) -> str:
    """The landing page for someone with these enclave roles ("" for the hub's own)."""
    held = set(roles)
    if held & HUB_ROLES:
        return ""
    if Role.AUDITOR.value in held:
        return f"{GOVERNANCE_PREFIX}audit"
    named = (username in policy.ethics_officers or any(username in v for v in policy.stewards.values())
             or any(username in v for v in policy.data_owners.values()))
    return f"{GOVERNANCE_PREFIX}applications" if named else ""


def default_url(handler: Any) -> str:
    """JupyterHub calls this with the request handler when it needs somewhere to send a signed-in person."""
    user = getattr(handler, "current_user", None)
    if user is None:
        return ""
    try:
        from enclave.access import governance_policy

        with session_scope() as s:
            row = s.execute(select(User).where(User.username == user.name)).scalar_one_or_none()
            return landing_for(list(row.roles or []) if row else [], user.name, governance_policy())
    except Exception:  # noqa: BLE001 - a landing page is never worth a failed login: the hub's default then
        log.exception("could not choose the landing page for %s", user.name)
        return ""
