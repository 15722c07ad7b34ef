"""Long logs are read like a table column: the work grows with what could hold personal data, not with lines.

Speed itself is measured in benchmarks/egress_text_scan.py; these tests count the work the slow parts do
(libphonenumber's matcher, the per-text analysis), which does not depend on the machine's load.
"""

from __future__ import annotations

import base64
import random

import phonenumbers
import polars as pl
import pytest

import egress_review.checks as checks
from egress_review import filetypes
from egress_review.extract import Segment
from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.pii import engine
from enclave.pii.normalize import decoded_texts, expand_scientific
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress.model_copy(update={"max_file_bytes": 10**9})


def numeric_log(size: int, seed: int = 3) -> bytes:
    """A training log: a time stamp and six-digit numbers on every line (no personal data)."""
    rng = random.Random(seed)
    lines, total, step = [], 0, 0
    while total < size:
        step += 1
        line = (f"2026-11-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
                f"{rng.randint(0, 59):02d} INFO step {step} loss={rng.random():.4f} batch {rng.randint(100000, 999999)}"
                f" took {rng.randint(100000, 999999)} us")
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def matcher_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text libphonenumber's matcher is asked to read during the test."""
    calls: list[str] = []
    real = phonenumbers.PhoneNumberMatcher

    def counting(text: str, *args: object, **kwargs: object) -> phonenumbers.PhoneNumberMatcher:
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(engine.phonenumbers, "PhoneNumberMatcher", counting)
    engine._phone_in.cache_clear()
    return calls


def test_a_4_mb_numeric_log_asks_libphonenumber_about_few_windows_not_every_line(matcher_calls: list[str]) -> None:
    data = numeric_log(4_000_000)
    lines = data.count(b"\n")
    result = scan_bytes("train.log", data, POLICY)
    assert not [f for f in result.findings if f.check == "personal-data"]
    # time stamps are asked once per day, hour and "time stamp" tail; six-digit numbers are too short to ask
    assert len(matcher_calls) < lines / 20, (len(matcher_calls), lines)


def test_log_lines_with_six_digit_numbers_are_not_handed_to_the_phone_recogniser() -> None:
    for text in ("batch 166172 took 367459 us", "2026-11-05 12:36:54 INFO step 1"):
        assert not engine._may_hold_phone(text), text


def test_a_phone_number_in_a_long_log_is_still_found() -> None:
    data = numeric_log(200_000) + b"2026-11-05 12:36:54 INFO call back 020 7946 0958 or +44 20 7946 0018\n"
    data += b"2026-11-05 12:37:00 INFO patient mobile 13812345678\n"
    found = [f for f in scan_bytes("train.log", data, POLICY).findings if f.check == "personal-data"]
    lines = {f.location["line"] for f in found}
    assert lines == {data.count(b"\n") - 1, data.count(b"\n")}, [(f.message, f.location) for f in found]


def test_each_distinct_line_is_analysed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    real = checks.analyze
    monkeypatch.setattr(checks, "analyze", lambda text, *a: read.append(text) or real(text, *a))
    line = "Seen by Dr Wang Fang at 14:00, call 13812345678"
    found = checks.pii_in_segments([Segment(line, {"line": n}) for n in range(1, 501)])
    assert len(read) == 1
    assert {f.location["line"] for f in found} == set(range(1, 501))


def test_text_the_recognisers_cannot_finish_within_the_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "CHECK_SECONDS", -1.0)
    found = checks.pii_in_segments([Segment("call 13812345678", {"line": 1})])
    assert [(f.verdict, f.rule) for f in found] == [(Verdict.BLOCK, "max_check_seconds=-1")]


def test_the_text_checks_look_at_the_files_clock_while_they_read() -> None:
    class Spent(Exception):
        pass

    def clock() -> None:
        raise Spent

    with pytest.raises(Spent):
        checks.pii_in_segments([Segment("call 13812345678", {"line": 1})], clock=clock)


