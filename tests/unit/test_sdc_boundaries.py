"""Disclosure-control rules at their boundaries, from both sides, through the public scan entry point.

Every rule is tried at its limit − 1, at the limit and at the limit + 1 (or just below/at/above for ratios), with
the limits read from the shipped policy, so an off-by-one (`<` for `<=`) or a flipped comparison fails a test.
"""

from __future__ import annotations

from typing import Any

import pytest

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies
from policies.schema import EgressPolicy

POLICY = load_policies(REPO_ROOT / "policies").egress
SDC = POLICY.sdc
SDC_CHECK = "disclosure-control"


def with_sdc(**changes: Any) -> EgressPolicy:
    return POLICY.model_copy(update={"sdc": SDC.model_copy(update=changes)})


OPENSAFELY = with_sdc(mode="opensafely")


def findings(name: str, data: bytes, policy: EgressPolicy = POLICY, check: str = SDC_CHECK) -> list[tuple[str, str]]:
    """(verdict, rule) of the findings of one check."""
    return [(f.verdict.value, f.rule or "") for f in scan_bytes(name, data, policy).findings if f.check == check]


def count_table(value: int, column: str = "n") -> bytes:
    return f"group,{column}\nA,{value}\n".encode()


def rules_of(found: list[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    return [f for f in found if f[1].startswith(prefix)]


def test_policy_limits_are_the_ones_these_tests_assume():
    # the boundary values below are derived from the policy; this only guards the relations between them
    assert SDC.mode == "threshold" and SDC.zeros_disclosive
    assert SDC.redact_at_or_below + 1 < SDC.threshold
    assert (SDC.redact_at_or_below + 1) % SDC.rounding_base  # the first unredacted count is not a multiple


# --- small counts, threshold mode ---------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "blocked"), [
    (1, True), (SDC.threshold - 1, True), (SDC.threshold, False), (SDC.threshold + 1, False), (1000, False)])
def test_threshold_mode_blocks_counts_below_the_threshold_only(count: int, blocked: bool):
    found = findings("t.csv", count_table(count))
    expected = [("block", f"threshold>={SDC.threshold}")] if blocked else []
    assert rules_of(found, "threshold") == expected
    assert found == expected  # no other disclosure rule fires on a plain count


@pytest.mark.parametrize("column", ["n", "count", "cases", "patients", "人数", "例数", "deaths_n", "icu_count"])
def test_every_count_column_name_is_checked(column: str):
    assert findings("t.csv", count_table(SDC.threshold - 1, column)) == [("block", f"threshold>={SDC.threshold}")]


@pytest.mark.parametrize("column", ["age", "value", "year"])
def test_columns_that_are_not_counts_are_not_checked(column: str):
    assert findings("t.csv", count_table(3, column)) == []


def test_each_small_cell_of_a_table_is_reported_with_its_row():
    data = f"group,n\nA,{SDC.threshold}\nB,{SDC.threshold - 1}\nC,{SDC.threshold + 1}\nD,2\n".encode()
    rows = [f.location["row"] for f in scan_bytes("t.csv", data, POLICY).findings if f.check == SDC_CHECK]
    assert rows == [2, 4]


@pytest.mark.parametrize(("zeros_disclosive", "expected"), [(True, [("block", "zeros")]), (False, [])])
def test_zero_counts_follow_the_zeros_setting(zeros_disclosive: bool, expected: list[tuple[str, str]]):
    assert findings("t.csv", count_table(0), with_sdc(zeros_disclosive=zeros_disclosive)) == expected


def test_zero_counts_follow_the_zeros_setting_in_opensafely_mode():
    assert findings("t.csv", count_table(0), OPENSAFELY) == [("block", "zeros")]
    assert findings("t.csv", count_table(0), with_sdc(mode="opensafely", zeros_disclosive=False)) == []


def test_a_file_with_a_small_count_is_blocked_as_a_whole():
    assert scan_bytes("t.csv", count_table(SDC.threshold - 1), POLICY).verdict == Verdict.BLOCK
    assert scan_bytes("t.csv", count_table(SDC.threshold), POLICY).verdict == Verdict.PASS


# --- OpenSAFELY mode: redact <= 7, round the rest to 5 -----------------------------------------------------

R, BASE = SDC.redact_at_or_below, SDC.rounding_base
REDACT, ROUND = f"redact<={R}", f"round-to-{BASE}"


@pytest.mark.parametrize(("count", "expected"), [
    (1, [("block", REDACT)]),
    (R - 1, [("block", REDACT)]),
    (R, [("block", REDACT)]),
    (R + 1, [("block", ROUND)]),  # no longer redacted, but 8 is not a multiple of 5
    (BASE, [("block", REDACT)]),  # a multiple of 5 that is still small: redact wins
    (2 * BASE - 1, [("block", ROUND)]),
    (2 * BASE, []),
    (2 * BASE + 1, [("block", ROUND)]),
    (3 * BASE, []),
    (100 * BASE, []),
    (100 * BASE + 1, [("block", ROUND)]),
])
def test_opensafely_mode_redacts_small_counts_and_requires_rounding(count: int, expected: list[tuple[str, str]]):
    assert findings("t.csv", count_table(count), OPENSAFELY) == expected


