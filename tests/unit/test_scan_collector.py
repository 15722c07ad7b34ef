"""A scan pauses CPython's cyclic collector while it checks a file and leaves it as it found it."""

from __future__ import annotations

import gc
import threading

import pytest

from egress_review import scan as scan_module
from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
CSV = b"site,n\nA,12\nB,15\n"


@pytest.fixture
def collector_on():
    """The collector on, as in any process, and back to how the test found it afterwards."""
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_during_a_scan_and_on_again_after_it(collector_on, monkeypatch):
    seen = []
    real = scan_module._scan
    monkeypatch.setattr(scan_module, "_scan", lambda *a: (seen.append(gc.isenabled()), real(*a))[1])
    result = scan_bytes("t.csv", CSV, POLICY)
    assert seen == [False]
    assert gc.isenabled()
    assert result.verdict is Verdict.PASS


def test_a_scan_leaves_a_collector_that_was_off_off(collector_on):
    gc.disable()
    scan_bytes("t.csv", CSV, POLICY)
    assert not gc.isenabled()


def test_a_scan_whose_reader_fails_still_turns_the_collector_back_on(collector_on, monkeypatch):
    def broken(*_a):
        raise RuntimeError("a reader nobody foresaw failing")

    monkeypatch.setattr(scan_module, "_scan", broken)
    result = scan_bytes("t.csv", CSV, POLICY)
    assert result.verdict is Verdict.BLOCK
    assert gc.isenabled()


def test_a_scan_ending_while_another_runs_does_not_turn_the_collector_on_under_it(collector_on, monkeypatch):
    inside, release = threading.Event(), threading.Event()
    seen_after_other_ended = []
    real = scan_module._scan

    def slow(name, *a):
        if name == "slow.csv":
            inside.set()
            release.wait(10)
            seen_after_other_ended.append(gc.isenabled())
        return real(name, *a)

    monkeypatch.setattr(scan_module, "_scan", slow)
    worker = threading.Thread(target=scan_bytes, args=("slow.csv", CSV, POLICY))
    worker.start()
    assert inside.wait(10)
    scan_bytes("quick.csv", CSV, POLICY)  # starts and ends while slow.csv is being checked
    assert not gc.isenabled()
    release.set()
    worker.join(10)
    assert seen_after_other_ended == [False]
    assert gc.isenabled()
