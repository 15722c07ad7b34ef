"""The workspace's `enclave-job` and `enclave_job` (images/workspace/enclave_job.py) against a fake jobs service
on 127.0.0.1, started here: what it sends, how it shows a job, and that a refusal is one sentence.

The module runs inside the workspace image with nothing of the enclave beside it, so it is loaded from its file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.conftest import FakeService, fake_workspace_service, image_module


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeService]:
    with fake_workspace_service(monkeypatch, "ENCLAVE_JOBS_URL", "services/enclave-jobs/") as state:
        yield state


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder standing for /workspace, the current folder inside it, as in a terminal there."""
    (tmp_path / "ws" / "analysis").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "ws")
    return tmp_path / "ws"


@pytest.fixture
def client(workspace: Path) -> ModuleType:
    """The client as the image has it, with `workspace` standing for /workspace."""
    module = image_module("enclave_job")
    module.WORKSPACE_ROOTS = (str(workspace),)
    return module


def job(**kw: Any) -> dict[str, Any]:
    return {"id": 12, "project": "study", "submitter": "alice", "command": "python analysis/main.py",
            "state": "finished", "reason": "exited with code 0", "exit_code": 0, "run_seconds": 4.5,
            "resources": {"cpu_ns": 3_000_000_000, "max_memory_bytes": 64 * 1024**2}, "release": "held",
            "release_text": "held for an output checker", "folder": "/workspace/jobs/12/",
            "files": [{"name": "log.txt", "verdict": "review", "kinds": ["sdc:small-count"], "in_workspace": False,
                       "path": None},
                      {"name": "results/t.csv", "verdict": "pass", "kinds": [], "in_workspace": True,
                       "path": "/workspace/jobs/12/results/t.csv"}], **kw}


def test_submit_sends_the_command_and_workspace_relative_folders_with_the_token(
        fake: FakeService, client: ModuleType, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace / "analysis")
    fake.answer = (201, job(state="queued", exit_code=None, files=[], folder=None))
    summary = client.submit(run="python main.py", outputs="../results/", code=".")
    call = fake.calls[-1]
    assert (call["method"], call["path"]) == ("POST", "/services/enclave-jobs/api/jobs")
    assert call["body"] == {"run": "python main.py", "outputs": "results", "code": "analysis"}
    assert call["headers"]["Authorization"] == "token the-workspace-token"
    assert call["headers"]["Accept-Language"] == "en"
    assert isinstance(summary, dict) and summary["id"] == 12
    assert "enclave-job show 12" in repr(summary) and "/workspace/jobs/12/" in repr(summary)


