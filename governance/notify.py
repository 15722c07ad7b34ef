"""Notifications on state changes, by e-mail and webhooks through apprise (SMTP, JSON, WeCom, DingTalk, Feishu).

The notifier reads the audit trail forward from the last record it handled, so every change any
service makes (applications here, export requests in egress-review) is told once, in the order it
happened, without the services calling each other. A notification carries ids, states and a link,
never data: no file names, comments, purposes or values.

Targets live in `<ENCLAVE_HOME>/secrets/notify.json` (root-only, as SMTP passwords and webhook keys are
secrets): {"email": "mailto://smtp.example.org:587?user=...&pass=...&from=enclave@example.org",
"webhooks": ["json://hooks.example.org/enclave", "wecom://...", "dingtalk://...", "feishu://..."]}.
E-mail goes to the people concerned (their address from the IdP); webhooks get every notification.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import apprise
from sqlalchemy import select
from sqlalchemy.orm import Session

from enclave import audit
from enclave.audit import AuditAction
from enclave.models import Accreditation, AuditEvent, ExportRequest, Membership, Party, Role, User
from enclave.projects import today
from enclave.settings import EGRESS_PREFIX, GOVERNANCE_PREFIX, Settings
from packages.models import PackageRequest
from policies import Policies

log = logging.getLogger("governance.notify")
EXPORT_DECIDED = frozenset({AuditAction.EXPORT_APPROVED, AuditAction.EXPORT_RETURNED, AuditAction.EXPORT_REJECTED,
                            AuditAction.EXPORT_RELEASED, AuditAction.EXPORT_CONFLICTED})
APPLICATION_NOTICES = frozenset({AuditAction.APPLICATION_SUBMIT, AuditAction.APPLICATION_DECIDE,
                                 AuditAction.APPLICATION_APPROVED, AuditAction.APPLICATION_ESCALATE})
PACKAGE_DECIDED = frozenset({AuditAction.PACKAGE_APPROVE, AuditAction.PACKAGE_REFUSE})


@dataclass
class Notice:
    kind: str  # e.g. application.submitted
    subject: str  # "application:7", "request:3", "accreditation:dave"
    state: str
    link: str
    to: list[str] = field(default_factory=list)  # usernames e-mailed
    ids: dict[str, Any] = field(default_factory=dict)
    # what the person is told in both languages (the enclave does not know which one they read), when the
    # kind has such a sentence; the ids and the link follow it either way
    told: dict[str, str] = field(default_factory=dict)

    def title(self) -> str:
        return f"Enclave: {self.subject} {self.state}"

    def body(self) -> str:
        ids = ", ".join(f"{k}={v}" for k, v in sorted(self.ids.items()))
        told = "".join(f"{self.told[lang]}\n" for lang in ("zh-CN", "en") if lang in self.told)
        return f"{told}{self.kind}: {self.subject} is {self.state} ({ids}). {self.link}"


def targets_path(settings: Settings) -> Path:
    return settings.secrets_dir / "notify.json"


def seq_path(settings: Settings) -> Path:
    return settings.home / "governance" / "notified-seq"


def load_targets(settings: Settings) -> dict[str, Any]:
    path = targets_path(settings)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def _users_with(session: Session, role: Role) -> list[str]:
    return sorted(u.username for u in session.execute(select(User)).scalars() if role.value in (u.roles or []))


def notices_for(session: Session, ev: AuditEvent, base: str) -> list[Notice]:
    """What one audit record tells whom (nothing for most records)."""
    d = json.loads(ev.details)
    gov, egress = base + GOVERNANCE_PREFIX, base + EGRESS_PREFIX
    try:
        action = AuditAction(ev.action)
    except ValueError:  # a record from an older vocabulary tells nobody anything
        return []
    if action in APPLICATION_NOTICES:
        app_id = ev.target.removeprefix("application:")
        link = f"{gov}applications/{app_id}"
        ids = {"application": app_id, "project": ev.project or ""}
        if action == AuditAction.APPLICATION_SUBMIT:
            return [Notice("application.submitted", ev.target, "submitted", link, d.get("waiting_for", []),
                           {**ids, "version": d.get("version")})]
        if action == AuditAction.APPLICATION_DECIDE:
            kind = {"approve": "application.step_approved", "changes": "application.needs_changes",
                    "reject": "application.rejected"}[d.get("decision", "approve")]
            out = [Notice(kind, ev.target, d.get("state", ""), link, [d.get("applicant", "")],
                          {**ids, "step": d.get("step"), "party": d.get("party")})]
            if d.get("waiting_for"):
                out.append(Notice("application.waiting", ev.target, "waiting for your decision", link,
                                  d["waiting_for"], ids))
            return out
        if action == AuditAction.APPLICATION_APPROVED:
            return [Notice("application.approved", ev.target, "approved", link,
                           [d.get("applicant", ""), *d.get("members", [])], ids)]
        if action == AuditAction.APPLICATION_ESCALATE:
            return [Notice("application.overdue", ev.target, "overdue", link,
                           [*d.get("waiting_for", []), *_users_with(session, Role.ADMIN)],
                           {**ids, "step": d.get("step"), "party": d.get("party")})]
        return []
    if action in PACKAGE_DECIDED:
        return _package_decided(session, ev, d, gov)
    if action == AuditAction.EXPORT_SUBMIT or action in EXPORT_DECIDED:
        rid = ev.target.removeprefix("request:")
        req = session.get(ExportRequest, int(rid)) if rid.isdigit() else None
        ids = {"request": rid, "project": ev.project or ""}
        if action == AuditAction.EXPORT_SUBMIT:
            return [Notice("export.waiting_for_review", ev.target, "waiting for review", f"{egress}requests/{rid}",
                           _users_with(session, Role.REVIEWER), ids)]
        state = action.value.removeprefix("export.")
        return [Notice(f"export.{state}", ev.target, state, f"{egress}requests/{rid}",
                       [req.requester] if req else [], ids)]
    return []


def _package_decided(session: Session, ev: AuditEvent, d: dict[str, Any], gov: str) -> list[Notice]:
    """The researcher who asked is told the decision, and where to read the steward's reason (the reason
    itself stays on the page: webhooks reach group chats)."""
    rid = ev.target.removeprefix("package-request:")
    req = session.get(PackageRequest, int(rid)) if rid.isdigit() else None
    if req is None:
        return []
    approved = ev.action == AuditAction.PACKAGE_APPROVE.value
    pkg = f"{req.name}=={d['version']}" if d.get("version") else req.name
    if not approved:
        told = {"en": f"Your package request {rid} ({pkg}, project {req.project}) was refused; the steward's reason "
                      "is on the Packages page.",
                "zh-CN": f"您的软件包申请 {rid}（{pkg}，项目 {req.project}）未获批准；管理员的理由见“软件包”页面。"}
    elif req.fetch in ("", "ok"):
        told = {"en": f"Your package request {rid} ({pkg}, project {req.project}) was approved: `pip install "
                      f"{req.name}` in the workspace.",
                "zh-CN": f"您的软件包申请 {rid}（{pkg}，项目 {req.project}）已获批准：请在工作区中 "
                         f"`pip install {req.name}`。"}
    else:
        told = {"en": f"Your package request {rid} ({pkg}, project {req.project}) was approved, but its files could "
                      "not be fetched yet; the steward is told why on the package requests page.",
                "zh-CN": f"您的软件包申请 {rid}（{pkg}，项目 {req.project}）已获批准，但其文件暂未能下载；"
                         "管理员可在软件包申请页面看到原因。"}
    state = "approved" if approved else "refused"
    return [Notice(f"package.{state}", ev.target, state, f"{gov}packages#request-{rid}", [req.requester],
                   {"request": rid, "project": req.project, "package": pkg}, told)]


def lapse_warnings(session: Session, policies: Policies, base: str) -> list[Notice]:
    """Accreditations lapsing within the warning period: the person and the stewards of their projects' data,
    once per expiry date."""
    gov = policies.governance
    soon = today() + timedelta(days=gov.lapse_warning_days)
    out = []
    for acc in session.execute(select(Accreditation).where(Accreditation.expires <= soon)).scalars():
        if acc.warned_for == acc.expires or acc.expires < today():
            continue
        user = session.execute(select(User).where(User.username == acc.username)).scalar_one_or_none()
        stewards: set[str] = set()
        if user is not None:
            for m in session.execute(select(Membership).where(Membership.user_id == user.id,
                                                              Membership.removed_at.is_(None))).scalars():
                for a in m.project.approvals:
                    if a.active:
                        stewards.update(gov.people(Party.STEWARD, a.dataset.name))
        acc.warned_for = acc.expires
        out.append(Notice("accreditation.lapsing", f"accreditation:{acc.username}", f"lapses on {acc.expires}",
                          f"{base}{GOVERNANCE_PREFIX}accreditation", [acc.username, *sorted(stewards)],
                          {"user": acc.username, "level": acc.level, "expires": acc.expires.isoformat()}))
    return out


def _emails(session: Session, usernames: list[str]) -> list[str]:
    names = sorted(set(filter(None, usernames)))
    if not names:
        return []
    rows = session.execute(select(User).where(User.username.in_(names))).scalars()
    return sorted({u.email for u in rows if u.email})


def send(session: Session, settings: Settings, notice: Notice) -> bool:
    """One notice to its people by e-mail and to every webhook; the outcome is recorded (never the data)."""
    targets = load_targets(settings)
    ap = apprise.Apprise()
    emails = _emails(session, notice.to)
    if targets.get("email") and emails:
        sep = "&" if "?" in targets["email"] else "?"
        ap.add(f"{targets['email']}{sep}to={quote(','.join(emails))}")
    for url in targets.get("webhooks", []):
        ap.add(url)
    if not len(ap):
        return False
    ok = bool(ap.notify(title=notice.title(), body=notice.body()))
    audit.record(session, "system", AuditAction.NOTIFY_SENT if ok else AuditAction.NOTIFY_FAILED,
                 project=str(notice.ids.get("project") or "") or None, target=notice.subject, kind=notice.kind,
                 state=notice.state, to=sorted(set(filter(None, notice.to))), emails=len(emails),
                 webhooks=len(targets.get("webhooks", [])))
    return ok


def process(session: Session, settings: Settings, policies: Policies, *, start_at_head: bool = True) -> list[Notice]:
    """Tell everything recorded since the last run; the first run starts at the trail's end (no old news)."""
    path = seq_path(settings)
    last_max = session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)).scalar() or 0
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if start_at_head:
            path.write_text(str(last_max))
            return []
        path.write_text("0")
    done = int(path.read_text() or 0)
    events = session.execute(select(AuditEvent).where(AuditEvent.seq > done, AuditEvent.seq <= last_max)
                             .order_by(AuditEvent.seq)).scalars().all()
    base = settings.public_url
    notices = [n for ev in events for n in notices_for(session, ev, base)]
    notices += lapse_warnings(session, policies, base)
    for n in notices:
        try:
            send(session, settings, n)
        except Exception:  # noqa: BLE001 - a notification target that fails never stops the next one
            log.exception("notification %s for %s failed", n.kind, n.subject)
    path.write_text(str(last_max))
    return notices
