"""Who may do what in the governance service: one source of truth for its pages, actions and tests.

Each `check_can_…` raises a domain error whose message is the reason; each `can_…` returns a bool for
the UI. Rules read the state the caller's session has now (roles, memberships, the application's
versions and steps, governance.yaml's named people), so a role taken away stops the next request.
Visibility comes first: someone who may not see an application is told only that there is none.
"""

from __future__ import annotations

from collections.abc import Callable

from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound
from enclave.models import (
    Application,
    ApplicationState,
    ApprovalStep,
    Dataset,
    Party,
    Project,
    Role,
    StepState,
    User,
)
from enclave.projects import was_ever_member
from policies.schema import GovernancePolicy

EDITABLE = frozenset({ApplicationState.DRAFT, ApplicationState.CHANGES})
OPEN = frozenset({ApplicationState.DRAFT, ApplicationState.SUBMITTED, ApplicationState.CHANGES})


def allowed(check: Callable[[], None]) -> bool:
    try:
        check()
    except EnclaveError:
        return False
    return True


def has_role(user: User, role: Role) -> bool:
    return role.value in (user.roles or [])


def is_approver(user: User, policy: GovernancePolicy) -> bool:
    """Named in governance.yaml as a steward, data owner or ethics officer of anything."""
    name = user.username
    return (name in policy.ethics_officers or any(name in v for v in policy.stewards.values())
            or any(name in v for v in policy.data_owners.values()))


def members_of(app: Application) -> set[str]:
    """The applicant and every member named in any version or the draft: none of them approves it."""
    names = {app.applicant}
    for content in [app.draft, *(v.content for v in app.versions)]:
        names.update(m for m in content.get("members", []) if isinstance(m, str))
    return names


# --- applying ----------------------------------------------------------------------------------


def check_can_apply(user: User) -> None:
    if not has_role(user, Role.RESEARCHER):
        raise NotAllowed("only researchers apply for projects")
    if has_role(user, Role.AUDITOR):
        raise NotAllowed("auditors change nothing: an auditor account cannot apply for a project")


def can_apply(user: User) -> bool:
    return allowed(lambda: check_can_apply(user))


def check_can_amend(user: User, project: Project) -> None:
    """Only the project's PI asks for an amendment (a member, a dataset, an extension)."""
    check_can_apply(user)
    if project.pi != user.username:
        raise NotAllowed("only the PI of project '{slug}' may ask to amend it", slug=project.slug)


def can_amend(user: User, project: Project) -> bool:
    return allowed(lambda: check_can_amend(user, project))


def check_can_see_application(app: Application, user: User, policy: GovernancePolicy) -> None:
    """The applicant and named members, the people who decide its steps, auditors and admins."""
    if user.username == app.applicant:
        return
    if app.state != ApplicationState.DRAFT:
        if user.username in members_of(app) or has_role(user, Role.AUDITOR) or has_role(user, Role.ADMIN):
            return
        if any(user.username in policy.people(s.party, s.subject) for s in app.steps):
            return
    raise NotFound("no application {id}", id=app.id)


def can_see_application(app: Application, user: User, policy: GovernancePolicy) -> bool:
    return allowed(lambda: check_can_see_application(app, user, policy))


def check_can_edit(app: Application, user: User) -> None:
    """Only the applicant edits, and only a draft or an application returned for changes."""
    if app.applicant != user.username:
        raise NotAllowed("only {applicant}, who applied, may change application {id}",
                         applicant=app.applicant, id=app.id)
    check_can_apply(user)
    if app.state not in EDITABLE:
        raise InvalidTransition("application {id} is {state}: submitted versions never change",
                                id=app.id, state=app.state.value)


def can_edit(app: Application, user: User) -> bool:
    return allowed(lambda: check_can_edit(app, user))


def check_can_withdraw(app: Application, user: User) -> None:
    if app.applicant != user.username:
        raise NotAllowed("only {applicant}, who applied, may withdraw application {id}",
                         applicant=app.applicant, id=app.id)
    if app.state not in OPEN:
        raise InvalidTransition("application {id} is {state} and can no longer be withdrawn",
                                id=app.id, state=app.state.value)


