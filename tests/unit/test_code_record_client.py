"""The workspace's recorder (images/workspace/enclave_record.py): the IPython hook, the terminal hook and the sender.

Proves that a hook never raises into the kernel or the terminal and never waits for the service, that while the
service is down records are spooled and, once it answers again, sent with a gap notice saying how many were
delayed and lost, that a spool left by a process that ended is sent by the next one, and what the terminal
recorder makes of keystrokes. The module runs inside the workspace image, so it is loaded from its file.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.conftest import image_module, loopback_service

rec_mod = image_module("enclave_record")


class Service:
    """A fake code recorder: it is up or down, and keeps every body it accepted."""

    def __init__(self) -> None:
        self.up = True
        self.bodies: list[dict[str, Any]] = []

    def post(self, body: dict[str, Any]) -> None:
        if not self.up:
            raise ConnectionRefusedError("connection refused")
        self.bodies.append(body)

    def records(self) -> list[str]:
        return [r["code"] for b in self.bodies for r in b.get("records", [])]

    def gaps(self) -> list[dict[str, Any]]:
        return [b["gap"] for b in self.bodies if "gap" in b]


def recorder(svc: Service, tmp_path: Path, **kw: Any) -> Any:
    return rec_mod.Recorder(svc.post, tmp_path / "spool", retry=(0.0,), **kw)


def entry(code: str) -> dict[str, Any]:
    return {"kind": "cell", "code": code, "kernel": "k", "session": "s", "execution_count": 1, "at": rec_mod.now()}


def test_records_are_sent_in_order_while_the_service_answers(tmp_path: Path) -> None:
    svc = Service()
    rec = recorder(svc, tmp_path)
    rec.step([entry("a"), entry("b")])
    rec.step([entry("c")])
    assert svc.records() == ["a", "b", "c"] and svc.gaps() == []


def test_while_the_service_is_down_records_are_spooled_then_sent_with_a_gap_notice(tmp_path: Path) -> None:
    svc = Service()
    rec = recorder(svc, tmp_path)
    svc.up = False
    rec.step([entry("a")])
    rec.step([entry("b"), entry("c")])
    assert svc.records() == [] and (tmp_path / "spool").is_dir()
    svc.up = True
    rec.step([entry("d")])
    assert svc.records() == ["a", "b", "c", "d"]
    [gap] = svc.gaps()
    assert (gap["delayed"], gap["dropped"]) == (4, 0) and gap["since"] <= gap["until"]
    assert "ConnectionRefusedError" in gap["reason"]
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    rec.step([entry("e")])
    assert svc.records()[-1] == "e" and len(svc.gaps()) == 1  # back to normal: no second notice


def test_records_that_do_not_fit_the_spool_are_counted_as_lost(tmp_path: Path) -> None:
    svc = Service()
    rec = recorder(svc, tmp_path, max_spool_bytes=300)
    svc.up = False
    for i in range(6):
        rec.step([entry(f"cell {i} " + "x" * 60)])
    svc.up = True
    rec.step([])
    [gap] = svc.gaps()
    assert gap["dropped"] > 0 and gap["delayed"] + gap["dropped"] == 6
    assert len(svc.records()) == gap["delayed"]


def test_a_spool_left_by_an_ended_process_is_sent_by_the_next_one(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    dead = entry("from a dead kernel")
    (spool / "kernel-999999999.jsonl").write_text(json.dumps(dead) + "\n")
    svc = Service()
    rec = recorder(svc, tmp_path, flush_seconds=0.05)
    rec.add(entry("now"))
    deadline = time.monotonic() + 10
    while len(svc.gaps()) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    rec.close()
    assert set(svc.records()) == {"from a dead kernel", "now"}
    [gap] = svc.gaps()
    assert gap["since"] == dead["at"] and gap["delayed"] == 2 and "ended" in gap["reason"]
    assert not list(spool.glob("*.jsonl"))


def test_a_cell_runs_at_once_when_the_service_hangs(tmp_path: Path) -> None:
    """A service that holds the call: every hook has returned while the service still holds it unanswered."""
    arrived, release, answered = threading.Event(), threading.Event(), threading.Event()

    class Hanging(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            arrived.set()
            release.wait(30)
            self.send_response(201)
            self.end_headers()
            answered.set()

    with loopback_service(Hanging) as port:
        rec = rec_mod.Recorder(rec_mod.http_post(f"http://127.0.0.1:{port}/", "t", timeout=60), tmp_path / "spool",
                               flush_seconds=0.01)
        hook = rec_mod.cell_hook(rec, SimpleNamespace(execution_count=1))
        hook(SimpleNamespace(raw_cell="x = 0"))
        assert arrived.wait(10)  # the sender is in its call now, and the service does not answer
        for i in range(1, 50):
            hook(SimpleNamespace(raw_cell=f"x = {i}"))
        assert not answered.is_set() and len(rec.queue) >= 1
        release.set()
        rec.close(timeout=10)


@pytest.mark.parametrize("broken", ["post", "info", "queue"])
def test_a_hook_never_raises_into_the_kernel(tmp_path: Path, broken: str) -> None:
    def bad_post(_body: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    rec = rec_mod.Recorder(bad_post if broken == "post" else Service().post, tmp_path / "spool", flush_seconds=0.01)
    if broken == "queue":
        rec.queue = None  # type: ignore[assignment]
    hook = rec_mod.cell_hook(rec, SimpleNamespace(execution_count=1))
    hook(object() if broken == "info" else SimpleNamespace(raw_cell="x = 1"))
    rec.close(timeout=1)
    if broken == "queue":
        assert rec.dropped == 1


def test_no_address_or_token_means_every_record_waits_and_nothing_raises(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENCLAVE_RECORD_URL", raising=False)
    monkeypatch.setattr(rec_mod, "SPOOL_DIR", tmp_path / "spool")
    rec = rec_mod.Recorder(None, tmp_path / "spool")
    rec.step([entry("a")])
    assert rec.down_since is not None and rec.delayed == 1


def test_the_terminal_hook_records_entered_lines_and_passes_every_message_on(tmp_path: Path) -> None:
    svc = Service()
    rec = recorder(svc, tmp_path, flush_seconds=0.05)
    passed: list[str] = []
    on_message = rec_mod.terminal_hook(rec)(lambda _self, msg: passed.append(msg))
    term = SimpleNamespace(term_name="1")
    keys = ["ls /dat", "a\r", "rm -rf x\x7fy\r", "oops\x03", "\x1b[A\r", "echo hi\x15cat notes.txt\r",
            "\x1b[200~python run.py\npwd\x1b[201~\r"]
    for k in keys:
        on_message(term, json.dumps(["stdin", k]))
    on_message(term, "not json")  # still passed on, never raised
    on_message(term, json.dumps(["set_size", 24, 80]))
    assert len(passed) == len(keys) + 2
    rec.close(timeout=10)  # what the sender thread has not sent yet goes now
    assert svc.records() == ["ls /data", "rm -rf y", "cat notes.txt", "python run.py", "pwd"]
    assert all(r["kind"] == "terminal" and r["session"] == "1" for b in svc.bodies for r in b["records"])


def test_the_notice_follows_the_workspaces_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_LANG", "zh-CN")
    assert "本会话会被记录" in rec_mod.notice()
    monkeypatch.setenv("ENCLAVE_LANG", "en")
    assert rec_mod.notice().startswith("This session is recorded")
