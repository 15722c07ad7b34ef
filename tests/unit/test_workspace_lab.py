"""The JupyterLab extension's server side (images/workspace/enclave_lab.py): what "Request export", the Exports
panel and "Submit job" are answered, with fake clients in place of the services the workspace reaches."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images" / "workspace"))
import enclave_lab  # noqa: E402

from egress_review import client as real_client  # noqa: E402


class FakeExport(SimpleNamespace):
    """The enclave_export client: records what it was asked, answers what the test gives it."""

    ExportError = real_client.ExportError

    def __init__(self, answer: Any = None, rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(asked=[], answer=answer, rows=rows or [])

    def request_export(self, files: list[str], justification: str, lang: str | None = None) -> dict[str, Any]:
        self.asked.append(("request", files, justification, lang))
        if isinstance(self.answer, Exception):
            raise self.answer
        return dict(self.answer)

    def list_requests(self, lang: str | None = None) -> list[dict[str, Any]]:
        self.asked.append(("list", lang))
        return self.rows

    def show_request(self, rid: int, lang: str | None = None) -> dict[str, Any]:
        self.asked.append(("show", rid, lang))
        return {**next(r for r in self.rows if r["id"] == rid), "files": [
            {"name": "t.csv", "verdict": "review",
             "findings": [{"check": "small_counts", "text": f"row 1 column n: count below threshold ({lang})"}]}]}


REQUEST = {"id": 7, "state": "submitted", "verdict": "block", "files": [
    {"name": "t.csv", "verdict": "block", "findings": [{"check": "identifiers", "text": "column nhs: identifiers"}]}]}


@pytest.mark.parametrize("path", ["data/cohort/rows.csv", "workspace/../data/rows.csv", "/etc/passwd",
                                  "/srv/enclave/data/x.csv"])
@pytest.mark.parametrize(("lang", "said"), [("en", "only files and folders under /workspace"),
                                            ("zh-CN", "不在项目工作区中")])
def test_a_file_outside_the_workspace_gets_one_sentence_and_the_service_is_not_asked(path: str, lang: str,
                                                                                    said: str) -> None:
    fake = FakeExport(REQUEST)
    status, body = enclave_lab.answer(enclave_lab.submit_export, fake, [path], "a table of counts", lang)
    assert status == 400 and body["field"] == "files"
    assert said in body["error"] and path in body["error"] and "\n" not in body["error"]
    assert fake.asked == []


def test_a_workspace_file_reaches_the_service_as_its_workspace_path_asked_in_the_chosen_language(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The real client, with its HTTP call caught: the path the service sees and the language it is asked in."""
    sent: list[Any] = []

    def urlopen(req: Any, timeout: float) -> Any:
        sent.append(req)
        return io.BytesIO(json.dumps(REQUEST).encode())

    monkeypatch.setenv("ENCLAVE_EXPORT_URL", "http://egress.invalid/services/egress-review/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t")
    monkeypatch.setenv("LANG", "C.UTF-8")  # the workspace's locale says English; the Lab user chose Chinese
    monkeypatch.setattr(real_client.urllib.request, "urlopen", urlopen)
    status, body = enclave_lab.answer(enclave_lab.submit_export, real_client, ["workspace/results/t.csv"],
                                      "  counts by region, all above 10  ", "zh-CN")
    assert status == 200
    assert json.loads(sent[0].data) == {"files": ["results/t.csv"], "justification": "counts by region, all above 10"}
    assert sent[0].get_header("Accept-language") == "zh-CN"
    r = body["request"]
    assert (r["state_text"], r["files"][0]["verdict_text"]) == ("已提交", "已拦截")
    assert r["next"].startswith("被拦截的文件无法获批") and r["link"] == "/services/egress-review/requests/7"
    assert r["files"][0]["findings"] == ["column nhs: identifiers"]


@pytest.mark.parametrize("justification", ["", "   \n", None])
def test_an_empty_justification_is_refused_next_to_its_field(justification: Any) -> None:
    fake = FakeExport(REQUEST)
    status, body = enclave_lab.answer(enclave_lab.submit_export, fake, ["workspace/t.csv"], justification, "en")
    assert (status, body["field"]) == (400, "justification")
    assert body["error"] == enclave_lab.WORDS["en"]["justification"] and fake.asked == []


def test_a_refusal_by_the_service_is_its_sentence_without_the_status_number() -> None:
    fake = FakeExport(real_client.ExportError("403: export requests are accepted only from your own workspace"))
    status, body = enclave_lab.answer(enclave_lab.submit_export, fake, ["workspace/t.csv"], "why", "en")
    assert (status, body) == (403, {"error": "export requests are accepted only from your own workspace",
                                    "field": ""})


@pytest.mark.parametrize(("query", "header", "lang"), [
    ("zh-CN", "en-US,en;q=0.9", "zh-CN"), ("en", "zh-CN,zh;q=0.9", "en"), (None, "zh-TW,zh;q=0.8", "zh-CN"),
    (None, "fr-FR", "en"), (None, "", "en")])
