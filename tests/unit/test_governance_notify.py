"""Notifications: state changes reach a local SMTP server and a local webhook, with ids and states, never data."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from enclave.db import session_scope
from enclave.models import Party
from enclave.projects import upsert_user
from enclave.settings import get_settings
from governance import notify
from tests.unit.test_governance import FORM, _decide, _submitted, gov  # noqa: F401 - the fixture


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
        self.messages.append({"to": list(envelope.rcpt_tos), "body": envelope.content.decode(errors="replace")})
        return "250 OK"


@pytest.fixture
def receivers(gov) -> Iterator[tuple[_Mailbox, list[dict[str, Any]]]]:  # type: ignore[no-untyped-def] # noqa: F811
    """A local SMTP server and webhook receiver on loopback, written into the notification targets."""
    box = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd's Controller checks readiness on its port, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    hooks: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hooks.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    http = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    settings = get_settings()
    settings.secret("audit.key")
    notify.targets_path(settings).write_text(json.dumps({
        "email": f"mailto://127.0.0.1:{port}?from=enclave@example.org"
                 "&mode=insecure&user=enclave",
        "webhooks": [f"json://127.0.0.1:{http.server_address[1]}/hook"]}))
    with session_scope() as s:
        for name in ("alice", "bob", "carol"):
            upsert_user(s, "admin", name, email=f"{name}@example.org")
    try:
        yield box, hooks
    finally:
        smtp.stop()
        http.shutdown()


def _run(gov) -> list[notify.Notice]:  # type: ignore[no-untyped-def] # noqa: F811
    with session_scope() as s:
        return notify.process(s, get_settings(), gov, start_at_head=False)


def test_submission_and_decisions_are_told_to_the_people_concerned(gov, receivers):  # type: ignore[no-untyped-def] # noqa: F811
    box, hooks = receivers
    app_id = _submitted(gov)
    sent = _run(gov)
    assert [n.kind for n in sent] == ["application.submitted"] and sent[0].to == ["bob"]
    assert box.messages[-1]["to"] == ["bob@example.org"]
    assert f"application:{app_id}" in hooks[-1]["title"] and "/services/governance/applications/" in hooks[-1][
        "message"]
    _decide(gov, "bob", app_id, Party.STEWARD, comment="")
    kinds = [n.kind for n in _run(gov)]
    assert kinds == ["application.step_approved", "application.waiting"]
    assert box.messages[-1]["to"] == ["carol@example.org"]


def test_notifications_carry_no_data(gov, receivers):  # type: ignore[no-untyped-def] # noqa: F811
    box, hooks = receivers
    app_id = _submitted(gov)
    from enclave.models import StepDecision

    _decide(gov, "bob", app_id, Party.STEWARD, StepDecision.CHANGES, "the secret cohort detail X-17")
    _run(gov)
    text = json.dumps(hooks, ensure_ascii=False) + "".join(m["body"] for m in box.messages)
    for private in ("X-17", FORM["purpose"], FORM["title"], FORM["outputs"], "cohort@v1"):
        assert private not in text
    assert "needs_changes" in text and f"application={app_id}" in text


def test_each_record_is_told_once(gov, receivers):  # type: ignore[no-untyped-def] # noqa: F811
    _submitted(gov)
    assert len(_run(gov)) == 1
    assert _run(gov) == []


def test_export_requests_waiting_and_decided_are_told(gov, receivers):  # type: ignore[no-untyped-def] # noqa: F811
    """Export requests are the egress service's: the notifier learns of them from the audit trail alone."""
    from enclave import audit
    from enclave.models import ExportRequest, ExportState

    box, hooks = receivers
    with session_scope() as s:
        req = ExportRequest(project="study", requester="alice", justification="tables", state=ExportState.SUBMITTED)
        s.add(req)
        s.flush()
        audit.record(s, "alice", "export.submit", project="study", target=f"request:{req.id}")
        audit.record(s, "bob", "export.released", project="study", target=f"request:{req.id}")
        rid = req.id
    kinds = {n.kind: n.to for n in _run(gov)}
    assert kinds["export.waiting_for_review"] == ["bob", "carol", "rhea"] and kinds["export.released"] == ["alice"]
    assert any(f"request:{rid} released" in h["title"] for h in hooks)
    assert "tables" not in json.dumps(hooks)
    assert any(m["to"] == ["alice@example.org"] for m in box.messages)


def test_accreditation_about_to_lapse_warns_the_person_and_the_stewards_once(gov, receivers):  # type: ignore[no-untyped-def] # noqa: F811
    from datetime import timedelta

    from enclave.models import Accreditation, ProjectState
    from enclave.projects import approve_dataset, create_project, today, transition

    with session_scope() as s:
        create_project(s, "admin", slug="study", title="t", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=90))
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        approve_dataset(s, "admin", "study", "cohort", "v1", {2})
        s.add(Accreditation(username="alice", level=2, training_completed=today() - timedelta(days=350),
                            expires=today() + timedelta(days=10)))
    sent = [n for n in _run(gov) if n.kind == "accreditation.lapsing"]
    assert len(sent) == 1 and sent[0].to == ["alice", "bob"]
    assert not [n for n in _run(gov) if n.kind == "accreditation.lapsing"]
