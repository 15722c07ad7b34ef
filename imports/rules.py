"""Who may bring a file in and who reviews it, in one place: `check_can_X` raises, `can_X` answers the UI."""

from __future__ import annotations

from collections.abc import Callable

from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound
from enclave.models import Project, Role, User
from enclave.projects import closed_reason, is_member
from imports.models import ImportRequest, ImportState
from policies.schema import ImportPolicy


def allowed(check: Callable[[], None]) -> bool:
    try:
        check()
    except EnclaveError:
        return False
    return True


def is_steward(username: str, policy: ImportPolicy) -> bool:
    return username in policy.stewards


def check_can_import(user: User, project: Project, purpose: str) -> None:
    """A member of an open project brings a file in, saying what it is for."""
    if Role.AUDITOR.value in (user.roles or []):
        raise NotAllowed("auditors change nothing: an auditor account cannot import files")
    if not is_member(project, user):
        raise NotAllowed("you are not a member of project '{slug}'", slug=project.slug)
    closed = closed_reason(project)
    if closed:
        raise NotAllowed(closed)
    if not purpose.strip():
        raise NotAllowed("give a purpose: what the file is for in this project")


def can_import(user: User, project: Project) -> bool:
    return allowed(lambda: check_can_import(user, project, "purpose"))


def check_can_see(user: User, project: Project, request: ImportRequest, policy: ImportPolicy) -> None:
    """The requester, the project's members, import stewards and auditors; anyone else is told there is none."""
    if user.username == request.requester or is_member(project, user) or is_steward(user.username, policy):
        return
    if Role.AUDITOR.value in (user.roles or []) or Role.ADMIN.value in (user.roles or []):
        return
    raise NotFound("no import {id}", id=request.id)


def check_can_review(username: str, request: ImportRequest, policy: ImportPolicy) -> None:
    """An import steward decides a held import, never their own."""
    if not is_steward(username, policy):
        raise NotAllowed("only import stewards (stewards in imports.yaml) review imports")
    if username == request.requester:
        raise NotAllowed("nobody reviews their own import")
    if request.state != ImportState.HELD:
        raise InvalidTransition("import {id} is {state}: nothing waits for a review", id=request.id,
                                state=request.state.value)


def can_review(username: str, request: ImportRequest, policy: ImportPolicy) -> bool:
    return allowed(lambda: check_can_review(username, request, policy))
