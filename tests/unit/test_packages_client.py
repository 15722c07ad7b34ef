"""The workspace's `enclave-packages` and `pip` (images/workspace/enclave_packages.py, enclave_pip.py).

`enclave-packages` against a fake package service on 127.0.0.1: what it sends, how it shows requests, and
that a refusal is one sentence in the user's language. `pip` for real, against a real index (pypiserver over
a folder, on 127.0.0.1): an approved package installs into the project's environment, which sees the base
environment's packages too, and a missing one ends with the request command. The modules run inside the
workspace image with nothing of the enclave beside them, so they are loaded from their files.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pypiserver
import pytest

from tests.tiny_wheel import write_wheel
from tests.unit.conftest import FakeService, fake_workspace_service, image_module


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeService]:
    with fake_workspace_service(monkeypatch, "ENCLAVE_PACKAGES_URL", "services/enclave-packages/") as state:
        yield state


REQUEST = {"id": 7, "requester": "alice", "project": "study", "name": "tiny-plot", "version": "", "reason": "figures",
           "state": "requested", "decided_by": "", "decision_reason": "", "fetch": "", "fetch_text": ""}


def test_request_sends_the_spec_and_reason_with_the_workspace_token(
        fake: FakeService, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer = (201, REQUEST)
    assert image_module("enclave_packages").main(["request", "Tiny_Plot", "--reason", "figures"]) == 0
    call = fake.calls[0]
    assert (call["method"], call["path"]) == ("POST", "/services/enclave-packages/api/requests")
    assert call["body"] == {"spec": "Tiny_Plot", "reason": "figures"}
    assert call["headers"]["Authorization"] == "token the-workspace-token"
    assert capsys.readouterr().out.startswith("package request 7 (Tiny_Plot) waits for a package steward")


def test_list_shows_state_decision_and_how_to_install_in_the_users_language(
        fake: FakeService, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    approved = {**REQUEST, "id": 8, "name": "tinystat", "version": "1.0", "state": "approved", "fetch": "ok",
                "decided_by": "bob", "decision_reason": "fine"}
    fake.answer = (200, [REQUEST, approved])
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    assert image_module("enclave_packages").main(["list"]) == 0
    out = capsys.readouterr().out
    assert "待审批" in out and "已批准" in out and "已批准：pip install tinystat==1.0" in out and "bob: fine" in out
    assert fake.calls[0]["headers"]["Accept-Language"] == "zh-CN"


def test_a_refusal_is_the_services_sentence_and_exit_status_2(
        fake: FakeService, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer = (403, {"status": 403, "error": "'evilpkg' is on the refused list (refused names)"})
    assert image_module("enclave_packages").main(["request", "evilpkg", "--reason", "x"]) == 2
    err = capsys.readouterr().err
    assert err == "enclave-packages: 'evilpkg' is on the refused list (refused names)\n"


def test_no_service_or_a_bare_status_is_one_sentence_never_a_traceback(
        fake: FakeService, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake.answer = (502, b"<html>bad gateway</html>")
    mod = image_module("enclave_packages")
    assert mod.main(["list"]) == 2
    assert "answered HTTP 502" in capsys.readouterr().err
    monkeypatch.delenv("ENCLAVE_PACKAGES_URL")
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    assert mod.main(["list"]) == 2
    no_service = "这里没有软件包服务：enclave-packages 只能在 Enclave 工作区内使用"
    assert capsys.readouterr().err == f"enclave-packages: {no_service}\n"


def test_help_is_in_the_users_language(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    with pytest.raises(SystemExit) as stop:
        image_module("enclave_packages").main(["--help"])
    assert stop.value.code == 0 and "为项目申请 Python 软件包" in capsys.readouterr().out


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real index (pypiserver, no fallback) over a folder on 127.0.0.1, as PIP_INDEX_URL; yields the folder."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    app = pypiserver.app(roots=[folder], backend_arg="simple-dir", disable_fallback=True, hash_algo="sha256")
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple/")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    try:
        yield folder
    finally:
        server.shutdown()
        server.server_close()


def test_pip_installs_an_indexed_package_into_the_project_environment_over_the_base_one(
        index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_wheel(index, "tinystat", "1.0")
    pip = image_module("enclave_pip")
    env = tmp_path / "project" / ".enclave" / "python"
    python = pip.project_python(env)
    assert pip.run_pip(python, ["install", "--quiet", "tinystat"]) == 0
    probe = "import tinystat, pypiserver, sys; print(tinystat.VALUE, tinystat.__file__.startswith(sys.prefix))"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1.0", "True"]  # installed in the project's env; the base env's packages still seen
    assert "enclave-packages" not in capsys.readouterr().err


def test_pip_for_a_package_the_index_lacks_ends_with_the_request_command_in_the_users_language(
        index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    pip = image_module("enclave_pip")
    python = pip.project_python(tmp_path / "env")
    assert pip.run_pip(python, ["install", "not-approved-pkg"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.rstrip().endswith("查看本项目的申请及审批结果：enclave-packages list")
    assert 'enclave-packages request not-approved-pkg --reason "该软件包在本项目中的用途"' in err


def test_the_project_kernel_runs_the_project_environment_and_is_named_in_the_users_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    pip = image_module("enclave_pip")
    python = tmp_path / "env" / "bin" / "python"
    spec = json.loads(pip.ensure_kernel(tmp_path / "kernels", python).read_text())
    assert spec["display_name"] == "Python（项目软件包）"
    assert spec["argv"][:3] == [str(python), "-m", "ipykernel_launcher"]


def test_pip_with_the_index_down_says_the_index_does_not_answer_not_that_the_package_is_unapproved(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple/")
    monkeypatch.setenv("PIP_RETRIES", "1")
    pip = image_module("enclave_pip")
    assert pip.run_pip(pip.project_python(tmp_path / "env"), ["install", "tinystat"]) != 0
    err = capsys.readouterr().err
    assert "package index" in err and "does not answer" in err and "enclave-packages request" not in err
