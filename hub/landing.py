"""Where a person lands after login and at /hub/ (`c.JupyterHub.default_url`): the page where their work is.

One mapping (`landing_for`) from a person's enclave roles, and their naming as an approver in governance.yaml,
to a page: researchers keep the hub's own landing (the spawn page with their projects and workspaces);
administrators the governance operations view; reviewers the export review queue; stewards, data owners and
ethics officers the applications page (its first table is what waits for them); auditors the audit view.
Someone with several roles lands by the first that applies in `ORDER`: their own research first, then running
the enclave, then decisions with a time limit (an approval step waiting for them), then the review queue.
The hub's _xsrf cookie is set by the login itself (JupyterHub sets it with the login cookie), so landing on
a service page leaves the hub's API usable; the JupyterHub admin panel is nobody's landing.
An empty answer means "the hub's default".
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from enclave.db import session_scope
from enclave.models import Application, ApplicationState, ApprovalStep, Role, StepState, User
from enclave.settings import EGRESS_PREFIX, GOVERNANCE_PREFIX
from policies.schema import GovernancePolicy

log = logging.getLogger("enclave.landing")

HUB = ""  # the hub's own landing: the spawn page (researchers' projects and workspaces)
OPERATIONS = f"{GOVERNANCE_PREFIX}ops"
APPLICATIONS = f"{GOVERNANCE_PREFIX}applications"
REVIEW_QUEUE = EGRESS_PREFIX
AUDIT = f"{GOVERNANCE_PREFIX}audit"
# (what a person must be, where they land), first match wins: "approver" is a naming in governance.yaml,
# "approver-waited-for" the same with at least one approval step open for them now.
ORDER: tuple[tuple[str, str], ...] = (
    (Role.RESEARCHER.value, HUB),
    (Role.ADMIN.value, OPERATIONS),
    ("approver-waited-for", APPLICATIONS),
    (Role.REVIEWER.value, REVIEW_QUEUE),
    ("approver", APPLICATIONS),
    (Role.AUDITOR.value, AUDIT),
)


def is_named_approver(username: str, policy: GovernancePolicy) -> bool:
    """Named as a steward, data owner or ethics officer of anything in governance.yaml."""
    return (username in policy.ethics_officers or any(username in v for v in policy.stewards.values())
            or any(username in v for v in policy.data_owners.values()))


def landing_for(roles: list[str], username: str, policy: GovernancePolicy, waiting: int = 0) -> str:
    """The landing page for someone with these enclave roles ("" for the hub's own); `waiting` is how many
    approval steps are open for them now."""
    held = set(roles)
    if is_named_approver(username, policy):
        held |= {"approver", "approver-waited-for"} if waiting else {"approver"}
    return next((url for who, url in ORDER if who in held), HUB)


def waiting_steps(session: Any, username: str, policy: GovernancePolicy) -> int:
    """Open approval steps of submitted applications whose party names this person (who may decide which
    of them is the governance service's business: here it only chooses a page)."""
    stmt = (select(ApprovalStep.party, ApprovalStep.subject).join(Application)
            .where(ApprovalStep.state == StepState.PENDING, Application.state == ApplicationState.SUBMITTED,
                   Application.applicant != username))
    return sum(1 for party, subject in session.execute(stmt) if username in policy.people(party, subject))


def default_url(handler: Any) -> str:
    """JupyterHub calls this with the request handler when it needs somewhere to send a signed-in person."""
    user = getattr(handler, "current_user", None)
    if user is None:
        return ""
    try:
        from enclave.access import governance_policy

        policy = governance_policy()
        with session_scope() as s:
            row = s.execute(select(User).where(User.username == user.name)).scalar_one_or_none()
            roles = list(row.roles or []) if row else []
            waiting = waiting_steps(s, user.name, policy) if is_named_approver(user.name, policy) else 0
            return landing_for(roles, user.name, policy, waiting)
    except Exception:  # noqa: BLE001 - a landing page is never worth a failed login: the hub's default then
        log.exception("could not choose the landing page for %s", user.name)
        return ""
