"""`enclave-export` (egress_review/client.py) says its own sentences in the workspace's language, by the
workspace's one rule (images/workspace/enclave_messages.py: ENCLAVE_LANG, then the locale), and passes the
service's refusals on as the service said them (it answers in the language it is asked in).

A fake export service on 127.0.0.1, started here, answers as the test needs: JSON, a proxy's HTML page,
nothing at all (the connection closed mid-call) or nothing in time.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import socket
import string
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from egress_review import client
from enclave.settings import REPO_ROOT
from tests.unit.conftest import loopback_service

WORKSPACE = REPO_ROOT / "images" / "workspace"
SAID = {  # a phrase of each of the client's own sentences, per language
    "en": {"no_service": "no export service", "unreachable": "the export service does not answer",
           "cut_off": "stopped before answering", "timeout": "did not answer within",
           "not_json": "not JSON", "http": "without saying why", "inside_only": "made from inside your workspace"},
    "zh-CN": {"no_service": "找不到导出服务", "unreachable": "导出服务没有响应", "cut_off": "导出服务在答复前停止",
              "timeout": "秒内没有答复", "not_json": "不是 JSON", "http": "但没有说明原因",
              "inside_only": "只能在您的工作区内提交"},
}


class Fake:
    """What the fake service was asked, and how it answers next: (status, body bytes), "close" or "hang"."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer: tuple[int, bytes] | str = (200, b"[]")
        self.release = threading.Event()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fake]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.calls.append({"path": self.path, "headers": dict(self.headers)})
            if state.answer == "close":  # the service went away while working on the call
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if state.answer == "hang":
                state.release.wait(10)
                return
            assert isinstance(state.answer, tuple)
            status, data = state.answer
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with loopback_service(Handler) as port:
        monkeypatch.setenv("ENCLAVE_EXPORT_URL", f"http://127.0.0.1:{port}/services/egress-review/")
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-workspace-token")
        yield state
        state.release.set()


