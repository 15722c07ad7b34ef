"""The disclosure rules of egress_review/sdc.py called directly, with answers worked out by hand: the paths the
scan reaches only for unusual inputs (tables longer than the cell-by-cell limit, counts in prose and chart
labels, p% without a top2 column) and what each finding says and points at. Found untested by the mutation
benchmark (benchmarks/mutation.py).

The shipped policy's limits: threshold 10; in OpenSAFELY mode counts <= 7 are redacted and the rest rounded
to 5; dominance n = 2, k = 0.9; p% = 0.1; residual df >= 10 (test_sdc_boundaries checks these are the limits).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from egress_review import sdc
from egress_review.extract import Segment
from egress_review.findings import Finding
from enclave.settings import REPO_ROOT
from policies import load_policies
from policies.schema import DisclosureControl

SDC = load_policies(REPO_ROOT / "policies").egress.sdc
OPENSAFELY = SDC.model_copy(update={"mode": "opensafely"})
ZEROS_ALLOWED = SDC.model_copy(update={"zeros_disclosive": False})


def told(found: list[Finding]) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(check, verdict, rule, location) of each finding, in order."""
    return [(f.check, f.verdict.value, f.rule, f.location) for f in found]


# --- tables longer than MAX_CELLWISE_ROWS: the vectorised count check -------------------------------------

def long_table(tail: list[int | None], body: int = 100) -> pl.DataFrame:
    """A count column of 100s with `tail` as its last cells: more than 200 sound cells come first, so a check
    that flagged sound cells too would fill its 200 findings with them and lose the small ones at the end."""
    cells = [body] * (sdc.MAX_CELLWISE_ROWS + 1 - len(tail))
    return pl.DataFrame({"n": pl.Series(cells + tail, dtype=pl.Int64)})


def rows_of_long_table(tail: list[int | None], policy: DisclosureControl, body: int = 100) -> list[tuple[str, int]]:
    """(rule, row) of the findings; the row counted from 1 over the whole table."""
    found = sdc.disclosure_control(long_table(tail, body), policy)
    assert all(f.check == sdc.CHECK and f.verdict.value == "block" and f.location["column"] == "n" for f in found)
    return [(str(f.rule), f.location["row"]) for f in found]


FIRST_TAIL_ROW = sdc.MAX_CELLWISE_ROWS + 1 - 6 + 1  # the row of the first of six tail cells


def test_a_long_table_blocks_counts_below_the_threshold_and_zeros_wherever_they_are():
    # 9, 10, 11, 0, 1, empty: 9 and 1 are below 10, 0 is a zero, the empty cell is no count
    found = rows_of_long_table([9, 10, 11, 0, 1, None], SDC)
    assert found == [("threshold>=10", FIRST_TAIL_ROW), ("zeros", FIRST_TAIL_ROW + 3),
                     ("threshold>=10", FIRST_TAIL_ROW + 4)]


def test_a_long_table_lets_zeros_pass_when_the_policy_allows_them():
    found = rows_of_long_table([9, 10, 11, 0, 1, None], ZEROS_ALLOWED)
    assert found == [("threshold>=10", FIRST_TAIL_ROW), ("threshold>=10", FIRST_TAIL_ROW + 4)]


def test_a_long_table_in_opensafely_mode_redacts_up_to_seven_and_rounds_the_rest_to_five():
    # 1, 5 and 7 must be redacted (5 although a multiple of 5), 8 and 12 are not multiples of 5, 10 passes
    found = rows_of_long_table([1, 5, 7, 8, 10, 12], OPENSAFELY)
    assert found == [("redact<=7", FIRST_TAIL_ROW), ("redact<=7", FIRST_TAIL_ROW + 1),
                     ("redact<=7", FIRST_TAIL_ROW + 2), ("round-to-5", FIRST_TAIL_ROW + 3),
                     ("round-to-5", FIRST_TAIL_ROW + 5)]


@pytest.mark.parametrize("policy", [ZEROS_ALLOWED, OPENSAFELY.model_copy(update={"zeros_disclosive": False})])
def test_allowed_zeros_in_a_long_table_never_crowd_out_a_small_count_after_them(policy: DisclosureControl):
    # 250 zeros, then a 3: the zeros are no findings and take none of the 200 places of the column's findings
    found = rows_of_long_table([0] * 250 + [3], policy)
    assert [row for _, row in found] == [sdc.MAX_CELLWISE_ROWS + 1]