def test_opensafely_mode_does_not_apply_the_threshold_and_threshold_mode_does_not_round():
    between = SDC.threshold + 1  # 11: above the threshold, not a multiple of 5
    assert findings("t.csv", count_table(between)) == []
    assert findings("t.csv", count_table(between), OPENSAFELY) == [("block", ROUND)]
    assert findings("t.csv", count_table(SDC.threshold), OPENSAFELY) == []  # 10: unredacted, rounded


def test_a_project_with_opensafely_rules_gets_them():
    policy = POLICY.model_copy(update={"project_sdc": {"os-study": OPENSAFELY.sdc}})
    assert findings("t.csv", count_table(R + 1), policy.for_project("os-study")) == [("block", ROUND)]
    assert findings("t.csv", count_table(R + 1), policy.for_project("other")) == [
        ("block", f"threshold>={SDC.threshold}")]


# --- dominance (n, k) and p% ----------------------------------------------------------------------------------

def contributors(total: int, top1: int, top2: int | None = None) -> bytes:
    if top2 is None:
        return f"cell,total,top1\nA,{total},{top1}\n".encode()
    return f"cell,total,top1,top2\nA,{total},{top1},{top2}\n".encode()


DOMINANCE = f"dominance n={SDC.dominance_n} k={SDC.dominance_k}"
P_RULE = f"p%={SDC.p_percent}"


def test_default_dominance_and_p_limits():
    # the exact ratios below are written for k = 0.9 and p = 0.1
    assert (SDC.dominance_n, SDC.dominance_k, SDC.p_percent) == (2, 0.9, 0.1)


@pytest.mark.parametrize(("top1", "top2", "blocked"), [
    (60, 29, False),  # 89 % of 100
    (60, 30, True),   # exactly 90 %: the rule is "make at least k"
    (60, 31, True),   # 91 %
    (89, 0, False),
    (90, 0, True),
    (45, 45, True),   # two equal contributors together
])
def test_dominance_at_below_and_above_k(top1: int, top2: int, blocked: bool):
    found = rules_of(findings("t.csv", contributors(100, top1, top2)), "dominance")
    assert found == ([("block", DOMINANCE)] if blocked else [])


def test_dominance_without_a_top2_column_blocks_on_the_largest_alone_and_reviews_what_it_cannot_settle():
    # n = 2: the largest alone at k blocks; below k the unseen second contributor may make up the rest
    assert rules_of(findings("t.csv", contributors(100, 90)), "dominance") == [("block", DOMINANCE)]
    assert rules_of(findings("t.csv", contributors(100, 89)), "dominance") == [("review", DOMINANCE)]
    # top1 = 40 of 100: the second is at most 40, so the top two make at most 80 % < k
    assert rules_of(findings("t.csv", contributors(100, 40)), "dominance") == []


@pytest.mark.parametrize(("n", "row", "verdict"), [
    (1, "100,90,5", "block"),     # n = 1: the largest alone is 90 %
    (1, "100,89,9", None),        # the top two make 98 %, but n = 1 asks of the largest only
    (3, "100,60,20,10", "block"), # n = 3: 60 + 20 + 10 = 90 %
    (3, "100,60,20,9", None),     # 89 %
    (3, "100,60,25", "review"),   # top3 not shown: at most 60 + 25 + 15 = 100 %, at least 85 %
    (3, "100,40,20", None),       # at most 40 + 20 + 20 = 80 %
])
def test_dominance_uses_the_policy_n_not_always_two(n: int, row: str, verdict: str | None):
    cols = ["total", *(f"top{i}" for i in range(1, row.count(",") + 1))]
    data = f"cell,{','.join(cols)}\nA,{row}\n".encode()
    found = rules_of(findings("t.csv", data, with_sdc(dominance_n=n)), "dominance")
    assert found == ([(verdict, f"dominance n={n} k={SDC.dominance_k}")] if verdict else [])


def test_a_cell_with_no_more_contributors_than_n_fails_dominance_whatever_its_values():
    data = b"cell,total,top1,top2,n_contributors\nA,100,50,50,2\nB,100,30,20,12\n"
    found = [f for f in scan_bytes("t.csv", data, POLICY).findings if (f.rule or "").startswith("dominance")]
    assert [(f.verdict.value, f.location["row"]) for f in found] == [("block", 1)]


# With k = 0.9, every cell that fails p % also fails dominance; k = 1.0 (only a total made entirely by the top
# two) isolates p %: (total - top1 - top2) / top1 < p.
P_ONLY = with_sdc(dominance_k=1.0)


