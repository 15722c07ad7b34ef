"""Supervision (全程留痕、可查询、可追溯): the audit trail searched and exported, and the dashboard's figures.

Everything here only reads; an export of the trail is itself recorded. Figures come from the database
(audit records, export requests, approval steps, datasets, projects), never from placeholders.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from enclave import audit
from enclave.models import ApprovalStep, AuditEvent, AuditHead, Dataset, ExportRequest, ExportState, Project, StepState
from governance import charts
from governance.workflow import aware
from policies import Policies

MAX_ROWS = 5000
CSV_FIELDS = ("seq", "ts", "actor", "action", "project", "target", "details", "hash")


def parse_day(text: str, field: str) -> datetime | None:
    """A YYYY-MM-DD from a search form, as the start of that day in UTC; ValueError names the field."""
    if not text.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(text.strip()), datetime.min.time(), UTC)
    except ValueError as exc:
        raise ValueError(f"{field}: '{text}' is not a date (YYYY-MM-DD)") from exc


def _filtered(stmt: Any, user: str, project: str, action: str, since: str, until: str) -> Any:
    """The search form's filters on a statement over AuditEvent; `until` includes that whole day."""
    start, end = parse_day(since, "from"), parse_day(until, "to")
    if user.strip():
        stmt = stmt.where(AuditEvent.actor == user.strip())
    if project.strip():
        stmt = stmt.where(AuditEvent.project == project.strip())
    if action.strip():
        stmt = stmt.where(AuditEvent.action.like(action.strip().replace("*", "%")))
    if start:
        stmt = stmt.where(AuditEvent.ts >= start.isoformat(timespec="microseconds"))
    if end:
        stmt = stmt.where(AuditEvent.ts < (end + timedelta(days=1)).isoformat(timespec="microseconds"))
    return stmt


_COLUMNS = (AuditEvent.seq, AuditEvent.ts, AuditEvent.actor, AuditEvent.action, AuditEvent.project,
            AuditEvent.target, AuditEvent.details, AuditEvent.hash)


def _row(seq: int, ts: str, actor: str, action: str, project: str | None, target: str, details: str,
         digest: str) -> dict[str, Any]:
    return {"seq": seq, "ts": ts, "actor": actor, "action": action, "project": project or "", "target": target,
            "details": json.loads(details), "hash": digest}