def test_a_long_table_in_opensafely_mode_lets_zeros_pass_when_the_policy_allows_them():
    found = rows_of_long_table([0, 3, 20], OPENSAFELY.model_copy(update={"zeros_disclosive": False}))
    assert found == [("redact<=7", sdc.MAX_CELLWISE_ROWS + 1 - 3 + 2)]


def test_sound_counts_never_crowd_a_small_count_out_of_a_long_tables_findings():
    last = sdc.MAX_CELLWISE_ROWS + 1
    # threshold mode: counts of 101 (no multiple of 5, which only OpenSAFELY mode asks for), 250 counts of exactly 10
    assert rows_of_long_table([9], SDC, body=101) == [("threshold>=10", last)]
    assert rows_of_long_table([10] * 250 + [9], SDC) == [("threshold>=10", last)]


def test_a_long_table_in_opensafely_mode_redacts_a_multiple_of_five_at_the_redaction_limit():
    found = rows_of_long_table([10, 15], OPENSAFELY.model_copy(update={"redact_at_or_below": 10}))
    assert found == [("redact<=10", sdc.MAX_CELLWISE_ROWS)]


def test_a_long_table_lists_at_most_200_small_cells_per_column():
    found = rows_of_long_table([3] * 250, SDC)
    first = sdc.MAX_CELLWISE_ROWS + 1 - 250 + 1
    assert found == [("threshold>=10", row) for row in range(first, first + 200)]


# --- one count --------------------------------------------------------------------------------------------

def test_a_count_names_the_rule_that_recognised_it_only_when_its_column_name_did_not():
    by_name = sdc.count_cell(3, SDC, {"row": 1, "column": "n"})
    assert told(by_name) == [("disclosure-control", "block", "threshold>=10", {"row": 1, "column": "n"})]
    assert by_name[0].detail == "count 3 below threshold 10"
    in_crosstab = sdc.count_cell(3, SDC, {"row": 2, "column": "F"}, "cell of a cross-tabulation",
                                 sdc.SdcRule.CROSSTAB_CELL)
    assert told(in_crosstab) == [("disclosure-control", "block", "threshold>=10",
                                  {"row": 2, "column": "F", "recognised_by": "crosstab-cell"})]
    assert in_crosstab[0].detail == "count 3 below threshold 10 (cell of a cross-tabulation)"


@pytest.mark.parametrize(("count", "policy", "rule", "detail"), [
    (0, SDC, "zeros", "zero count: class disclosure"),
    (7, OPENSAFELY, "redact<=7", "count 7 must be redacted (<= 7)"),
    (8, OPENSAFELY, "round-to-5", "count 8 is not rounded to 5"),
])
def test_a_count_says_which_rule_it_breaks(count: int, policy: DisclosureControl, rule: str, detail: str):
    found = sdc.count_cell(count, policy, {"row": 1, "column": "n"})
    assert [(f.rule, f.detail) for f in found] == [(rule, detail)]
    found = sdc.count_cell(count, policy, {"row": 1, "column": "n"}, "stated in a label")
    assert [(f.rule, f.detail) for f in found] == [(rule, f"{detail} (stated in a label)")]


# --- counted columns, stated group sizes ---------------------------------------------------------------------

def test_a_zero_in_a_missingness_column_is_no_disclosure_but_a_small_count_in_it_is():
    # 5000 rows is the longest table still read cell by cell, where a column of missing values may hold zeros
    df = pl.DataFrame({"n_missing": [100] * (sdc.MAX_CELLWISE_ROWS - 3) + [0, 3, 12]})
    found = sdc.small_counts(df, sdc.columns(df), {"n_missing": "name"}, SDC)
    assert told(found) == [("disclosure-control", "block", "threshold>=10",
                            {"row": sdc.MAX_CELLWISE_ROWS - 1, "column": "n_missing"})]


@pytest.mark.parametrize(("how", "rule", "said"), [
    ("content", "count-by-content", "count column recognised by content"),
    ("crosstab", "crosstab-cell", "cell of a cross-tabulation")])
