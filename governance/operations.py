"""The operations view's figures (read-only): what runs, what is late, and what failed, from the databases.

Running workspaces and the services come from the hub's own database (JupyterHub's `spawners`, `services`
and `api_tokens` tables, read only): a workspace runs while its spawner has a server, and a service is
alive when it last used its API token (every hub login check does). Overdue approval steps come from the
enclave's database, failed restore drills from the audit trail (`backup.drill` with outcome fail).
Nothing here changes anything; the hub's database may be missing (the hub never ran) or unreadable, and
the page then says so instead of failing.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from enclave.audit import AuditAction
from enclave.backup import DrillOutcome
from enclave.models import Application, ApplicationState, ApprovalStep, AuditEvent, StepState
from governance.workflow import aware, is_overdue, now

log = logging.getLogger("governance.operations")
MAX_DRILLS = 20
_HUB_ENGINES: dict[str, Engine] = {}


@dataclass
class RunningWorkspace:
    user: str
    server: str
    started: datetime | None
    last_activity: datetime | None


@dataclass
class HubService:
    name: str
    url: str
    last_seen: datetime | None  # the last time it used its API token with the hub


@dataclass
class HubState:
    readable: bool
    workspaces: dict[str, list[RunningWorkspace]] = field(default_factory=dict)  # by project ("" for none)
    services: list[HubService] = field(default_factory=list)


def _hub_engine(url: str) -> Engine:
    """Read-only where the database allows it (SQLite opened with mode=ro); never the enclave's pragmas."""
    if url not in _HUB_ENGINES:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.is_file():
                raise FileNotFoundError(f"no hub database at {path}")
            _HUB_ENGINES[url] = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
        else:
            _HUB_ENGINES[url] = create_engine(url, pool_pre_ping=True)
    return _HUB_ENGINES[url]


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(str(value)))


def _options(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(value or "{}")
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


RUNNING = text("SELECT u.name, s.name, s.started, s.last_activity, s.user_options FROM spawners s "
               "JOIN users u ON u.id = s.user_id WHERE s.server_id IS NOT NULL ORDER BY u.name, s.name")
SERVICES = text("SELECT sv.name, sv.url, MAX(t.last_activity) FROM services sv "
                "LEFT JOIN api_tokens t ON t.service_id = sv.id GROUP BY sv.id, sv.name, sv.url ORDER BY sv.name")


def hub_state(hub_db_url: str) -> HubState:
    """Running workspaces per project and the registered services, from the hub's database."""
    try:
        with _hub_engine(hub_db_url).connect() as conn:
            running = conn.execute(RUNNING).all()
            services = conn.execute(SERVICES).all()
    except Exception:  # noqa: BLE001 - the view shows "unreadable"; the hub's database is not ours to fix here
        log.warning("could not read the hub's database for the operations view", exc_info=True)
        return HubState(readable=False)
    by_project: dict[str, list[RunningWorkspace]] = defaultdict(list)
    for user, server, started, last, options in running:
        by_project[str(_options(options).get("project", ""))].append(
            RunningWorkspace(user, server or "", _when(started), _when(last)))
    return HubState(True, dict(sorted(by_project.items())),
                    [HubService(name, url or "", _when(last)) for name, url, last in services])


def overdue_steps(session: Session, at: datetime | None = None) -> list[tuple[Application, ApprovalStep]]:
    """Open steps of submitted applications past their time limit, the longest overdue first."""
    stmt = (select(Application, ApprovalStep).join(ApprovalStep.application)
            .where(ApprovalStep.state == StepState.PENDING, Application.state == ApplicationState.SUBMITTED,
                   ApprovalStep.due_at.is_not(None)))
    late = [(a, s) for a, s in session.execute(stmt).all() if is_overdue(s, at or now())]
    return sorted(late, key=lambda pair: aware(pair[1].due_at) or now())


@dataclass
class Drill:
    seq: int
    ts: str
    actor: str
    snapshot: str
    outcome: str
    problems: list[str]


def drills(session: Session) -> tuple[Drill | None, list[Drill]]:
    """The latest restore drill (any outcome) and the failed ones, newest first, from the audit trail."""
    stmt = select(AuditEvent.seq, AuditEvent.ts, AuditEvent.actor, AuditEvent.target, AuditEvent.details).where(
        AuditEvent.action == AuditAction.BACKUP_DRILL.value).order_by(AuditEvent.seq.desc())
    every = []
    for seq, ts, actor, target, details in session.execute(stmt):
        d = _options(details)
        every.append(Drill(seq, ts, actor, target, str(d.get("outcome", "")),
                           [str(p) for p in d.get("problems") or []]))
    failed = [d for d in every if d.outcome == DrillOutcome.FAIL.value][:MAX_DRILLS]
    return (every[0] if every else None), failed