@pytest.mark.parametrize(("total", "top1", "top2", "verdict"), [
    (54, 50, None, "block"),    # whatever the second holds, the remainder is at most 4 / 50 = 8 %
    (55, 50, None, "review"),   # at most 10 %, but the second may hold all of the 5: top2 is needed
    (200, 50, None, None),      # the remainder is at least 200 - 50 - 50 = 100 / 50: far above p
    (84, 50, 30, "block"),      # (84 - 50 - 30) / 50 = 8 %
    (85, 50, 30, None),         # exactly 10 %: not below p
    (86, 50, 30, None),         # 12 %
])
def test_p_percent_rule_at_below_and_above_p(total: int, top1: int, top2: int | None, verdict: str | None):
    found = findings("t.csv", contributors(total, top1, top2), P_ONLY)
    assert rules_of(found, "p%") == ([(verdict, "p%=0.1")] if verdict else [])
    if top2 is not None:  # without top2, (n, k) with k = 1 cannot be settled either: it goes to review
        assert rules_of(found, "dominance") == []


def test_p_percent_and_dominance_each_name_their_rule_under_the_default_policy():
    found = findings("t.csv", contributors(54, 50))
    assert ("block", DOMINANCE) in found and ("block", P_RULE) in found


def test_negative_contributions_make_dominance_a_matter_for_review():
    assert findings("t.csv", contributors(100, -5, 3)) == [("review", "dominance")]
    assert findings("t.csv", contributors(100, 50, -1)) == [("review", "dominance")]


def test_cells_without_a_positive_total_are_not_judged_by_dominance():
    assert rules_of(findings("t.csv", contributors(0, 0)), "dominance") == []
    assert rules_of(findings("t.csv", contributors(-10, 5)), "dominance") == []


def test_dominance_is_checked_per_row():
    data = b"cell,total,top1,top2\nA,100,10,10\nB,100,95,1\nC,100,20,20\n"
    rows = [f.location["row"] for f in scan_bytes("t.csv", data, POLICY).findings if (f.rule or "") == DOMINANCE]
    assert rows == [2]


# --- residual degrees of freedom ----------------------------------------------------------------------------

MIN_DF = SDC.min_residual_df


@pytest.mark.parametrize(("df", "blocked"), [(0, True), (MIN_DF - 1, True), (MIN_DF, False), (MIN_DF + 1, False)])
@pytest.mark.parametrize("label", ["Df Residuals: {}", "df_resid = {}", "residual degrees of freedom {}",
                                   "残差自由度: {}"])
def test_regressions_need_the_minimum_residual_degrees_of_freedom(df: int, blocked: bool, label: str):
    text = f"OLS Regression Results\nDep. Variable: y\n{label.format(df)}\nR-squared: 0.41\n".encode()
    expected = [("block", f"residual_df>={MIN_DF}")] if blocked else []
    assert findings("model.txt", text) == expected


# --- row cap and identifying columns (row-level extracts) ----------------------------------------------------

CAP = POLICY.row_cap


@pytest.mark.parametrize(("rows", "blocked"), [(CAP - 1, False), (CAP, False), (CAP + 1, True)])
def test_row_cap_blocks_tables_longer_than_the_cap(rows: int, blocked: bool):
    data = ("band,value\n" + "a,1\n" * rows).encode()
    found = rules_of(findings("t.csv", data, check="row-level"), "row_cap")
    assert found == ([("block", f"row_cap={CAP}")] if blocked else [])


@pytest.mark.parametrize(("rows", "distinct", "blocked"), [
    (19, 19, False),  # fewer than 20 rows: too few to call a column identifying
    (20, 20, True),
    (20, 19, True),   # exactly 95 % distinct
    (20, 18, False),  # 90 %
    (40, 38, True),
    (40, 37, False),
])
def test_text_columns_of_almost_all_distinct_record_numbers_identify_records(rows: int, distinct: int, blocked: bool):
    values = [f"P{100000 + i % distinct}" for i in range(rows)]  # record-number-like: letters and 6+ digits
    data = ("label,band\n" + "".join(f"{v},x\n" for v in values)).encode()
    found = rules_of(findings("t.csv", data, check="row-level"), "identifying-column")
    assert found == ([("block", "identifying-column")] if blocked else [])


def test_distinct_values_that_do_not_look_like_record_numbers_do_not_identify_records():
    data = ("label,band\n" + "".join(f"site {i},x\n" for i in range(40))).encode()
    assert rules_of(findings("t.csv", data, check="row-level"), "identifying-column") == []


@pytest.mark.parametrize("column", ["patient_id", "person_id", "subjectid", "id", "mrn", "身份证号", "病案号"])
def test_identifier_column_names_mark_a_row_level_extract_whatever_the_values(column: str):
    data = f"{column},band\n1,a\n1,b\n".encode()
    assert ("block", "identifying-column") in findings("t.csv", data, check="row-level")
