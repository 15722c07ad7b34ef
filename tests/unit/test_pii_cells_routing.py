"""Which reader each table cell and each text gets in egress_review/checks.py, with whole results: free text
in a cell (longer than FREE_TEXT characters, with a name in it and spaces) is read by `engine.analyze`, presidio's
phone, e-mail and SSN recognisers included; every other cell by our recognisers alone (`engine.quick`); a cell
longer than one chunk is read whole. Texts (log lines, dropped metadata) are decoded where Python reads an
encoding, and the time they may take is checked every 64 distinct texts. Found untested by the mutation
benchmark (benchmarks/mutation.py): surviving mutants of `_cell_findings`, `_all_texts`, `pii_in_segments`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import polars as pl
import pytest

import egress_review.checks as checks
from egress_review.extract import Segment
from egress_review.findings import Finding
from enclave.pii.engine import CHUNK, analyze, quick
from enclave.pii.recognizers import Match
from tests.identifiers import STANDARD_EXAMPLE

# free text: 72 characters, a titled name, a US phone number only presidio's PhoneRecognizer reads
LETTER = "Dear Ms Jane Doe, please ring our office on (415) 555-2671 before Friday"
# a name and a phone number in exactly FREE_TEXT (40) characters: not yet free text
AT_THE_LIMIT = "Jane Doe rang +1 415 555 2671 at noon".ljust(checks.FREE_TEXT, ".")
SHORT_NAMED = "Jane Doe +1 415 555 2671"  # a name hint, short: our recognisers only
SHORT_SPACED = "+1 415 555 2671"  # spaces, no name: our recognisers only
CHINESE = "张伟 13812345678"
# a discharge note longer than one chunk (CHUNK characters), the resident ID at its end
REPORT = "Patient Li Na was seen by Dr Wang Fang on the ward today. " * (CHUNK // 50) + f"ID {STANDARD_EXAMPLE}."


def cell_findings(found: list[Finding]) -> list[tuple[object, ...]]:
    return [(f.location["row"], f.location["column"], f.entity, f.rule) for f in found
            if "row" in f.location and "joined_with" not in f.location]


def expected(rows: dict[str, list[str]], read: Callable[[str, str], list[Match]]) -> list[tuple[object, ...]]:
    """In row order, then column order, what `read(column, value)` finds in each cell."""
    out: list[tuple[object, ...]] = []
    height = len(next(iter(rows.values())))
    for row in range(height):
        for column, values in rows.items():
            out += [(row + 1, column, str(m.entity), m.rule) for m in read(column, values[row])]
    return out


def test_free_text_cells_are_read_with_presidio_and_every_other_cell_by_our_recognisers_alone() -> None:
    assert len(AT_THE_LIMIT) == checks.FREE_TEXT and len(REPORT) > CHUNK
    for value in (LETTER, AT_THE_LIMIT, SHORT_NAMED, SHORT_SPACED):  # the two readers disagree on each
        assert [(m.entity, m.rule) for m in analyze(value)] != [(m.entity, m.rule) for m in quick(value)], value
    rows = {"note": [LETTER, AT_THE_LIMIT, SHORT_NAMED, SHORT_SPACED, REPORT],
            "contact": [CHINESE, SHORT_SPACED, CHINESE, SHORT_NAMED, "none"]}

    def reader(column: str, value: str) -> list[Match]:
        free = len(value) > checks.FREE_TEXT and " " in value and re.search(checks.NAME_HINT, value) is not None
        return analyze(value) if free else quick(value)

    found = checks.pii_in_table(pl.DataFrame(rows))
    assert cell_findings(found) == expected(rows, reader)
    letter = [f.rule for f in found if f.location.get("row") == 1 and f.location.get("column") == "note"]
    assert "PhoneRecognizer" in letter  # presidio read the letter
    assert not [f for f in found if f.rule == "PhoneRecognizer" and f.location.get("row") in (2, 3, 4)]
    report = [f.entity for f in found if f.location.get("row") == 5 and f.location.get("column") == "note"]
    assert "CN_RESIDENT_ID" in report and "PERSON" in report


def test_a_cell_finding_names_the_kind_and_a_masked_value_never_the_value() -> None:
    found = checks.pii_in_table(pl.DataFrame({"note": [LETTER], "contact": [CHINESE]}))
    cells = [f for f in found if "row" in f.location]
    assert {f.entity for f in cells} >= {"PERSON", "PHONE", "CN_PHONE"}
    values = {m.masked: m.value for v in (LETTER, CHINESE) for m in analyze(v)}
    for f in cells:
        kind, _, masked = f.detail.partition(" ")
        assert kind == f.entity and masked in values and values[masked] not in f.detail


def test_character_codes_split_by_a_unit_separator_python_reads_as_space_are_decoded() -> None:
    # "13812345678" as decimal character codes; after the sixth the separator is ';' and U+001F, which
    # Python's \s matches and polars' does not
    codes = [str(ord(c)) for c in "13812345678"]
    text = "; ".join(codes[:6]) + ";\x1f" + ";\x1f".join(codes[6:])
    found = checks.pii_in_segments([Segment(f"chr {text}", {"line": 3})])
    assert [(f.entity, f.location) for f in found] == [
        ("CN_PHONE", {"line": 3, "decoded": "character-codes", "offset": 0})]


def numbered_texts(n: int) -> list[Segment]:
    """n log lines, each with its own mobile number (each a distinct text the recognisers read)."""
    return [Segment(f"called 139{10_000_000 + i:08d} back", {"line": i + 1}) for i in range(n)]


@pytest.mark.parametrize("texts", [1, 64, 65, 129, 200])
def test_the_files_budget_is_consulted_before_every_64th_distinct_text(texts: int) -> None:
    calls: list[None] = []
    found = checks.pii_in_segments(numbered_texts(texts), clock=lambda: calls.append(None))
    assert len(found) == texts
    assert len(calls) == len(range(0, texts, 64))


def fake_cpu(readings: list[float], then: float) -> Iterator[float]:
    yield from readings
    while True:
        yield then


def test_a_text_checked_exactly_at_the_end_of_its_budget_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = fake_cpu([0.0], checks.CHECK_SECONDS)  # the deadline is set at 0 s; every later reading is the deadline
    monkeypatch.setattr(checks.time, "process_time", lambda: next(cpu))
    found = checks.pii_in_segments(numbered_texts(3))
    assert [(f.entity, f.location["line"]) for f in found] == [("CN_PHONE", 1), ("CN_PHONE", 2), ("CN_PHONE", 3)]


def test_a_refusal_counts_only_the_texts_with_personal_data_read_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # timestamps the pre-filters pick (long digit runs) in which no recogniser finds anything
    lines = [Segment(f"value {20261101000000 + i} seen", {"line": i + 1}) for i in range(100)]
    assert checks.pii_in_segments(lines) == []
    cpu = fake_cpu([0.0, 0.0], checks.CHECK_SECONDS + 1)  # the deadline, the first 64 texts, then past it
    monkeypatch.setattr(checks.time, "process_time", lambda: next(cpu))
    found = checks.pii_in_segments(lines)
    assert [(f.verdict.value, f.rule) for f in found] == [("block", f"max_check_seconds={checks.CHECK_SECONDS:g}")]
    assert "(100 lines or values, 0 with personal data before the check stopped)" in found[0].detail


def test_marking_text_digit_dense_changes_how_the_identifier_filters_run_never_what_they_pick() -> None:
    # `_cell_findings` marks values of at most FREE_TEXT characters digit-dense, `pii_in_segments` every text:
    # the mark only chooses one pass per filter over the filters' alternation first (`identifier_bits`)
    from enclave.pii.prefilter import candidates

    texts = pl.Series("value", [LETTER, AT_THE_LIMIT, SHORT_NAMED, SHORT_SPACED, CHINESE, REPORT, STANDARD_EXAMPLE,
                                f"ID {STANDARD_EXAMPLE} 张伟", "called 13910000001 back", "value 20261101000001 seen",
                                "card 4111 1111 1111 1111", "NHS 943 476 5919", "SSN 078-05-1120", "wechat: anna_k_88",
                                "mail jane.doe@example.org", "2026-11-01 00:00:01 INFO step 1 loss=0.4524",
                                "&#49;&#51;&#56;&#49;&#50;&#51;&#52;&#53;&#54;&#55;&#56;", "n = 4", ""])
    free = texts.str.len_chars() > checks.FREE_TEXT
    picks = [candidates(texts, presidio=free, digit_dense=dense).sort("row")
             for dense in (True, False, texts.str.len_chars() <= checks.FREE_TEXT)]
    assert picks[0].height > len(texts) // 2
    assert picks[0].equals(picks[1]) and picks[0].equals(picks[2])
