"""Graded access (分级授权): who may start a workspace, by project state and membership and by accreditation.

`enclave.projects.startability` answers for the project (active, member, researcher role); this module
adds the person's standing: a current accreditation's level allows dataset tiers up to the level's
`max_tier` (policies/governance.yaml); an expired one only `lapsed_max_tier`; none at all
`not_enrolled_max_tier`. The spawner, the hub's spawn page and the governance service all ask here,
so the reason a start is refused is the same sentence everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from enclave.errors import NotAllowed, Term, Text
from enclave.models import Accreditation, Project, User
from enclave.projects import Startability, active_datasets, get_project, get_user, startability, today
from enclave.settings import get_settings
from policies import load_policies
from policies.loader import load_section
from policies.schema import GovernancePolicy


@dataclass(frozen=True)
class Standing:
    """What a person's accreditation allows now, and in words why."""

    max_tier: int
    reason: str  # a Text, e.g. "your accreditation (level 2, standard) is current until 2027-01-01"
    lapsed: bool = False


def governance_policy() -> GovernancePolicy:
    """governance.yaml as it is now: read again only when the file changed (every spawn and page asks)."""
    path = get_settings().policy_dir / "governance.yaml"
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return load_policies(get_settings().policy_dir).governance  # names the missing file
    cached = _POLICY_CACHE.get("governance")
    if cached is None or cached[0] != stamp:
        policy = load_section(path, "governance")
        assert isinstance(policy, GovernancePolicy)
        _POLICY_CACHE["governance"] = (stamp, policy)
        return policy
    return cached[1]


_POLICY_CACHE: dict[str, tuple[tuple[str, int], GovernancePolicy]] = {}


def accreditation_of(session: Session, username: str) -> Accreditation | None:
    return session.execute(select(Accreditation).where(Accreditation.username == username)).scalar_one_or_none()


def standing(acc: Accreditation | None, policy: GovernancePolicy, on: date | None = None) -> Standing:
    """The highest tier `acc` allows on `on` (today by default)."""
    on = on or today()
    if acc is None:
        return Standing(policy.not_enrolled_max_tier, Text("you have no accreditation on record"))
    name = level_label(policy, acc.level)
    if on >= acc.expires:
        return Standing(policy.lapsed_max_tier, Text("your accreditation (level {level}) lapsed on {expires}",
                                                     level=name, expires=acc.expires), True)
    return Standing(policy.max_tier_for(acc.level), Text("your accreditation (level {level}) is current until "
                                                         "{expires}", level=name, expires=acc.expires))


def level_label(policy: GovernancePolicy, number: int) -> Term:
    """'2, standard' / '2，标准': the level's number and the name the policy gives it in each language."""
    level = policy.levels.get(number)
    if level is None:  # a level the policy no longer defines: its number alone
        return Term(str(number))
    return Term(f"{number}, {level.name}", f"{number}，{level.name_in('zh-CN')}")


def tier_reason(st: Standing, tier: int) -> str:
    """Why data of `tier` is out of reach for someone of standing `st`, or "" when it is not."""
    if tier <= st.max_tier:
        return ""
    if st.max_tier < 0:
        return Text("{standing}, which allows no dataset tier; the project holds tier {tier} data",
                    standing=st.reason, tier=tier)
    return Text("{standing}, which allows data up to tier {max_tier}; the project holds tier {tier} data",
                standing=st.reason, max_tier=st.max_tier, tier=tier)


def check_accredited_for(session: Session, username: str, tier: int, policy: GovernancePolicy | None = None,
                         on: date | None = None) -> None:
    """Refuse (NotAllowed, the reason as message) when `username` may not use data of `tier`."""
    st = standing(accreditation_of(session, username), policy or governance_policy(), on)
    reason = tier_reason(st, tier)
    if reason:
        raise NotAllowed(reason)  # a Text: its template is kept


def can_accredited_for(session: Session, username: str, tier: int, policy: GovernancePolicy | None = None,
                       on: date | None = None) -> bool:
    try:
        check_accredited_for(session, username, tier, policy, on)
    except NotAllowed:
        return False
    return True


def project_tier(project: Project) -> int:
    """The highest tier of the datasets approved for the project now (-1 when it holds none)."""
    return max((d.tier for d in active_datasets(project)), default=-1)


def graded_startability(session: Session, project: Project, user: User, policy: GovernancePolicy,
                        on: date | None = None) -> Startability:
    """`startability`, then the accreditation: a project's data above the member's level stops the start."""
    base = startability(project, user, on)
    if not base.can_start:
        return base
    reason = tier_reason(standing(accreditation_of(session, user.username), policy, on), project_tier(project))
    return Startability(project.slug, project.title, not reason, reason)


def workability(project: Project, user: User, on: date | None = None) -> Startability:
    """`graded_startability` from the objects alone (the user's accreditation as loaded with her), for rules
    that take no session: may she still work with the project's data now (submit, revise, download)."""
    base = startability(project, user, on)
    if not base.can_start:
        return base
    reason = tier_reason(standing(user.accreditation, governance_policy(), on), project_tier(project))
    return Startability(project.slug, project.title, not reason, reason)


def projects_for(session: Session, username: str) -> list[Startability]:
    """Every project the user belongs to, with whether they may start a workspace in it (and why not)."""
    user = get_user(session, username)
    policy = governance_policy()
    return [graded_startability(session, m.project, user, policy)
            for m in sorted(user.memberships, key=lambda m: m.project.slug)]


def check_can_start(session: Session, username: str, slug: str) -> Project:
    """The spawner's question: may `username` start a workspace in `slug` now? NotAllowed says why not."""
    user = get_user(session, username)
    project = get_project(session, slug)
    s = graded_startability(session, project, user, governance_policy())
    if not s.can_start:
        raise NotAllowed("cannot start a workspace: {reason}", reason=s.reason)
    return project


def can_start(session: Session, username: str, slug: str) -> bool:
    try:
        check_can_start(session, username, slug)
    except NotAllowed:
        return False
    return True


def record_accreditation(session: Session, actor: str, username: str, *, level: int, training_completed: date,
                         expires: date, policy: GovernancePolicy | None = None) -> Accreditation:
    """Record (or renew) a person's accreditation; audited with what it was before. The one place that changes it:
    the governance page (admins) and `enclave accreditation set` both call this."""
    from enclave import audit
    from enclave.audit import AuditAction
    from enclave.errors import EnclaveError

    policy = policy or governance_policy()
    get_user(session, username)
    if level not in policy.levels:
        raise EnclaveError("unknown accreditation level {level}; governance.yaml defines {levels}", level=level,
                           levels=", ".join(str(k) for k in sorted(policy.levels)))
    if expires <= training_completed:
        raise EnclaveError("the expiry {expires} must be after the training date {training_completed}",
                           expires=expires, training_completed=training_completed)
    acc = accreditation_of(session, username)
    before = {"level": acc.level, "training_completed": acc.training_completed, "expires": acc.expires} if acc else None
    if acc is None:
        acc = Accreditation(username=username, level=level, training_completed=training_completed, expires=expires)
        session.add(acc)
    acc.level, acc.training_completed, acc.expires, acc.recorded_by = level, training_completed, expires, actor
    acc.warned_for = None  # a renewed accreditation is warned about again before it lapses
    session.flush()
    audit.record(session, actor, AuditAction.ACCREDITATION_SET, target=username, before=before,
                 after={"level": level, "training_completed": training_completed, "expires": expires})
    return acc