def test_a_column_counted_by_its_content_or_as_a_crosstab_says_so_in_each_finding(how: str, rule: str, said: str):
    df = pl.DataFrame({"group": ["A", "B"], "x": [40, 4]})
    found = sdc.small_counts(df, sdc.columns(df), {"x": how}, SDC)
    assert told(found) == [("disclosure-control", "block", "threshold>=10",
                            {"row": 2, "column": "x", "recognised_by": rule})]
    assert found[0].detail == f"count 4 below threshold 10 ({said})"


def test_a_column_counted_by_its_name_blocks_below_the_threshold_and_its_finding_says_only_that():
    # 9, 10, 11 around the threshold of 10: only 9 is small; a count recognised by its name needs no word on how
    df = pl.DataFrame({"group": ["A", "B", "C"], "n": [9, 10, 11]})
    found = sdc.small_counts(df, sdc.columns(df), {"n": "name"}, SDC)
    assert [(*told([f])[0], f.detail) for f in found] == [
        ("disclosure-control", "block", "threshold>=10", {"row": 1, "column": "n"}, "count 9 below threshold 10")]


def test_a_long_format_row_labelled_as_a_count_holds_counts_and_says_so():
    df = pl.DataFrame({"group": ["A", "A", "B", "B"], "measure": ["n", "mean", "cases", "pct"],
                       "value": [4.0, 4.0, 12.0, 3.0], "p_value": [0.2, 0.2, 0.04, 0.04]})
    found = sdc.counts_by_row_label(sdc.columns(df), {}, SDC)
    assert told(found) == [("disclosure-control", "block", "threshold>=10",
                            {"row": 1, "column": "value", "recognised_by": "count-by-row-label"})]
    assert found[0].detail == "count 4 below threshold 10 (the row's 'measure' is 'n': a count)"


def label_rows(measures: list[str], values: list[float | None], counted: dict[str, str] | None = None,
               ) -> list[tuple[str | None, int]]:
    """(rule, row) of what counts_by_row_label finds in a (measure, value) table."""
    df = pl.DataFrame({"measure": measures, "value": pl.Series(values, dtype=pl.Float64)})
    return [(f.rule, f.location["row"]) for f in sdc.counts_by_row_label(sdc.columns(df), counted or {}, SDC)]


def test_every_row_labelled_as_a_count_is_read_not_only_those_before_another_label():
    assert label_rows(["mean", "n", "sd", "cases"], [4.0, 4.0, 1.0, 3.0]) == [("threshold>=10", 2),
                                                                            ("threshold>=10", 4)]


@pytest.mark.parametrize(("value", "found"), [
    (0.0, [("zeros", 1)]),  # a zero count: class disclosure
    (4.5, []),              # not a whole number: not a count
    (1e-9, []),             # nor is a hair above zero
    (None, []),             # an empty cell
])
def test_only_whole_non_negative_numbers_of_a_count_row_are_counts(value: float | None, found: list):
    assert label_rows(["n", "cases"], [value, 40.0]) == found


def test_a_row_of_counts_with_their_percentages_is_not_read_as_counts():
    # a row that names a percentage is left to the percentage rules (n_percent_cells reads '12 (3.4%)' cells)
    assert label_rows(["n (%)", "n"], [4.0, 40.0]) == []


def test_a_column_already_checked_as_counts_is_not_checked_again_by_its_row_labels():
    assert label_rows(["n", "cases"], [4.0, 40.0], counted={"value": "name"}) == []


def test_a_suppression_mark_in_a_numeric_column_is_no_row_label():
    # 'n/a*' reads like a count's name, but it is a suppressed cell of x, whose other cells are numbers
    df = pl.DataFrame({"group": ["A", "B"], "x": ["12", "n/a*"], "y": [40, 3]})
    assert sdc.counts_by_row_label(sdc.columns(df), {}, SDC) == []


@pytest.mark.parametrize(("label", "small"), [
    ("Treated (n=9)", 9), ("Treated (n=10)", None), ("Treated (n=11)", None), ("Treated (n=1)", 1), ("n=9", 9),
    ("对照组（3例）", 3), ("Treated (n=1,204)", None), ("Treated", None)])