def can_withdraw(app: Application, user: User) -> bool:
    return allowed(lambda: check_can_withdraw(app, user))


# --- deciding ----------------------------------------------------------------------------------


def check_can_decide(app: Application, step: ApprovalStep, user: User, policy: GovernancePolicy,
                     amended: Project | None = None) -> None:
    """A named party decides an open step, never on their own application or one they are in.

    One person is one party: someone who decided a step of another party on this version cannot
    also decide this one, so two different people always agree (ethics and steward are not the same).
    """
    if step.application_id != app.id:
        raise ValueError(f"step {step.id} is not part of application {app.id}")
    if has_role(user, Role.AUDITOR):
        raise NotAllowed("auditors change nothing: an auditor account cannot decide applications")
    if user.username not in policy.people(step.party, step.subject):
        what = f" for dataset {step.subject}" if step.subject else ""
        raise NotAllowed("you are not named as {party}{what} in governance.yaml", party=step.party, what=what)
    if user.username == app.applicant:
        raise NotAllowed("nobody approves their own application")
    if user.username in members_of(app):
        raise NotAllowed("you are a member named in application {id}, so you cannot decide it", id=app.id)
    if amended is not None and was_ever_member(amended, user):
        raise NotAllowed("you are or were a member of project '{slug}', so you cannot decide its amendment",
                         slug=amended.slug)
    if app.state != ApplicationState.SUBMITTED:
        raise InvalidTransition("application {id} is {state}: nothing waits for a decision",
                                id=app.id, state=app.state.value)
    if step.state != StepState.PENDING:
        raise InvalidTransition("this step is {state}, not waiting for a decision", state=step.state.value)
    other = [s for s in app.steps if s.version == step.version and s.decided_by == user.username
             and s.party != step.party]
    if other:
        raise NotAllowed("you already decided as {party} on this version: another person must "
                         "decide as {party2}", party=other[0].party.value, party2=step.party.value)


def can_decide(app: Application, step: ApprovalStep, user: User, policy: GovernancePolicy,
               amended: Project | None = None) -> bool:
    return allowed(lambda: check_can_decide(app, step, user, policy, amended))


# --- catalogue, accreditation, supervision -----------------------------------------------------


def check_can_edit_dataset_doc(user: User, dataset: Dataset, policy: GovernancePolicy) -> None:
    """The dataset's stewards document it; nobody else changes what the catalogue says."""
    if has_role(user, Role.AUDITOR):
        raise NotAllowed("auditors change nothing")
    if user.username not in policy.people(Party.STEWARD, dataset.name):
        raise NotAllowed("only the stewards of {name} edit its description", name=dataset.name)


def can_edit_dataset_doc(user: User, dataset: Dataset, policy: GovernancePolicy) -> bool:
    return allowed(lambda: check_can_edit_dataset_doc(user, dataset, policy))


def check_can_set_accreditation(user: User) -> None:
    if not has_role(user, Role.ADMIN) or has_role(user, Role.AUDITOR):
        raise NotAllowed("only administrators record accreditations")


def can_set_accreditation(user: User) -> bool:
    return allowed(lambda: check_can_set_accreditation(user))


def check_can_see_audit(user: User) -> None:
    """The audit trail, export requests and every application: auditors (and admins), read-only."""
    if not (has_role(user, Role.AUDITOR) or has_role(user, Role.ADMIN)):
        raise NotAllowed("the audit view is for auditors and administrators")


def can_see_audit(user: User) -> bool:
    return allowed(lambda: check_can_see_audit(user))


def check_can_see_dashboard(user: User, policy: GovernancePolicy) -> None:
    if not (can_see_audit(user) or is_approver(user, policy)):
        raise NotAllowed("the dashboard is for stewards, approvers, auditors and administrators")


def can_see_dashboard(user: User, policy: GovernancePolicy) -> bool:
    return allowed(lambda: check_can_see_dashboard(user, policy))


def check_can_see_operations(user: User) -> None:
    if not has_role(user, Role.ADMIN):
        raise NotAllowed("the operations view is for administrators")


def can_see_operations(user: User) -> bool:
    return allowed(lambda: check_can_see_operations(user))