def _speak(monkeypatch: pytest.MonkeyPatch, lang: str | None, locale: str = "C.UTF-8") -> None:
    """The workspace's environment: ENCLAVE_LANG from the hub (None: not set) and the locale."""
    for name in ("ENCLAVE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    if lang:
        monkeypatch.setenv("ENCLAVE_LANG", lang)
    monkeypatch.setenv("LANG", locale)


def _refused(**kw: Any) -> str:
    with pytest.raises(client.ExportError) as refused:
        client.list_requests(**kw)
    return str(refused.value)


def test_the_client_uses_the_workspaces_one_language_rule_not_a_copy() -> None:
    assert Path(inspect.getsourcefile(client.language) or "").resolve() == WORKSPACE / "enclave_messages.py"


@pytest.mark.parametrize(("enclave_lang", "locale", "lang"), [
    ("zh-CN", "C.UTF-8", "zh-CN"), ("en", "zh_CN.UTF-8", "en"), (None, "zh_CN.UTF-8", "zh-CN"),
    (None, "C.UTF-8", "en")])
def test_the_service_is_asked_in_enclave_lang_then_the_locales_language(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, enclave_lang: str | None, locale: str, lang: str) -> None:
    _speak(monkeypatch, enclave_lang, locale)
    client.list_requests()
    assert fake.calls[-1]["headers"]["Accept-Language"] == lang
    client.list_requests(lang="en" if lang == "zh-CN" else "zh-CN")  # JupyterLab's choice wins
    assert fake.calls[-1]["headers"]["Accept-Language"] != lang


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_service_and_a_service_that_does_not_answer_are_said_in_the_users_language(
        monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    _speak(monkeypatch, lang)
    monkeypatch.delenv("ENCLAVE_EXPORT_URL", raising=False)
    assert SAID[lang]["no_service"] in _refused()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ENCLAVE_EXPORT_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t")
    assert SAID[lang]["unreachable"] in _refused()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_service_that_stops_mid_call_is_said_in_the_users_language(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    _speak(monkeypatch, lang)
    fake.answer = "close"
    said = _refused()
    assert SAID[lang]["cut_off"] in said and "enclave-export list" in said
    assert SAID["zh-CN" if lang == "en" else "en"]["cut_off"] not in said


def test_stopped_before_answering_is_english_in_the_default_environment(
        fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    """What tests/integration/test_faults.py reads from a workspace started without a language."""
    _speak(monkeypatch, None)
    fake.answer = "close"
    assert _refused().startswith("the export service stopped before answering (RemoteDisconnected); ")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_answer_in_time_is_a_sentence_in_the_users_language_not_a_traceback(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    _speak(monkeypatch, lang)
    monkeypatch.setattr(client, "TIMEOUT", 0.3)
    fake.answer = "hang"
    said = _refused()
    assert SAID[lang]["timeout"] in said and "0.3" in said


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_answer_that_is_not_json_is_a_sentence_in_the_users_language(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    _speak(monkeypatch, lang)
    fake.answer = (200, b"<html>a proxy's page</html>")
    assert SAID[lang]["not_json"] in _refused()
    fake.answer = (502, b"<html>Bad Gateway</html>")
    said = _refused()
    assert said.startswith("502: ") and SAID[lang]["http"] in said and "Bad Gateway" in said


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_services_refusal_is_passed_on_as_the_service_said_it(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    """The service answers in the Accept-Language it was asked in; the client adds only the status."""
    _speak(monkeypatch, lang)
    fake.answer = (403, json.dumps({"error": "只能从您自己的工作区提交导出申请"}).encode())
    assert _refused() == "403: 只能从您自己的工作区提交导出申请"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_command_prints_its_own_refusal_in_the_users_language_and_exits_2(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lang: str) -> None:
    _speak(monkeypatch, lang)
    assert client.main(["--url", "http://127.0.0.1:9/", "request", "t.csv", "-j", "why"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("enclave-export: ") and SAID[lang]["inside_only"] in err
    assert client.main(["--json", "--url", "http://127.0.0.1:9/", "request", "t.csv", "-j", "why"]) == 2
    assert SAID[lang]["inside_only"] in json.loads(capsys.readouterr().err)["error"]


RETURNED = {"id": 4, "project": "study", "state": "returned", "version": 2, "resolution": "the counts are large",
            "comments": ["Suppress small counts."],
            "files": [{"name": "t.csv", "verdict": "review", "sha256": "ab" * 32, "outcome": "returned",
                       "released": False, "findings": [], "comments": ["bob: round to 5"]}]}


def test_show_says_the_request_in_chinese_to_a_zh_cn_user(monkeypatch: pytest.MonkeyPatch) -> None:
    _speak(monkeypatch, "zh-CN")
    shown = client._summary(RETURNED)
    assert "导出申请 4（study，第 2 版）：已退回" in shown
    assert "t.csv  需审核  sha256 abababababab  已退回，未放行" in shown
    assert "审核员：bob: round to 5" in shown and "冲突的裁决：the counts are large" in shown
    assert "--revises 4" in shown and "reviewer:" not in shown and "returned" not in shown


def test_show_says_the_request_in_english_to_an_english_user(monkeypatch: pytest.MonkeyPatch) -> None:
    _speak(monkeypatch, "zh-CN")
    shown = client._summary(RETURNED, lang="en")  # a caller's choice wins over the environment
    assert "request 4 (study, version 2): returned" in shown
    assert "t.csv  review  sha256 abababababab  returned, withheld" in shown
    assert "conflict settled: the counts are large" in shown and "审核员" not in shown


def _fields(template: str) -> set[str]:
    return {f for _t, f, _s, _c in string.Formatter().parse(template) if f}


def test_every_sentence_of_the_client_exists_in_both_languages_with_the_same_blanks() -> None:
    assert set(client.SAY["en"]) == set(client.SAY["zh-CN"])
    assert {k: _fields(v) for k, v in client.SAY["en"].items()} == {
        k: _fields(v) for k, v in client.SAY["zh-CN"].items()}


def _notebook(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The image's notebook request_export: `enclave_export` is the client, beside enclave_messages."""
    monkeypatch.setitem(sys.modules, "enclave_export", client)
    monkeypatch.syspath_prepend(str(WORKSPACE))
    spec = importlib.util.spec_from_file_location("enclave_export_notebook_under_test",
                                                  WORKSPACE / "enclave_export_notebook.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebook_follows_the_locale_when_the_hub_gave_no_language(monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = _notebook(monkeypatch)
    _speak(monkeypatch, None, "zh_CN.UTF-8")
    with pytest.raises(client.ExportError, match="不在项目工作区中"):
        notebook.request_export(["/etc/passwd"], "why")
    with pytest.raises(client.ExportError, match="is not in your project's workspace"):
        notebook.request_export(["/etc/passwd"], "why", lang="en")
    summary = notebook.ExportSummary({"id": 3, "state": "in_review", "files": []})
    assert "导出申请 3" in repr(summary) and "审核中" in repr(summary)
    _speak(monkeypatch, "en", "zh_CN.UTF-8")
    assert "Export request 3" in repr(summary) and "in_review" in repr(summary)



@pytest.mark.parametrize(("lang", "said", "other"), [("en", "ask for files to be exported", "申请导出文件"),
                                                     ("zh-CN", "申请导出文件", "ask for files to be exported")])
def test_the_commands_help_is_in_the_users_language(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str], lang: str, said: str,
                                                    other: str) -> None:
    _speak(monkeypatch, lang)
    with pytest.raises(SystemExit) as done:
        client.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and said in out and other not in out


def test_the_commands_help_exists_in_both_languages() -> None:
    assert set(client.HELP["en"]) == set(client.HELP["zh-CN"])
