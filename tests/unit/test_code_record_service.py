"""The code recorder service (activity.service) over real HTTP, with the hub's token check replaced by a table of
tokens and the container lookup by a table of running workspaces, and the record it keeps (activity.records).

Proves that user, project and workspace come from the token and the caller's own container and never from the
body, that a token counts only from its owner's workspace, that the service only appends (no method changes or
removes a record), that each batch is one audit record holding its hash, that a gap report becomes a
code.record_gap audit record, and that an edited, added or deleted record is found by `enclave audit code`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from activity import records, service
from activity.models import CodeRecord
from activity.scopes import SCOPE_RECORD
from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.settings import ACTIVITY_PREFIX
from enclave.workspaces import RunningWorkspace
from enclave_ops.cli import main
from tests.unit.conftest import workspace_api

HERE = "127.0.0.1"
ELSEWHERE = "10.11.12.13"
TOKENS: dict[str, dict[str, Any]] = {
    f"{name}-workspace": {"name": name, "kind": "user", "scopes": [f"{SCOPE_RECORD}!user={name}"]}
    for name in ("alice", "bob")}
TOKENS["alice-jobs-only"] = {"name": "alice", "kind": "user", "scopes": ["custom:enclave-jobs:submit!user=alice"]}
AT = "2026-12-01T10:00:00+00:00"


def cell(code: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"kind": "cell", "code": code, "kernel": "analysis.ipynb", "session": "k1", "execution_count": n,
            "at": AT, **extra}


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    def post(self, body: Any, token: str | None = "alice-workspace", lang: str = "en",
             method: str = "POST", path: str = "api/records") -> httpx.Response:
        headers = {"Accept-Language": lang, **({"Authorization": f"token {token}"} if token else {})}
        with httpx.Client(base_url=self.base, timeout=30) as c:
            return c.request(method, path, headers=headers,
                             content=body if isinstance(body, bytes) else json.dumps(body).encode())


@pytest.fixture
def api(enclave_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    workspaces = {"alice": RunningWorkspace("study", frozenset({HERE}), "enclave-ws-alice-study"),
                  "bob": RunningWorkspace("clinic", frozenset({ELSEWHERE}), "enclave-ws-bob-clinic")}

    def lookup(_settings: Any, name: str) -> RunningWorkspace | None:
        return workspaces.get(name)

    with workspace_api(service, monkeypatch, TOKENS, lookup) as port:
        yield Api(f"http://{HERE}:{port}{ACTIVITY_PREFIX}")


def stored() -> list[CodeRecord]:
    with session_scope() as s:
        return list(s.execute(select(CodeRecord).order_by(CodeRecord.id)).scalars())


def audit_code(*args: str) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(main, ["audit", "code", *args, "--json"])
    return res.exit_code, json.loads(res.output)


def test_a_cell_is_stored_under_the_tokens_user_and_the_containers_project(api: Api) -> None:
    r = api.post({"records": [cell("import polars as pl"), cell("pl.read_csv('/data/x.csv')", 2)]})
    assert r.status_code == 201, r.text
    rows = stored()
    assert [(x.user, x.project, x.workspace, x.code, x.execution_count) for x in rows] == [
        ("alice", "study", "enclave-ws-alice-study", "import polars as pl", 1),
        ("alice", "study", "enclave-ws-alice-study", "pl.read_csv('/data/x.csv')", 2)]
    code, out = audit_code("--project", "study", "--user", "alice")
    assert code == 0 and [x["code"] for x in out["records"]] == ["import polars as pl", "pl.read_csv('/data/x.csv')"]
    assert all(x["intact"] for x in out["records"]) and out["problems"] == []


@pytest.mark.parametrize("claim", [{"user": "bob"}, {"project": "clinic"}, {"workspace": "enclave-ws-bob-clinic"}])
def test_a_body_cannot_name_another_user_project_or_workspace(api: Api, claim: dict[str, str]) -> None:
    in_record = api.post({"records": [cell("x = 1", **claim)]})
    at_top = api.post({"records": [cell("x = 1")], **claim})
    assert (in_record.status_code, at_top.status_code) == (400, 400)
    assert "unknown field" in in_record.json()["error"] and "unknown field" in at_top.json()["error"]
    assert stored() == []


def test_a_token_counts_only_from_its_owners_container_and_the_refusal_is_audited(api: Api) -> None:
    r = api.post({"records": [cell("x = 1")]}, token="bob-workspace")  # bob's container is elsewhere
    assert r.status_code == 403 and "only from your own workspace" in r.json()["error"]
    zh = api.post({"records": [cell("x = 1")]}, token="bob-workspace", lang="zh-CN")
    assert zh.json()["error"] == "只接受来自您自己工作区的代码记录"
    for token in (None, "alice-jobs-only", "nobody"):
        assert api.post({"records": [cell("x = 1")]}, token=token).status_code == 403, token
    assert stored() == []
    with session_scope() as s:
        refused = audit.query(s, action=AuditAction.CODE_RECORD_REFUSED.value)
    assert [(e["actor"], e["project"]) for e in refused] == [("bob", "clinic"), ("bob", "clinic")]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "GET"])
def test_there_is_no_way_to_change_or_remove_a_record(api: Api, method: str) -> None:
    assert api.post({"records": [cell("secret = 42")]}).status_code == 201
    r = api.post({"records": [cell("secret = 0")]}, method=method)
    assert r.status_code == 405, (method, r.status_code)
    assert api.post({"records": [cell("x")]}, path="api/records/1").status_code == 404
    assert [x.code for x in stored()] == ["secret = 42"]


def test_each_batch_is_one_audit_record_holding_its_count_and_hash(api: Api) -> None:
    api.post({"records": [cell("a = 1"), cell("b = 2", 2)]})
    api.post({"records": [{"kind": "terminal", "code": "ls /data", "kernel": "terminal 1", "session": "1",
                           "at": AT}]})
    with session_scope() as s:
        batches = audit.query(s, action=AuditAction.CODE_RECORD.value)
        assert audit.verify(s).ok
    rows = stored()
    assert [(b["actor"], b["project"], b["details"]["count"]) for b in batches] == [("alice", "study", 2),
                                                                                   ("alice", "study", 1)]
    assert [x.audit_seq for x in rows] == [batches[0]["seq"]] * 2 + [batches[1]["seq"]]
    assert batches[0]["details"]["sha256"] == records.batch_hash(x.sha256 for x in rows[:2])


def test_a_gap_report_becomes_an_audit_record_with_its_counts(api: Api) -> None:
    gap = {"since": "2026-12-01T10:00:00+00:00", "until": "2026-12-01T10:05:00+00:00", "delayed": 7, "dropped": 2,
           "reason": "URLError: connection refused"}
    r = api.post({"records": [cell("late = 1")], "gap": gap})
    assert r.status_code == 201, r.text
    code, out = audit_code("--project", "study")
    assert code == 0 and len(out["gaps"]) == 1
    g = out["gaps"][0]
    assert (g["user"], g["project"], g["delayed"], g["dropped"], g["since"]) == (
        "alice", "study", 7, 2, "2026-12-01T10:00:00.000000+00:00")
    assert api.post({"gap": {**gap, "dropped": -1}}).status_code == 400


@pytest.mark.parametrize("change", ["code", "delete", "insert"])
def test_an_edited_deleted_or_added_record_is_found(api: Api, change: str) -> None:
    api.post({"records": [cell("rows = df.filter(pl.col('id') == 'S001')"), cell("rows", 2)]})
    with session_scope() as s:
        first = s.execute(select(CodeRecord).order_by(CodeRecord.id)).scalars().first()
        assert first is not None
        if change == "code":
            s.execute(update(CodeRecord).where(CodeRecord.id == first.id).values(code="x = 1"))
        elif change == "delete":
            s.execute(delete(CodeRecord).where(CodeRecord.id == first.id))
        else:  # a forged row, even with a hash of its own that matches
            forged = CodeRecord(kind=first.kind, user="alice", project="study", workspace=first.workspace,
                                kernel="", session="", execution_count=3, code="print('innocent')", code_length=17,
                                executed_at=AT, received_at=first.received_at, audit_seq=first.audit_seq, sha256="")
            forged.sha256 = records.record_hash(forged)
            s.add(forged)
    code, out = audit_code()
    assert code == 1 and out["problems"], out
    if change == "code":
        assert [x["intact"] for x in out["records"]] == [False, True]
    res = CliRunner().invoke(main, ["audit", "code"], env={"ENCLAVE_LANG": "zh-CN"})
    assert res.exit_code == 1 and "代码记录与审计链不一致" in res.output and "Traceback" not in res.output


def test_records_of_one_project_are_not_shown_for_another(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.post({"records": [cell("study_only = 1")]})
    with session_scope() as s:
        records.accept(s, records.Identity("bob", "clinic", "enclave-ws-bob-clinic"), [cell("clinic_only = 1")])
    _, study = audit_code("--project", "study")
    _, bob = audit_code("--user", "bob")
    _, later = audit_code("--since", (records.datetime.now(records.UTC) + timedelta(days=1)).date().isoformat())
    assert [x["code"] for x in study["records"]] == ["study_only = 1"]
    assert [x["code"] for x in bob["records"]] == ["clinic_only = 1"]
    assert later["records"] == []


@pytest.mark.parametrize("body", [b"not json", {"records": [{"kind": "shell", "code": "x", "at": AT}]},
                                  {"records": [cell("x", n="one")]}, {"records": [cell("x", at="yesterday")]},
                                  {"records": []}, {"records": [cell("x")] * (records.MAX_BATCH + 1)}])
def test_a_malformed_batch_is_refused_whole_with_a_sentence(api: Api, body: Any) -> None:
    r = api.post(body)
    assert r.status_code == 400 and r.json()["error"] and "Traceback" not in r.text
    assert stored() == []


def test_a_bad_since_is_one_sentence_not_a_traceback(enclave_home: Path) -> None:
    res = CliRunner().invoke(main, ["audit", "code", "--since", "last week"])
    assert res.exit_code == 2 and "is not a date" in res.output and "Traceback" not in res.output