def test_the_language_lab_asks_for_wins_over_the_browsers(query: str | None, header: str, lang: str) -> None:
    assert enclave_lab.language(query, header) == lang


def test_the_panel_lists_this_projects_requests_newest_first_with_findings_in_the_users_language(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enclave_lab, "DETAILED", 2)
    rows = [{"id": i, "project": "study" if i != 4 else "other", "state": "in_review", "verdict": "review",
             "files": 1} for i in (5, 4, 3, 2)]
    fake = FakeExport(rows=rows)
    status, body = enclave_lab.answer(enclave_lab.list_exports, fake, "en", "study")
    assert status == 200 and [r["id"] for r in body["requests"]] == [5, 3, 2]
    assert [a for a in fake.asked if a[0] == "show"] == [("show", 5, "en"), ("show", 3, "en")]
    first, last = body["requests"][0], body["requests"][-1]
    assert first["files"][0]["findings"] == ["row 1 column n: count below threshold (en)"]
    assert first["state_text"] == "in review" and first["next"] == enclave_lab.WORDS["en"]["next_in_review"]
    assert last["files"] == [] and last["verdict_text"] == "goes to the reviewers with a note"


def _no_job_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "enclave_job", None)  # `import enclave_job` raises ImportError


def test_jobs_are_not_available_without_a_jobs_service_or_without_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "enclave_job", ModuleType("enclave_job"))
    monkeypatch.delenv("ENCLAVE_JOBS_URL", raising=False)
    assert enclave_lab.job_client() is None
    monkeypatch.setenv("ENCLAVE_JOBS_URL", "http://jobs.invalid/")
    assert enclave_lab.job_client() is sys.modules["enclave_job"]
    _no_job_module(monkeypatch)
    assert enclave_lab.job_client() is None
    assert enclave_lab.answer(enclave_lab.status, None, "en")[1]["jobs"] is False
    for lang in ("en", "zh-CN"):
        for fn, args in ((enclave_lab.list_jobs, ()), (enclave_lab.submit_job, ({"run": "python main.py"},))):
            status, body = enclave_lab.answer(fn, None, *args, lang)
            assert (status, body["error"]) == (404, enclave_lab.WORDS[lang]["no_jobs"])


class FakeJobs(SimpleNamespace):
    def __init__(self, listed: list[dict[str, Any]] | None = None, refuse: str = "") -> None:
        super().__init__(submitted=[], listed=listed or [], refuse=refuse)

    def submit(self, run: str, outputs: str, code: str) -> dict[str, Any]:
        if self.refuse:
            raise RuntimeError(self.refuse)
        self.submitted.append({"run": run, "outputs": outputs, "code": code})
        return {"id": 3, "command": run, "state": "queued", "exit_code": None, "release": "pending"}

    def jobs(self) -> list[dict[str, Any]]:
        return self.listed


def test_a_job_is_submitted_with_its_folders_relative_to_the_workspace() -> None:
    jobs = FakeJobs()
    status, body = enclave_lab.answer(enclave_lab.submit_job, jobs,
                                      {"run": " python analysis/main.py ", "outputs": "", "code": "analysis"}, "zh-CN")
    assert status == 200 and jobs.submitted == [{"run": "python analysis/main.py", "outputs": "results",
                                                 "code": "analysis"}]
    assert body["job"]["state_text"] == "排队中" and body["job"]["outputs_text"] == "输出尚未检查"
    enclave_lab.answer(enclave_lab.submit_job, jobs, {"run": "make", "outputs": "/workspace/out", "code": "."}, "en")
    assert jobs.submitted[-1] == {"run": "make", "outputs": "out", "code": "."}


@pytest.mark.parametrize(("form", "field"), [({"run": ""}, "run"), ({"run": "make", "outputs": "../data"}, "outputs"),
                                             ({"run": "make", "code": "/data/cohort"}, "code")])
def test_a_job_form_problem_is_refused_next_to_its_field(form: dict[str, str], field: str) -> None:
    jobs = FakeJobs()
    status, body = enclave_lab.answer(enclave_lab.submit_job, jobs, form, "en")
    assert (status, body["field"]) == (400, field) and jobs.submitted == []


def test_a_refused_job_is_the_clients_sentence() -> None:
    status, body = enclave_lab.answer(enclave_lab.submit_job, FakeJobs(refuse="403: this project is not blind"),
                                      {"run": "make"}, "en")
    assert (status, body["error"]) == (403, "this project is not blind")


def test_the_jobs_list_says_whether_outputs_came_back() -> None:
    listed = [{"id": 2, "command": "make", "state": "finished", "exit_code": 0, "release": "delivered"},
              {"id": 1, "command": "make", "state": "finished", "exit_code": 1, "release": "held"}]
    status, body = enclave_lab.answer(enclave_lab.list_jobs, FakeJobs(listed), "en")
    back, held = body["jobs"]
    assert (back["outputs_back"], back["exit_code"]) == (True, 0)
    assert back["outputs_text"] == "outputs are in /workspace/jobs/2/"
    assert (held["outputs_back"], held["exit_code"], held["outputs_text"]) == (False, 1, "outputs held for review")
