"""The auditors' executed-code page in the governance service (governance/code_page.py), over real HTTP with the
hub's token check replaced by a table: auditors read the record, in their language, filtered, with an edited
record marked; everyone else is refused. The page only reads."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from activity import records
from activity.models import CodeRecord
from enclave.db import session_scope
from tests.unit.test_governance import gov  # noqa: F401 - the fixture
from tests.unit.test_governance_service import site  # noqa: F401 - the fixture

AT = "2026-12-01T10:00:00+00:00"


def _record(user: str, project: str, code: str) -> None:
    with session_scope() as s:
        records.accept(s, records.Identity(user, project, f"enclave-ws-{user}-{project}"),
                       [{"kind": "cell", "code": code, "kernel": "analysis.ipynb", "session": "k", "execution_count": 1,
                         "at": AT}])


@pytest.mark.parametrize(("who", "status"), [("audrey", 200), ("admin", 200), ("alice", 403), ("bob", 403)])
def test_only_auditors_read_the_executed_code(site: Any, who: str, status: int) -> None:  # noqa: F811
    _record("alice", "study", "df.head()")
    r = site(who).get("audit/code")
    assert r.status_code == status, (who, r.status_code)
    assert ("df.head()" in r.text) == (status == 200)


def test_the_page_filters_marks_an_edited_record_and_speaks_the_readers_language(site: Any) -> None:  # noqa: F811
    _record("alice", "study", "study_cell = 1")
    _record("dave", "other", "other_cell = 2")
    page = site("audrey").get("audit/code", params={"project": "study"})
    assert "study_cell = 1" in page.text and "other_cell" not in page.text and "Every record matches" in page.text
    with session_scope() as s:
        s.execute(update(CodeRecord).where(CodeRecord.code == "study_cell = 1").values(code="harmless = 0"))
    zh = site("audrey", "zh-CN").get("audit/code")
    assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text and "已执行的代码" in zh.text
    assert "存储后已被改动" in zh.text and "记录与审计链不一致" in zh.text
    assert site("audrey").get("audit/code", params={"since": "last week"}).status_code == 400


def test_the_page_changes_nothing(site: Any) -> None:  # noqa: F811
    _record("alice", "study", "x = 1")
    client = site("audrey")
    assert client.post("audit/code", {"project": "study"}).status_code == 405
    with session_scope() as s:
        assert [r["code"] for r in records.query(s)] == ["x = 1"]