def test_a_file_is_decoded_once_for_detection_rebuild_and_reading() -> None:
    filetypes._decoded.cache_clear()  # decode_text's reading, with the encoding it was read in
    data = numeric_log(50_000).replace(b" INFO ", b",INFO,")
    scan_bytes("train.csv", data, POLICY)
    info = filetypes._decoded.cache_info()
    assert info.misses <= 2 and info.hits >= 1, info  # the submitted bytes and, if they differ, the rebuilt ones


def test_markup_is_recognised_from_the_head_of_the_text_as_before() -> None:
    assert filetypes.detect(b"  \n<!DOCTYPE html><p>x</p>" + b"a,b\n" * 100_000) == "html"
    assert filetypes.detect("İ".encode() * 1990 + b"<body>", "x.txt") == "txt"  # lower() lengthens the text
    assert filetypes.detect(b"x" * 1990 + b"<BODY>") == "html"


def test_every_text_a_decoder_reads_passes_the_blob_gate() -> None:
    rng = random.Random(3)
    texts = []
    for _ in range(400):
        raw = "".join(rng.choice("0123456789") for _ in range(rng.randint(8, 20))).encode()
        texts += [f"x {base64.b64encode(raw).decode()} y", base64.b32encode(raw).decode().lower(),
                  base64.b32encode(raw).decode(), " ".join(f"{b:02x}" for b in raw), raw.hex(),
                  ", ".join(str(b) for b in raw), "".join(f"\\{b:o}" for b in raw), base64.b85encode(raw).decode(),
                  base64.a85encode(raw, adobe=True).decode(), f"v={rng.randint(1, 9)}.{rng.randint(10**6, 10**9)}e+17"]
    decoded = [t for t in texts if decoded_texts(t) or expand_scientific(t)]
    gate = pl.Series(decoded).str.contains(checks.BLOB_GATE).to_list()
    assert len(decoded) > len(texts) / 2 and all(gate)
    assert not pl.Series(["2026-11-01 00:00:01 INFO step 1 loss=0.4524"]).str.contains(checks.BLOB_GATE).item()


def test_the_prose_gate_keeps_every_line_the_prose_count_checks_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from egress_review import sdc

    lines = ["n = 4 in the smallest arm", "3 patients died", "死亡3例", "three patients withdrew", "两例失访",
             "the oldest was 97", "maximum age 101", "年龄最大者 99 岁", "33.3% died", "N=7", "12 cases, 2 deaths",
             "2026-11-01 00:00:01 INFO step 1 loss=0.4524 batch 686963 took 998485 us"]
    segments = [Segment(t, {"line": i}) for i, t in enumerate(lines, 1)]
    assert [s.text for s in sdc._worth_reading(segments, sdc._prose_gate())] == lines[:-1]  # the log line is not read
    gated = [(f.rule, f.location) for f in sdc.counts_in_prose(segments, POLICY.sdc)]
    monkeypatch.setattr(sdc, "_worth_reading", lambda segments, gate: list(segments))  # every line read
    assert gated == [(f.rule, f.location) for f in sdc.counts_in_prose(segments, POLICY.sdc)] and len(gated) >= 8


def test_the_residual_df_gate_keeps_every_regression_summary_line() -> None:
    from egress_review import sdc

    lines = ["Df Residuals:  3", "df_resid = 4", "Residual standard error: 1.2 on 5 degrees of freedom",
             "F-statistic: 3.1 on 2 and 6 DF,  p-value: 0.1", "残差自由度: 2", "2026-11-01 INFO step 1 loss=0.45"]
    found = sdc.residual_df([Segment(t, {"line": i}) for i, t in enumerate(lines, 1)], POLICY.sdc)
    assert sorted(f.location["line"] for f in found) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("text", ["Contact via wechat: zhang_xm1988 for follow-up.", "skype: john.smith.77 ok",
                                  "social security number: ab12cd34ef", "line id: mary_lee"])
def test_a_labelled_identifier_without_digits_or_capitals_in_plain_text_is_caught(text):
    # the text gate of the analysis used to drop what only a label makes a candidate
    found = scan_bytes("notes.txt", text.encode(), POLICY).to_dict()["findings"]
    assert [f["check"] for f in found] == ["personal-data"], found
