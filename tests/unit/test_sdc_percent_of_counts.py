"""A percentage beside the one count column of its table is a share of that count: 2 % of 200 patients is
4 people. Shares that are the count column's own composition, changes over time and rates per 100,000 (of a
population the table does not give) give back no new count and are no finding."""

from __future__ import annotations

import pytest

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def small(csv: str) -> list[str]:
    result = scan_bytes("t.csv", csv.encode(), POLICY)
    return [f.detail for f in result.findings if f.rule == "threshold>=10" and f.verdict == Verdict.BLOCK]


@pytest.mark.parametrize(("header", "shares"), [
    ("region,patients,pct_readmitted", ("2.0", "12.3", "20.0")),
    ("region,n,percent", ("2.0", "12.3", "20.0")),
    ("region,patients,readmitted (%)", ("2.0", "12.3", "20.0")),
    ("地区,患者数,再入院率(%)", ("2.0", "12.3", "20.0")),
    ("region,patients,readmission_rate", ("0.02", "0.123", "0.2")),  # proportions written as fractions
])
def test_a_percentage_of_the_count_on_its_row_is_turned_back_into_a_count(header: str, shares: tuple[str, ...]):
    north, south, east = shares
    found = small(f"{header}\nNorth,200,{north}\nSouth,310,{south}\nEast,150,{east}\n")
    assert len(found) == 1 and found[0].startswith("count 4 below threshold 10"), found


@pytest.mark.parametrize(("pct", "flagged"), [("4.5", True), ("5.0", False), ("5.5", False)])
def test_the_count_a_percentage_gives_back_is_checked_at_the_threshold(pct: str, flagged: bool):
    """4.5 % of 200 is 9 (below 10), 5 % is 10 (at it), 5.5 % is 11."""
    found = small(f"region,patients,pct_readmitted\nNorth,200,{pct}\nSouth,310,40.0\n")
    assert bool(found) is flagged, found


@pytest.mark.parametrize("csv", [
    "age_band,n,percent\n18-39,120,24.0\n40-59,230,46.0\n60+,150,30.0\n",  # the composition of n
    "group,n,percent\nrare,20,5.0\ncommon,380,95.0\n",  # 5 % of 20 would be 1, but 5 % is 20 of 400
    "age_band,n,percent\n18-39,120,24.0\n40-59,230,46.0\n60+,150,30.0\nTotal,500,100.0\n",
    "科室,人数,构成比(%)\n内科,120,24.0\n外科,230,46.0\n儿科,150,30.0\n",
    "year,admissions,growth_pct\n2021,1500,0.4\n2022,1506,0.4\n2023,1600,6.2\n",  # a change, not a share
    # 12.3 % of 22 is no whole number of people (3/22 = 13.6 %): a survival estimate, not a share
    "stage,n,five_year_survival_pct\n1,120,88.1\n2,85,71.0\n3,40,40.2\n4,22,12.3\n",
    "region,cases,rate_per_100000\nNorth,120,3.1\nSouth,340,5.6\n",  # of a population not in the table
    "region,patients,mortality_pct,ci_lower_pct\nNorth,200,30.0,2.0\nSouth,310,25.0,21.0\n",
])
def test_shares_that_give_back_no_new_count_are_no_finding(csv: str):
    assert scan_bytes("t.csv", csv.encode(), POLICY).verdict == Verdict.PASS


def test_with_two_count_columns_the_denominator_is_not_guessed():
    """'cases' or 'tested'? Guessing would invent counts; the named-denominator rule still applies."""
    assert small("site,tested,cases,positivity_pct\nA,400,80,20.0\nB,300,27,9.0\n") == []


def _bracket_findings(csv: str) -> list[tuple[str, str]]:
    result = scan_bytes("t1.csv", csv.encode(), POLICY)
    return [(f.verdict, f.rule) for f in result.findings if f.rule in ("unexplained-bracket", "threshold>=10")]


@pytest.mark.parametrize(("cell", "expected"), [
    ("3 (4.6)", [(Verdict.REVIEW, "unexplained-bracket")]),   # 3 of 240 is 1.3 %: the bracket is another share
    ("9 (4.6)", [(Verdict.REVIEW, "unexplained-bracket")]),   # below the threshold of 10
    ("10 (4.6)", []),                                         # at the threshold: a count of 10 may go out
    ("3 (1.3)", [(Verdict.BLOCK, "threshold>=10")]),          # 3 of 240 is 1.3 %: a count, and small
])
def test_a_small_number_whose_bracket_is_no_share_of_the_stated_group_goes_to_review(cell: str, expected: list):
    found = _bracket_findings(f"Characteristic,Cases (n=240),Controls (n=260)\nSmokers,{cell},120 (46.2)\n")
    assert found == expected, found


@pytest.mark.parametrize("row", ["\"Visits, mean (SD)\"", "Visits median (IQR)", "就诊次数 均值±标准差"])
def test_a_row_that_says_it_holds_a_statistic_is_not_asked_about(row: str):
    assert _bracket_findings(f"Characteristic,Cases (n=240),Controls (n=260)\n{row},3 (4.6),120 (46.2)\n") == []


def test_without_a_stated_group_size_a_bracket_is_not_asked_about():
    assert _bracket_findings("Characteristic,Cases,Controls\nSmokers,3 (4.6),120 (46.2)\n") == []
