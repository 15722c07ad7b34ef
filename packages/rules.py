"""Who may ask for a package and who may decide, in one place: `check_can_X` raises, `can_X` answers the UI.

Refusals name the rule that refused, so a researcher knows whether to fix the name, the reason or
the project, and a steward reading the trail knows which rule acted.
"""

from __future__ import annotations

from enclave.errors import InvalidTransition, NotAllowed
from enclave.models import Project, User
from enclave.projects import closed_reason, is_member
from enclave.workspaces import RunningWorkspace
from packages.models import PackageRequest, RequestState
from policies.schema import PackagePolicy, normalize_package_name


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early above `limit`.

    Hand-written (a dozen lines) rather than a new dependency for comparing a name with ~40 others.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def squat_limit(name: str, policy: PackagePolicy) -> int:
    """Edits that make a typosquat of `name`: the policy's distance, but one only for names of five letters
    or fewer (two edits from `six` or `pytz` reach too many honest names)."""
    return min(policy.typosquat_distance, 1 if len(name) <= 5 else 2)


def typosquat_of(name: str, policy: PackagePolicy) -> str:
    """The allow-listed or well-known name `name` imitates, or "" (the name itself is never a squat)."""
    known = [*policy.python, *policy.top_names]
    if name in known:
        return ""
    for other in known:
        limit = squat_limit(other, policy)
        if limit and edit_distance(name, other, limit) <= limit:
            return other
    return ""


def _squashed(name: str) -> str:
    """The name without separators: `evil-pkg` and `evilpkg` are the same name to a reader."""
    return name.replace("-", "")


def refused_name_reason(name: str, policy: PackagePolicy) -> str:
    """Why this package name is refused outright, naming the rule, or "" when it may be asked for."""
    norm = normalize_package_name(name)
    if _squashed(norm) in {_squashed(r) for r in policy.refused_names}:
        return f"'{name}' is on the refused list (refused names)"
    squatted = typosquat_of(norm, policy)
    if squatted:
        return f"'{name}' looks like a typosquat of '{squatted}' (typosquat rule); ask for '{squatted}' itself"
    return ""


def check_can_ask_in(requester: User, project: Project) -> None:
    """Only a member of an open project asks for packages for it (the page offers only those projects)."""
    if not is_member(project, requester):
        raise NotAllowed(f"you are not a member of project '{project.slug}'")
    closed = closed_reason(project)
    if closed:
        raise NotAllowed(closed)


def can_ask_in(requester: User, project: Project) -> bool:
    try:
        check_can_ask_in(requester, project)
    except NotAllowed:
        return False
    return True


def request_problems(policy: PackagePolicy, requester: User, project: Project, name: str, reason: str,
                     open_requests: list[PackageRequest]) -> list[tuple[str, str]]:
    """Every reason a request is refused, each with the form field it concerns (project, reason, name), in the
    order `check_can_request` tells them: the web form shows each beside its field."""
    out: list[tuple[str, str]] = []
    try:
        check_can_ask_in(requester, project)
    except NotAllowed as exc:
        out.append(("project", exc.text))
    if not reason.strip():
        out.append(("reason", "give a reason: what the package is for in this project"))
    refused = refused_name_reason(name, policy)
    norm = normalize_package_name(name)
    if refused:
        out.append(("name", refused))
    elif norm in policy.python:
        out.append(("name", f"'{norm}' is already approved ({norm}=={policy.python[norm].version}): "
                            "`pip install` it in the workspace"))
    elif any(r.name == norm and r.project == project.slug for r in open_requests):
        out.append(("name", f"'{norm}' is already requested in project '{project.slug}' and waits for a steward"))
    return out


def check_can_request(policy: PackagePolicy, requester: User, project: Project, name: str, reason: str,
                      open_requests: list[PackageRequest]) -> None:
    """A member of an open project asks, with a reason, for a name that is neither refused, a typosquat,
    already allowed, nor already asked for in that project."""
    problems = request_problems(policy, requester, project, name, reason, open_requests)
    if problems:
        raise NotAllowed(problems[0][1])


def can_request(policy: PackagePolicy, requester: User, project: Project, name: str, reason: str,
                open_requests: list[PackageRequest]) -> bool:
    try:
        check_can_request(policy, requester, project, name, reason, open_requests)
    except (NotAllowed, InvalidTransition):
        return False
    return True


def is_steward(username: str, policy: PackagePolicy) -> bool:
    return username in policy.stewards


def check_can_decide(policy: PackagePolicy, decider: str, request: PackageRequest) -> None:
    """A package steward decides a waiting request, never their own; approving a name refused since the
    request was made is refused too (the list wins)."""
    if not is_steward(decider, policy):
        raise NotAllowed("only package stewards (stewards in packages.yaml) approve or refuse package requests")
    if decider == request.requester:
        raise NotAllowed("nobody decides their own package request")
    if request.state != RequestState.REQUESTED:
        raise InvalidTransition(f"package request {request.id} is already {request.state.value}")


def check_can_approve(policy: PackagePolicy, decider: str, request: PackageRequest) -> None:
    check_can_decide(policy, decider, request)
    refused = refused_name_reason(request.name, policy)
    if refused:
        raise NotAllowed(refused)


def can_decide(policy: PackagePolicy, decider: str, request: PackageRequest) -> bool:
    try:
        check_can_decide(policy, decider, request)
    except (NotAllowed, InvalidTransition):
        return False
    return True


def check_from_own_workspace(workspace: RunningWorkspace | None, address: str) -> str:
    """A workspace's token counts only from its own running workspace; returns that workspace's project.

    The project is the container's label (set by the spawner), never a field of the call, so a token, even a
    copied one, asks only for its own project and only from its own container.
    """
    if workspace is None:
        raise NotAllowed("packages are requested from your running workspace; start it first")
    if not workspace.is_at(address):
        raise NotAllowed("package requests are accepted only from your own workspace")
    return workspace.project


def check_can_follow(user: User, project: Project) -> None:
    """A project's package requests (names, reasons, decisions) are for its current members."""
    if not is_member(project, user):
        raise NotAllowed(f"you are not a member of project '{project.slug}'")


def can_approve(policy: PackagePolicy, decider: str, request: PackageRequest) -> bool:
    try:
        check_can_approve(policy, decider, request)
    except (NotAllowed, InvalidTransition):
        return False
    return True


def check_can_see_queue(policy: PackagePolicy, username: str) -> None:
    """The stewards' queue (every project's requests, with their reasons) is for package stewards."""
    if not is_steward(username, policy):
        raise NotAllowed("only package stewards (stewards in packages.yaml) approve or refuse package requests")


def can_see_queue(policy: PackagePolicy, username: str) -> bool:
    try:
        check_can_see_queue(policy, username)
    except NotAllowed:
        return False
    return True


def can_see_request(policy: PackagePolicy, viewer: User, request: PackageRequest, project: Project) -> bool:
    """A request, its reason and its decision are read by the project's members and by the stewards."""
    return is_steward(viewer.username, policy) or (project.slug == request.project and is_member(project, viewer))