def test_a_group_size_stated_in_a_label_is_a_count(label: str, small: int | None):
    df = pl.DataFrame({"arm": ["Control (n=120)", label], "mean_age": [51.2, 49.8]})
    found = sdc.group_sizes_in_labels(sdc.columns(df), SDC)
    expected = [("disclosure-control", "block", "threshold>=10", {"row": 2, "column": "arm"})] if small else []
    assert told(found) == expected
    if small:
        assert found[0].detail == f"count {small} below threshold 10 (group size stated in the label '{label}')"


def test_group_sizes_are_read_in_every_label_column_wherever_the_numeric_columns_are():
    df = pl.DataFrame({"mean_age": [51.2, 49.8], "arm": ["Control (n=120)", "Treated (n=4)"]})
    assert told(sdc.group_sizes_in_labels(sdc.columns(df), SDC)) == [
        ("disclosure-control", "block", "threshold>=10", {"row": 2, "column": "arm"})]


# --- small counts in prose -------------------------------------------------------------------------------

def prose(*texts: str, policy: DisclosureControl = SDC) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    return told(sdc.counts_in_prose([Segment(t, {"line": i}) for i, t in enumerate(texts, 1)], policy))


@pytest.mark.parametrize(("n", "small"), [(0, False), (1, True), (9, True), (10, False), (11, False)])
def test_a_count_in_prose_is_small_below_the_threshold(n: int, small: bool):
    expected = [("disclosure-control", "review", "count-in-text", {"line": 1, "offset": 0})] if small else []
    assert prose(f"n = {n}") == expected


@pytest.mark.parametrize(("n", "small"), [(1, True), (7, True), (8, False), (9, False)])
def test_a_count_in_prose_is_small_up_to_the_redaction_limit_in_opensafely_mode(n: int, small: bool):
    expected = [("disclosure-control", "review", "count-in-text", {"line": 1, "offset": 0})] if small else []
    assert prose(f"n = {n}", policy=OPENSAFELY) == expected


def test_each_prose_finding_names_its_rule_says_what_it_saw_and_points_at_it():
    texts = ["Overall, the oldest was 97.", "In all, 3 patients died.", "Then three patients left.", "33.3% died."]
    found = sdc.counts_in_prose([Segment(t, {"line": i}) for i, t in enumerate(texts, 1)], SDC)
    assert told(found) == [
        ("disclosure-control", "review", "min-max", {"line": 1, "offset": 13}),  # at "oldest"
        ("disclosure-control", "review", "count-in-text", {"line": 2, "offset": 8}),
        ("disclosure-control", "review", "count-in-text", {"line": 3, "offset": 5}),
        ("disclosure-control", "review", "percent-without-denominator", {"line": 4, "offset": 0})]
    assert [f.detail for f in found] == [
        "an extreme value in text ('oldest was 9'): one person's value",  # the match ends at the first digit
        "small count in text: '3 patients'", "small count written as words in text: 'three patients'",
        "'33.3%' in text: a percentage without its denominator can hide a small count"]


def test_counts_in_a_notebooks_source_are_skipped_and_its_outputs_after_it_still_read():
    segments = [Segment("n = 3", {"cell": 1, "part": "source"}), Segment("n = 3", {"cell": 1, "part": "output"})]
    assert told(sdc.counts_in_prose(segments, SDC)) == [
        ("disclosure-control", "review", "count-in-text", {"cell": 1, "part": "output", "offset": 0})]


# --- counts in chart labels ------------------------------------------------------------------------------

