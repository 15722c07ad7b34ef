"""Small counts in forms the digit-and-column-name checks missed: counts written as words (English and
Chinese numerals) and percentages whose denominator is nowhere in sight, in prose and in table columns."""

from __future__ import annotations

import pytest

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def details(name: str, data: bytes) -> list[str]:
    return [f.detail for f in scan_bytes(name, data, POLICY).findings]


@pytest.mark.parametrize("text", [
    "In group A there were three patients with HIV.",
    "Two HIV deaths were recorded in ward 7.",
    "A组有三名患者死亡。",
    "B组有两名，C组十二例。",
    "A组有3 名患者。",
])
def test_small_counts_written_as_words_go_to_review(text):
    result = scan_bytes("notes.txt", text.encode(), POLICY)
    assert result.verdict == Verdict.REVIEW
    assert any("small count" in f.detail for f in result.findings)


def test_large_counts_written_as_words_are_not_small():
    assert scan_bytes("notes.txt", "共有二十名患者。Twenty patients were followed up.".encode(),
                      POLICY).verdict == Verdict.PASS


def test_a_percentage_of_people_without_a_denominator_goes_to_review():
    assert any("without its denominator" in d for d in details("notes.txt", b"Of the patients in ward 7, 33.3% died."))
    assert any("without its denominator" in d for d in details("notes.txt", "病房7的患者中33.3%死亡。".encode()))


def test_a_percentage_with_its_denominator_or_a_confidence_level_is_not_that_finding():
    for text in (b"Of 1,200 patients, 33.3% died.", b"The odds ratio was 1.4 (95% CI 1.1 to 1.8) in patients.",
                 b"33.3% of patients (n = 1200) died."):
        assert not any("without its denominator" in d for d in details("notes.txt", text)), text


@pytest.mark.parametrize("name", ["percent", "pct_of_total"])
def test_a_percentage_column_with_no_counts_or_denominator_goes_to_review(name):
    result = scan_bytes("t.csv", f"group,{name}\na,33.3\nb,66.7\n".encode(), POLICY)
    assert result.verdict == Verdict.REVIEW
    assert any("without its denominator" in f.detail for f in result.findings)


def test_a_count_stated_in_an_svg_bars_title_or_label_is_checked_as_a_count():
    chart = b'<svg xmlns="http://www.w3.org/2000/svg"><rect height="3"><title>count=3</title></rect></svg>'
    result = scan_bytes("chart.svg", chart, POLICY)
    assert result.verdict == Verdict.REVIEW and any("a small count" in f.detail for f in result.findings)
    large = b'<svg xmlns="http://www.w3.org/2000/svg"><text>n = 120</text><text>count: 45</text></svg>'
    assert scan_bytes("chart.svg", large, POLICY).verdict == Verdict.PASS


def test_a_small_group_size_stated_in_a_label_cell_is_a_small_count():
    result = scan_bytes("t.csv", b"group,mean_age\na (n=3),54.2\nb (n=120),60.1\n", POLICY)
    assert result.verdict == Verdict.BLOCK and any("a (n=3)" in f.detail for f in result.findings)
    assert scan_bytes("t.csv", b"group,mean_age\na (n=30),54.2\nb (n=120),60.1\n", POLICY).verdict == Verdict.PASS
