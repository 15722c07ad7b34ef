"""The executed-code record for auditors, read-only: every cell and terminal command the workspaces ran
(`activity.records`, the same query as `enclave audit code`), the gaps their recorders reported, and whatever
no longer matches its hash or the audit trail. Who may read it is the audit trail's rule
(`rules.check_can_see_audit`); the page has no form that changes anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tornado import web

from activity.i18n import PAGE, message
from activity.records import report as code_report
from enclave.db import session_scope
from governance import rules
from governance.service import Handler

FILTERS = ("project", "user", "since")


def _since(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise web.HTTPError(400, "%s", f"'{raw}' is not a date like 2026-11-01") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class CodeRecordPage(Handler):
    @web.authenticated
    def get(self) -> None:
        f = {k: self.get_query_argument(k, "").strip() for k in FILTERS}
        with session_scope() as s:
            me = self.me(s)
            self.run(lambda: rules.check_can_see_audit(me))
            report: dict[str, Any] = code_report(s, project=f["project"] or None, user=f["user"] or None,
                                                 since=_since(f["since"]))
            w = PAGE["zh-CN" if self.lang == "zh-CN" else "en"]
            # rendered in the session: the nav reads the user's memberships
            self.page("code.html", me, report=report, filters=f, w=w,
                      problems=[message(p, self.lang) for p in report["problems"]])