def chart(*texts: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    return told(sdc.counts_in_chart(list(texts), SDC))


def value_labels(*values: int) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    return [("disclosure-control", "review", "count-in-chart", {"label": str(v)}) for v in values]


def test_a_survival_chart_is_always_reviewed_and_says_what_to_check():
    found = sdc.counts_in_chart(["Survival probability", "Time (days)"], SDC)
    assert told(found) == [("disclosure-control", "review", "survival-review", {})]
    assert found[0].detail == ("survival curve: always reviewed; numbers at risk and steps must hide fewer than the "
                               "threshold")


def test_a_count_a_chart_states_is_small_below_the_threshold_and_points_at_its_label():
    label = "count=3 " + "x" * 80
    found = sdc.counts_in_chart([label, "count=10"], SDC)
    assert told(found) == [("disclosure-control", "review", "count-in-chart", {"label": label[:80]})]
    assert found[0].detail == "chart states a count of 3 ('count=3'): a small count"


def test_small_value_labels_of_a_count_chart_are_small_counts():
    found = sdc.counts_in_chart(["Admissions (n)", "120", "4"], SDC)
    assert told(found) == value_labels(4)
    assert found[0].detail == "chart labels a value of 4: a small count"


@pytest.mark.parametrize(("labels", "flagged"), [
    (["3", "6", "9"], []),          # three evenly spaced labels: an axis
    (["0", "5", "10"], []),         # an axis from 0 (the 0 counts in the spacing)
    (["2", "4", "5"], [2, 4, 5]),   # uneven: values, all small
    (["4", "120"], [4]),            # two labels are too few to be an axis
    (["05"], []),                   # a zero-padded month is a tick, not a value
    (["5"], [5]),
])
def test_chart_labels_are_values_unless_they_look_like_an_axis(labels: list[str], flagged: list[int]):
    assert chart("count", *labels) == value_labels(*flagged)


# --- dominance: what each finding says ----------------------------------------------------------------------

NK = "dominance n=2 k=0.9"


def magnitude(rows: list[tuple[float | None, ...]], columns: tuple[str, ...] = ("total", "top1", "top2"),
              policy: DisclosureControl = SDC) -> list[tuple[str, str | None, int, str]]:
    """(verdict, rule, row, detail) of the dominance findings of a magnitude table."""
    df = pl.DataFrame([dict(zip(("cell", *columns), ("A", *r), strict=True)) for r in rows])
    found = sdc.dominance(df, policy)
    assert all(f.check == sdc.CHECK and f.location["column"] == "total" for f in found)
    return [(f.verdict.value, f.rule, f.location["row"], f.detail) for f in found]


def test_dominance_findings_say_what_the_top_contributors_make_and_where():
    # row 2: 60 + 30 = 90 % of 100 and (100 - 90) / 60 = 17 % >= p; row 3: 50 + 50 is all of it, nothing left
    assert magnitude([(100, 10, 10), (100, 60, 30), (100, 50, 50)]) == [
        ("block", NK, 2, "top 2 contributors make 90% of the total"),
        ("block", NK, 3, "top 2 contributors make 100% of the total"),
        ("block", "p%=0.1", 3, "the second-largest contributor could estimate the largest within 10%")]


def test_dominance_that_the_shown_columns_cannot_settle_is_reviewed_and_says_why():
    # top1 = 89 of 100, no top2: the top two make 89 % to 89 + 11 = 100 %; the remainder 11 - (at most 11) is 0 % to
    # 11 / 89 = 12 %, which the unseen second contributor decides
    assert magnitude([(100, 89)], ("total", "top1")) == [
        ("review", NK, 1, "top 2 contributors make between 89% and 100% of the total: only the largest 1 are shown"),
        ("review", "p%=0.1", 1, "without the second-largest contribution (top2) the p% rule cannot be checked: the "
                               "second-largest contributor may estimate the largest within 10%")]


@pytest.mark.parametrize(("contributors", "blocked"), [(0, False), (1, True), (2, True), (3, False)])
def test_a_cell_of_at_most_n_contributors_fails_dominance_and_says_so(contributors: int, blocked: bool):
    # 50 + 10 of 100 is 60 %, and (100 - 60) / 50 = 80 %: only the number of contributors can fail this cell
    found = magnitude([(100, 50, 10, contributors)], ("total", "top1", "top2", "n_contributors"))
    expected = [("block", NK, 1, f"{contributors} contributors: the top 2 make the whole total")] if blocked else []
    assert found == expected


def test_dominance_reads_the_ranks_shown_only_up_to_the_first_gap():
    # top2 missing: top3 = 30 says nothing of the top two, which make 60 % to 100 % (60 + at most 40), and the
    # remainder is 0 % to 40 / 60 (read with top3 as top2 it would be 90 %, blocked, and p% settled at 17 %)
    found = magnitude([(100, 60, None, 30)], ("total", "top1", "top2", "top3"))
    assert [(v, rule) for v, rule, _, _ in found] == [("review", NK), ("review", "p%=0.1")]


def test_a_cell_whose_largest_contribution_is_zero_or_missing_fails_nothing():
    assert magnitude([(100, 0, 0), (100, None, 50)]) == []


def test_a_table_without_both_a_total_and_a_top1_column_is_no_magnitude_table():
    assert sdc.dominance(pl.DataFrame({"cell": ["A"], "total": [100]}), SDC) == []
    assert sdc.dominance(pl.DataFrame({"cell": ["A"], "top1": [95]}), SDC) == []


def test_cells_without_a_positive_total_are_skipped_and_the_rows_after_them_still_judged():
    # a total of 1 held by one contributor is positive: 100 % for the top two, and nothing left for p%
    found = magnitude([(0, 0, 0), (-5, 1, 1), (1, 1, 0), (100, 95, 1)])
    assert [(v, rule, row) for v, rule, row, _ in found] == [
        ("block", NK, 3), ("block", "p%=0.1", 3), ("block", NK, 4), ("block", "p%=0.1", 4)]


def test_without_a_contributors_column_no_other_column_is_read_as_the_number_of_contributors():
    # 50 + 2 of 100 is 52 %, and (100 - 52) / 50 = 96 %: a top2 of 2 is no count of two contributors
    assert magnitude([(100, 50, 2)]) == []


def test_the_contributors_column_is_never_read_as_a_contribution():
    # n = 3 with top1, top2 shown: 50 + 10 + at most 10 = 70 % (read as a top3, the 40 contributors would make 100 %)
    policy = SDC.model_copy(update={"dominance_n": 3})
    assert magnitude([(100, 50, 10, 40)], ("total", "top1", "top2", "n_contributors"), policy) == []


def test_dominance_that_may_reach_exactly_k_is_reviewed():
    # n = 3, top3 not shown: at least 50 + 20 = 70 %, at most 70 + 20 (no larger than top2) = 90 % = k
    policy = SDC.model_copy(update={"dominance_n": 3})
    found = magnitude([(100, 50, 20)], policy=policy)
    assert [(v, rule) for v, rule, _, _ in found] == [("review", "dominance n=3 k=0.9")]


def test_rows_after_a_negative_or_a_zero_largest_contribution_are_still_judged():
    found = magnitude([(100, 50, -1), (100, 0, 0), (100, 95, 1)])
    assert [(v, rule, row) for v, rule, row, _ in found] == [
        ("review", "dominance", 1), ("block", NK, 3), ("block", "p%=0.1", 3)]


def test_a_negative_contribution_sends_the_cell_to_review_and_says_why():
    assert magnitude([(100, 50, -1)]) == [("review", "dominance", 1, "negative values: dominance unreliable")]


# --- dominance: p% without a top2 column -------------------------------------------------------------------

P_ONLY = SDC.model_copy(update={"dominance_k": 1.0})  # with k = 1 only a total made by the top two fails (n, k)


@pytest.mark.parametrize(("total", "top1", "verdict"), [
    (5, 5, "block"),      # one contributor holds it all: the remainder 0 / 5 < 10 %
    (104, 50, "review"),  # the second holds 50 at most: the remainder is between 4 / 50 = 8 % and 54 / 50
    (105, 50, None),      # at least 5 / 50 = 10 %: not below p
    (106, 50, None),      # at least 6 / 50 = 12 %
])
def test_p_percent_without_top2_blocks_what_any_second_contributor_fails_and_reviews_what_one_might(
        total: int, top1: int, verdict: str | None):
    found = sdc.dominance(pl.DataFrame({"cell": ["A"], "total": [total], "top1": [top1]}), P_ONLY)
    expected = [(verdict, "p%=0.1")] if verdict else []
    assert [(f.verdict.value, f.rule) for f in found if f.rule == "p%=0.1"] == expected


# --- residual degrees of freedom -----------------------------------------------------------------------------

def test_a_regression_with_too_few_residual_df_is_blocked_where_it_is_printed():
    found = sdc.residual_df([Segment("OLS", {"line": 6}), Segment("Df Residuals: 3", {"line": 7})], SDC)
    assert told(found) == [("disclosure-control", "block", "residual_df>=10", {"line": 7})]
    assert found[0].detail == "regression has 3 residual degrees of freedom"
