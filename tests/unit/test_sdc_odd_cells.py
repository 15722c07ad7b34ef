"""One odd cell must not switch off the count checks of its column: '0 7', '7x', '7?' or 'see note' in a
column of counts used to make the whole column text, so its '3' was never read. The odd cell is now an
unknown (like a suppressed one) and goes to a reviewer; the column's other counts are checked as ever."""

from __future__ import annotations

import pytest

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from egress_review.sdc import parse_number
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def rules(csv: str) -> list[tuple[str, str, dict]]:
    return [(f.verdict, f.rule, f.location) for f in scan_bytes("t.csv", csv.encode(), POLICY).findings]


@pytest.mark.parametrize("odd", ["0 7", "7x", "7?", "see note", "未报告"])
def test_an_odd_cell_does_not_hide_the_small_counts_beside_it(odd: str):
    found = rules(f"ward,deaths\nA,{odd}\nB,3\nC,120\n")
    assert (Verdict.BLOCK, "threshold>=10", {"row": 2, "column": "deaths"}) in found
    assert (Verdict.REVIEW, "unreadable-count-cell", {"row": 1, "column": "deaths"}) in found


def test_a_column_named_as_counts_filled_with_notes_still_has_its_counts_checked():
    found = rules("ward,deaths\nA,see note\nB,see note\nC,see note\nD,3\nE,120\n")
    assert (Verdict.BLOCK, "threshold>=10", {"row": 4, "column": "deaths"}) in found


def test_an_odd_cell_among_large_counts_goes_to_a_reviewer_not_through():
    result = scan_bytes("t.csv", b"ward,deaths\nA,0 7\nB,30\nC,120\n", POLICY)
    assert result.verdict == Verdict.REVIEW
    assert [(f.rule, f.location) for f in result.findings] == [("unreadable-count-cell",
                                                                {"row": 1, "column": "deaths"})]


@pytest.mark.parametrize(("text", "value"), [("1 234", 1234.0), ("12 345 678", 12345678.0), ("1\u00a0234", 1234.0),
                                             ("1\u202f234", 1234.0), ("0 7", None), ("2023 07", None),
                                             ("1 23", None)])
def test_spaced_thousands_are_read_and_other_spaced_digits_are_not(text: str, value: float | None):
    assert parse_number(text) == value


@pytest.mark.parametrize("csv", [
    "ward,deaths\nA,1 234\nB,30\nC,120\n",  # a count in SI style
    "ward,deaths\nA,—\nB,30\nC,120\n",  # a suppression mark
    "site,site_code,admissions\nA,101,340\nB,102,210\nC,A7,180\n",  # codes are no counts
    "stage,n\n1,120\n2,85\n3,40\nTotal,245\n",  # a total row
    "characteristic,treated\nN,212\nAge mean,61.2\nFemale,101 (47.6%)\n",  # statistics in their own right
    "ward,admissions,comment\nA,120,stable\nB,340,12 beds closed\nC,180,\n",  # a column of notes
])
def test_columns_that_hold_something_else_are_no_finding(csv: str):
    assert scan_bytes("t.csv", csv.encode(), POLICY).verdict == Verdict.PASS, rules(csv)