def test_from_outside_the_workspace_relative_folders_are_the_workspaces(
        fake: FakeService, client: ModuleType, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook server or a shell started elsewhere (the home folder) means the workspace's results/."""
    monkeypatch.chdir(workspace.parent)
    fake.answer = (201, job(state="queued"))
    client.submit(run="python analysis/main.py")
    assert fake.calls[-1]["body"] == {"run": "python analysis/main.py", "outputs": "results", "code": "."}


def test_a_summary_reads_as_words_in_the_users_language_and_escapes_html(
        fake: FakeService, client: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.answer = (200, job(command="python x.py <b>&"))
    shown = client.show(12)
    text, page = repr(shown), shown._repr_html_()
    assert "Job 12" in text and "finished" in text and "Exit code: 0" in text and "4.5 s" in text
    assert "log.txt: held for review (sdc:small-count)" in text
    assert "/workspace/jobs/12/results/t.csv: in your workspace" in text
    assert "&lt;b&gt;&amp;" in page and "<b>&" not in page
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    zh = repr(client.show(12))
    assert "作业 12" in zh and "已完成" in zh and "待审核" in zh and "退出码：0" in zh
    assert fake.calls[-1]["headers"]["Accept-Language"] == "zh-CN"


def test_a_refusal_is_the_services_sentence_and_one_line_in_a_notebook(fake: FakeService, client: ModuleType) -> None:
    fake.answer = (403, {"status": 403, "error": "cannot submit a job: project 'study' is suspended, not active"})
    with pytest.raises(client.JobRefused) as refused:
        client.submit(run="python analysis/main.py")
    assert str(refused.value) == "cannot submit a job: project 'study' is suspended, not active"
    assert refused.value._render_traceback_() == [str(refused.value)]


def test_the_command_prints_the_refusal_without_a_traceback_and_exits_2(
        fake: FakeService, client: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer = (404, {"status": 404, "error": "no job 99"})
    assert client.main(["show", "99"]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == "enclave-job: no job 99" and "Traceback" not in out.err and out.out == ""


def test_list_prints_one_line_per_job_and_json_on_request(
        fake: FakeService, client: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer = (200, [job(), job(id=11, state="running", exit_code=None, release="pending")])
    assert client.main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[:3] for line in lines] == [["12", "finished", "held"], ["11", "running", "pending"]]
    assert client.main(["--json", "list"]) == 0
    assert [j["id"] for j in json.loads(capsys.readouterr().out)] == [12, 11]
    assert client.jobs()[0]["files"][0]["kinds"] == ["sdc:small-count"]


def test_folders_outside_the_workspace_are_refused_before_any_call(
        fake: FakeService, client: ModuleType, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(client.JobRefused, match="not in your project's workspace"):
        client.submit(run="true", outputs="/tmp/out")
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    with pytest.raises(client.JobRefused, match="不在项目工作区中"):
        client.submit(run="true", code="../..")
    assert fake.calls == []


def test_no_service_or_one_that_does_not_answer_is_a_sentence(
        client: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ENCLAVE_JOBS_URL", raising=False)
    monkeypatch.setenv("ENCLAVE_LANG", "en")
    assert client.main(["list"]) == 2
    assert "works inside an enclave workspace" in capsys.readouterr().err
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ENCLAVE_JOBS_URL", f"http://127.0.0.1:{port}/services/enclave-jobs/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t")
    with pytest.raises(client.JobRefused, match="the jobs service does not answer"):
        client.jobs()


@pytest.mark.parametrize(("lang", "not_json", "bare"), [("en", "not JSON", "without saying why"),
                                                        ("zh-CN", "不是 JSON", "但没有说明原因")])
def test_an_answer_that_is_not_the_services_json_is_a_sentence_in_the_users_language(
        fake: FakeService, client: ModuleType, monkeypatch: pytest.MonkeyPatch, lang: str, not_json: str,
        bare: str) -> None:
    monkeypatch.setenv("ENCLAVE_LANG", lang)
    fake.answer = (200, b"<html>a proxy's page</html>")
    with pytest.raises(client.JobRefused, match=not_json):
        client.jobs()
    fake.answer = (502, b"<html>Bad Gateway</html>")
    with pytest.raises(client.JobRefused, match=bare) as refused:
        client.jobs()
    assert "502" in str(refused.value) and "Bad Gateway" in str(refused.value)


def test_list_says_the_exit_code_in_the_users_language(
        fake: FakeService, client: ModuleType, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer = (200, [job(exit_code=3)])
    assert client.main(["list"]) == 0
    assert "exit 3" in capsys.readouterr().out
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    assert client.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "已完成" in out and "退出码 3" in out and "exit" not in out


def test_every_sentence_of_the_jobs_client_exists_in_both_languages_with_the_same_blanks(client: ModuleType) -> None:
    import string

    def fields(template: str) -> set[str]:
        return {f for _t, f, _s, _c in string.Formatter().parse(template) if f}

    assert set(client.WORDS["en"]) == set(client.WORDS["zh-CN"])
    assert {k: fields(v) for k, v in client.WORDS["en"].items()} == {
        k: fields(v) for k, v in client.WORDS["zh-CN"].items()}


@pytest.mark.parametrize(("lang", "said", "other"), [("en", "snapshot the code folder", "快照"),
                                                     ("zh-CN", "为代码文件夹做快照", "snapshot the code")])
def test_the_commands_help_is_in_the_users_language(client: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str], lang: str, said: str,
                                                    other: str) -> None:
    monkeypatch.setenv("ENCLAVE_LANG", lang)
    with pytest.raises(SystemExit) as done:
        client.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and said in out and other not in out