def search(session: Session, *, user: str = "", project: str = "", action: str = "", since: str = "",
           until: str = "", limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """Records matching every given filter, oldest first; `until` includes that whole day."""
    stmt = _filtered(select(*_COLUMNS), user, project, action, since, until).order_by(AuditEvent.seq)
    return [_row(*r) for r in session.execute(stmt.limit(limit))]


def latest(session: Session, *, user: str = "", project: str = "", action: str = "", since: str = "",
           until: str = "", limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
    """The newest `limit` matching records (oldest first) and how many match in all: the page shows the end
    of the trail without reading the rest of it (the export reads it all)."""
    where = (user, project, action, since, until)
    total = session.execute(_filtered(select(func.count()).select_from(AuditEvent), *where)).scalar_one()
    stmt = _filtered(select(*_COLUMNS), *where).order_by(AuditEvent.seq.desc()).limit(limit)
    return [_row(*r) for r in reversed(session.execute(stmt).all())], int(total)


_VERIFIED: dict[str, tuple[tuple[int, str], float, dict[str, Any]]] = {}
VERIFY_CACHE_SECONDS = 30.0


def verify(session: Session) -> dict[str, Any]:
    """The whole chain verified (audit.verify); the answer is reused for up to 30 s while the head is unchanged,
    so fifty auditors loading the page do not walk the chain fifty times. `verified_at` says when it was."""
    head = session.get(AuditHead, 1)
    key = (head.seq, head.hash) if head else (0, "")
    cached = _VERIFIED.get(str(session.get_bind().url))
    if cached and cached[0] == key and time.monotonic() - cached[1] < VERIFY_CACHE_SECONDS:
        return cached[2]
    result = {**audit.verify(session).to_dict(), "verified_at": datetime.now(UTC).isoformat(timespec="seconds")}
    _VERIFIED[str(session.get_bind().url)] = (key, time.monotonic(), result)
    return result


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for r in rows:
        w.writerow({**r, "details": json.dumps(r["details"], ensure_ascii=False, sort_keys=True)})
    return ("\ufeff" + buf.getvalue()).encode()  # BOM: spreadsheet programs then read the Chinese text right


def as_json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, ensure_ascii=False, indent=1).encode()


def export_requests(session: Session) -> list[dict[str, Any]]:
    """Every export request with its reviews (decisions and times, not file contents)."""
    stmt = select(ExportRequest).options(selectinload(ExportRequest.reviews), selectinload(ExportRequest.files))
    return [{"id": r.id, "project": r.project, "requester": r.requester, "state": r.state.value,
             "created_at": r.created_at, "files": len(r.files),
             "reviews": [{"reviewer": v.reviewer, "decision": v.decision.value, "at": v.created_at}
                         for v in r.reviews], "resolved_by": r.resolved_by}
            for r in session.execute(stmt.order_by(ExportRequest.id.desc()).limit(MAX_ROWS)).scalars()]


def workspace_access(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Who started and stopped which workspace when (from the trail)."""
    return search(session, action="workspace.*", limit=limit)[-limit:]


# --- dashboard -------------------------------------------------------------------------------------


def _months(n: int, today: date) -> list[str]:
    y, m, out = today.year, today.month, []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def active_workspaces(session: Session, days: int, today: date) -> tuple[list[str], list[float]]:
    """The most workspaces running at once on each of the last `days` days, from start/stop records."""
    running: set[str] = set()
    peak: dict[str, int] = defaultdict(int)
    first = today - timedelta(days=days - 1)
    stmt = select(AuditEvent).where(AuditEvent.action.in_(["workspace.start", "workspace.stop"])).order_by(
        AuditEvent.seq)
    for e in session.execute(stmt).scalars():
        (running.add if e.action == "workspace.start" else running.discard)(e.target)
        day = e.ts[:10]
        peak[day] = max(peak[day], len(running))
    labels, values, now_running = [], [], 0
    for i in range(days):
        d = (first + timedelta(days=i)).isoformat()
        now_running = peak.get(d, now_running)  # a day with no change keeps what ran the day before
        labels.append(d[5:])
        values.append(float(now_running))
    return labels, values


def dashboard(session: Session, policies: Policies, lang_t: Any, today: date | None = None) -> list[str]:
    """The dashboard's SVG charts, each drawn from the database."""
    t, today = lang_t, today or datetime.now(UTC).date()
    out = []
    labels, values = active_workspaces(session, 14, today)
    out.append(charts.bars(t("Active workspaces (peak per day)"), labels, [charts.Series(t("workspaces"), values)],
                           chart_id="chart-workspaces"))
    months = _months(6, today)
    per: dict[str, Counter[str]] = {m: Counter() for m in months}
    waits: dict[str, list[float]] = defaultdict(list)
    for r in session.execute(select(ExportRequest).options(selectinload(ExportRequest.reviews))).scalars():
        m = aware(r.created_at).strftime("%Y-%m") if r.created_at else ""
        if m in per:
            per[m]["requested"] += 1
            per[m][r.state.value] += 1
            if len(r.reviews) >= 2:
                second = sorted(aware(v.created_at) for v in r.reviews)[1]
                waits[m].append((second - aware(r.created_at)).total_seconds() / 3600)
    out.append(charts.bars(t("Export requests per month"), months, [
        charts.Series(t("requested"), [per[m]["requested"] for m in months]),
        charts.Series(t(ExportState.RELEASED.value), [per[m][ExportState.RELEASED.value] for m in months]),
        charts.Series(t(ExportState.REJECTED.value), [per[m][ExportState.REJECTED.value] for m in months])],
        chart_id="chart-exports"))
    out.append(charts.bars(t("Export review wait, median hours to the second review"), months,
                           [charts.Series(t("hours"), [round(median(waits[m]), 1) if waits[m] else 0
                                                       for m in months])], chart_id="chart-review-wait"))
    out.append(_approval_waits(session, policies, t))
    tiers = Counter(d.tier for d in session.execute(select(Dataset)).scalars())
    tier_keys = sorted(policies.datasets.tiers)
    names = [f"{k} {t(policies.datasets.tiers[k].name)}" for k in tier_keys]
    out.append(charts.bars(t("Dataset versions by tier"), names,
                           [charts.Series(t("versions"), [tiers.get(k, 0) for k in tier_keys])],
                           chart_id="chart-tiers"))
    states = Counter(p.state.value for p in session.execute(select(Project)).scalars())
    keys = ["requested", "approved", "active", "suspended", "expired", "closed"]
    out.append(charts.bars(t("Projects by state"), [t(k) for k in keys],
                           [charts.Series(t("projects"), [states.get(k, 0) for k in keys])], chart_id="chart-projects"))
    return out


def _approval_waits(session: Session, policies: Policies, t: Any) -> str:
    """Median days each party took to decide, against the time limit governance.yaml gives it."""
    spent: dict[str, list[float]] = defaultdict(list)
    for s in session.execute(select(ApprovalStep).where(ApprovalStep.decided_at.is_not(None))).scalars():
        if s.opened_at and s.state != StepState.SUPERSEDED:
            spent[s.party.value].append((aware(s.decided_at) - aware(s.opened_at)).total_seconds() / 86400)
    parties = [c.party for c in policies.governance.chain]
    limit = max((c.days for c in policies.governance.chain), default=0)
    return charts.bars(t("Approval wait, median days per party"), [t(p) for p in parties],
                       [charts.Series(t("days"), [round(median(spent[p]), 2) if spent[p] else 0 for p in parties]),
                        charts.Series(t("time limit"), [next(c.days for c in policies.governance.chain
                                                              if c.party == p) for p in parties])],
                       target=limit, target_label=t("longest limit"), chart_id="chart-approval-wait")
