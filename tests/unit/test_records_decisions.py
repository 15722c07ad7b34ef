"""The record-level rules of egress_review/records.py called directly, at their boundaries, with answers worked
out by hand: masked identifiers, date columns, the share of unique rows, the shape of records, printed frames and
the row cap. Found untested by the mutation benchmark (benchmarks/mutation.py): the scan tests reach these rules
only through whole files and look for a rule's name, not for where it stops.

Limits: MIN_ROWS = 20 rows before a table's shape is judged, at least 3 key columns, 80 % of rows unique and under
5 % of the possible combinations; at most 10 digits left in a masked identifier; 90 % of a text column full dates;
90 % of a text column identifier-shaped values, first in its first 2000 rows, then in the whole column.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from egress_review import records
from egress_review.findings import Finding
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def told(found: list[Finding]) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(check, verdict, rule, location, detail) of each finding, in order."""
    return [(f.check, f.verdict.value, str(f.rule), f.location, f.detail) for f in found]


def test_the_limits_are_those_the_tests_below_were_worked_out_for():
    assert (records.MIN_ROWS, records.MAX_VISIBLE_DIGITS) == (20, 10)


# --- identifiers by name, masked or not; dates of birth -------------------------------------------------------

MASKED_REVIEW = ("row-level", "review", "masked-identifiers", {"column": "patient_id"},
                 "column 'patient_id' holds masked identifiers, one per row: a listing of individuals even with the "
                 "identifiers masked?")


def masked_ids(visible_digits: int) -> list[str]:
    """Three distinct identifiers with `visible_digits` digits left beside a run of mask characters."""
    return [f"{i}{'1' * (visible_digits - 1)}********" for i in (1, 2, 3)]


@pytest.mark.parametrize(("digits", "masked"), [(9, True), (10, True), (11, False)])
def test_an_identifier_masked_with_at_most_ten_digits_left_goes_to_review_and_with_more_blocks(digits: int,
                                                                                             masked: bool):
    found = records.identifying_columns(pl.DataFrame({"patient_id": masked_ids(digits)}))
    blocked = ("row-level", "block", "identifying-column", {"column": "patient_id"},
               "column 'patient_id' identifies records (its name; 3 distinct values in 3 rows)")
    assert told(found) == [MASKED_REVIEW if masked else blocked]


def test_an_identifier_column_with_one_unmasked_value_blocks():
    ids = [*masked_ids(4)[:2], "110101199001011234"]
    assert [f.verdict.value for f in records.identifying_columns(pl.DataFrame({"patient_id": ids}))] == ["block"]


def test_an_identifier_column_holding_no_values_is_not_masked_and_identifies_records_by_its_name():
    found = records.identifying_columns(pl.DataFrame({"patient_id": pl.Series([None, None, None], dtype=pl.Utf8)}))
    assert told(found) == [("row-level", "block", "identifying-column", {"column": "patient_id"},
                            "column 'patient_id' identifies records (its name; 1 distinct values in 3 rows)")]


def test_masked_identifiers_beside_counts_say_nothing_and_without_counts_go_to_review():
    ids = masked_ids(4)
    assert records.identifying_columns(pl.DataFrame({"patient_id": ids, "patients": [12, 15, 20]})) == []
    assert told(records.identifying_columns(pl.DataFrame({"patient_id": ids, "ward": ["a", "b", "c"]}))) == [
        MASKED_REVIEW]


@pytest.mark.parametrize("beside", [{"age": [30, 40, 50]}, {"patients": ["12", "15", "20"]}],
                         ids=["a-number-that-is-no-count", "a-count-held-as-text"])
def test_only_a_numeric_column_named_as_a_count_makes_masked_identifiers_say_nothing(beside: dict[str, list]):
    found = records.identifying_columns(pl.DataFrame({"patient_id": masked_ids(4), **beside}))
    assert told(found) == [MASKED_REVIEW]


def test_the_columns_after_masked_identifiers_are_still_judged_beside_counts_and_without():
    ids = masked_ids(4)
    beside_counts = pl.DataFrame({"patient_id": ids, "mrn": ["A1", "A2", "A3"], "patients": [12, 15, 20]})
    assert told(records.identifying_columns(beside_counts)) == [
        ("row-level", "block", "identifying-column", {"column": "mrn"},
         "column 'mrn' identifies records (its name; 3 distinct values in 3 rows)")]
    without_counts = pl.DataFrame({"patient_id": ids, "dob": ["1990-01-01", "1991-02-02", "1992-03-03"]})
    assert told(records.identifying_columns(without_counts)) == [
        MASKED_REVIEW, ("row-level", "block", "date-of-birth", {"column": "dob"},
                        "column 'dob' holds dates of birth: individual records")]


def test_a_date_of_birth_column_blocks_unless_it_is_empty():
    found = records.identifying_columns(pl.DataFrame({"dob": ["1990-01-01", None]}))
    assert told(found) == [("row-level", "block", "date-of-birth", {"column": "dob"},
                            "column 'dob' holds dates of birth: individual records")]
    assert records.identifying_columns(pl.DataFrame({"dob": pl.Series([None, None], dtype=pl.Utf8)})) == []


# --- identifiers by their values ------------------------------------------------------------------------------

def codes(n: int, start: int = 0) -> list[str]:
    """`n` distinct identifier-shaped codes (three letters and six digits)."""
    return [f"MRN{100000 + i}" for i in range(start, start + n)]


def notes(n: int, start: int = 0) -> list[str]:
    """`n` distinct values of no identifier's shape."""
    return [f"note {i}" for i in range(start, start + n)]


def by_values(distinct: int, rows: int) -> tuple[str, str, str, dict[str, Any], str]:
    return ("row-level", "block", "identifying-column", {"column": "ref"}, "column 'ref' identifies records (its "
            f"values look like record identifiers; {distinct} distinct values in {rows} rows)")


@pytest.mark.parametrize(("shaped", "found"), [(17, []), (18, [by_values(20, 20)]), (19, [by_values(20, 20)])])
def test_a_text_column_identifies_records_by_its_values_when_nine_in_ten_are_identifier_shaped(shaped: int,
                                                                                              found: list):
    df = pl.DataFrame({"ref": codes(shaped) + notes(20 - shaped)})
    assert told(records.identifying_columns(df)) == found


def test_the_first_test_of_identifier_shaped_values_reads_the_first_2000_rows_and_no_more():
    # rows 1..2000: 1800 codes, 90 %; row 2001 a note (1800 of the first 2001 rows: under 90 %); then 9 codes, so
    # the whole column is 1809 of 2010 rows, 90 %, and identifies records
    df = pl.DataFrame({"ref": codes(1800) + notes(201) + codes(9, start=1800)})
    assert told(records.identifying_columns(df)) == [by_values(2010, 2010)]


def test_one_identifier_among_the_first_2000_rows_is_enough_to_go_on_to_the_whole_column():
    # 1 code and 1999 empty rows, then 38000 codes: 38002 distinct values (one of them empty) in 40000 rows, 95 %
    df = pl.DataFrame({"ref": codes(1) + [None] * 1999 + codes(38000, start=1)})
    assert told(records.identifying_columns(df)) == [by_values(38002, 40000)]


def test_a_text_column_holding_no_values_identifies_nothing_by_its_values():
    df = pl.DataFrame({"ref": pl.Series([None] * 20, dtype=pl.Utf8)})
    assert records.identifying_columns(df) == []


# --- date columns ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("full_dates", "is_date"), [(8, False), (9, True), (10, True)])
def test_a_text_column_is_a_date_column_when_nine_in_ten_of_its_values_are_full_dates(full_dates: int,
                                                                                     is_date: bool):
    values = [f"2020-01-{d + 1:02d}" for d in range(full_dates)] + ["soon"] * (10 - full_dates)
    assert records._is_date(pl.Series(values)) is is_date


# the values, not Series: a polars Series of datetimes built while the tests are collected starts polars' threads
# in the process the mutation benchmark forks its workers from, and a forked worker then hangs
@pytest.mark.parametrize(("values", "dtype", "is_date"), [
    ([date(2020, 1, 1), date(2020, 1, 2)], pl.Date, True),
    ([datetime(2020, 1, 1, 8, 30)], pl.Datetime, True),
    ([20200101, 20200102], pl.Int64, False),
    ([None, None], pl.Utf8, False),
    (["2020-01-01"], pl.Utf8, True),  # one value is enough
])
def test_typed_dates_are_dates_numbers_and_empty_text_are_not(values: list, dtype: pl.DataType, is_date: bool):
    assert records._is_date(pl.Series(values, dtype=dtype)) is is_date


# --- the share of unique rows --------------------------------------------------------------------------------

@pytest.mark.parametrize(("widest", "other", "share"), [
    ([1, 2, 3, 4], ["a", "a", "a", "a"], 1.0),  # the widest key alone tells every row apart
    ([1, 1, 2, 3], ["a", "a", "b", "c"], 0.5),  # rows 1 and 2 are the same on every key
    ([1, 1, 2, 3], ["a", "b", "b", "c"], 1.0),  # rows 1 and 2 share the widest key only
    ([1, 1, 1, 2, 3], ["a", "a", "b", "c", "d"], 0.6),  # 2 alone on the widest key + row 3 among those sharing it
])
def test_the_share_of_unique_rows_counts_rows_no_other_row_matches_on_every_key(widest: list[int], other: list[str],
                                                                               share: float):
    df = pl.DataFrame({"w": widest, "x": other})
    assert records._unique_share(df, ["w", "x"], "w") == share


def test_an_empty_table_has_no_unique_rows():
    assert records._unique_share(pl.DataFrame({"w": [], "x": []}), ["w", "x"], "w") == 0.0


# --- the shape of records ------------------------------------------------------------------------------------------

def keyed(rows: int, **extra: list[Any]) -> pl.DataFrame:
    """`rows` rows of three keys whose every value differs: all rows unique, rows / rows**3 of the combinations."""
    return pl.DataFrame({"town": [f"t{i}" for i in range(rows)], "street": [f"s{i}" for i in range(rows)],
                         "house": [f"h{i}" for i in range(rows)], **extra})


def shape(verdict: str, keys: str, rows: int, unique: str, cover: str) -> tuple[str, str, str, dict, str]:
    return ("row-level", verdict, "record-shape", {}, f"{rows} rows whose combinations of {keys} are {unique} unique "
            f"and cover {cover} of the possible ones: looks like individual records")


@pytest.mark.parametrize(("rows", "found"), [
    (19, []), (20, [shape("review", "town, street, house", 20, "100%", "0.2%")]),
    (21, [shape("review", "town, street, house", 21, "100%", "0.2%")])])
def test_a_table_of_unique_sparse_key_combinations_is_judged_from_twenty_rows(rows: int, found: list):
    assert told(records.sparse_combinations(keyed(rows))) == found


def test_two_keys_make_no_record_shape_three_do():
    two = keyed(20).drop("house")
    assert records.sparse_combinations(two) == []
    assert [f.rule for f in records.sparse_combinations(keyed(20))] == ["record-shape"]


@pytest.mark.parametrize(("twins", "found"), [
    (4, [shape("review", "town, street, house", 20, "80%", "0.3%")]),  # 16 of 20 rows unique: 80 %
    (5, [])])  # 15 of 20: 75 %
def test_records_need_four_in_five_rows_unique(twins: int, found: list):
    # 20 rows: 20 - `twins` unique ones, then `twins` rows that are not (two pairs, or a pair and a triple)
    tail = {4: ["p", "p", "q", "q"], 5: ["p", "p", "q", "q", "q"]}[twins]
    values = [f"u{i}" for i in range(20 - twins)] + tail
    df = pl.DataFrame({"town": values, "street": values, "house": values})
    assert told(records.sparse_combinations(df)) == found


@pytest.mark.parametrize(("distinct_house", "found"), [
    (1, []),  # 20 rows of 20 x 20 x 1 = 400 combinations: 5 %, not under it
    (2, [shape("review", "town, street, house", 20, "100%", "2.5%")])])  # 20 of 800: 2.5 %
def test_records_cover_under_five_percent_of_the_possible_combinations(distinct_house: int, found: list):
    df = keyed(20).with_columns(house=pl.Series([f"h{i % distinct_house}" for i in range(20)]))
    assert told(records.sparse_combinations(df)) == found


def test_record_shape_blocks_with_a_personal_attribute_or_a_date_and_goes_to_review_otherwise():
    with_sex = keyed(20, sex=["M", "F"] * 10)
    assert told(records.sparse_combinations(with_sex)) == [shape("block", "town, street, house, sex", 20, "100%",
                                                                 "0.1%")]  # 20 of 20 x 20 x 20 x 2
    dates = [f"2020-01-{d + 1:02d}" for d in range(20)]
    assert [f.verdict.value for f in records.sparse_combinations(keyed(20, seen=dates))] == ["block"]


def test_record_shape_beside_counts_needs_a_date_column():
    assert records.sparse_combinations(keyed(20, patients=list(range(20)))) == []
    dates = [f"2020-01-{d + 1:02d}" for d in range(20)]
    found = records.sparse_combinations(keyed(20, patients=list(range(20)), seen=dates))
    assert [(f.verdict.value, f.rule) for f in found] == [("block", "record-shape")]


def test_a_column_named_as_a_statistic_is_a_measure_not_a_key_whatever_its_type():
    df = keyed(20, mean_stay=list(range(20)))
    assert told(records.sparse_combinations(df)) == [shape("review", "town, street, house", 20, "100%", "0.2%")]


def test_a_record_shape_names_at_most_six_keys():
    df = keyed(20, **{f"k{i}": [f"v{j}" for j in range(20)] for i in range(4)})
    assert told(records.sparse_combinations(df)) == [
        shape("review", "town, street, house, k0, k1, k2", 20, "100%", "0.0%")]


def visits(rows: int = 20, **extra: list[Any]) -> pl.DataFrame:
    """Rows of distinct visit dates and two keys of two values: dense enough (20 of 80 combinations) to be no
    record shape."""
    return pl.DataFrame({"visit_date": [f"2020-01-{d + 1:02d}" for d in range(rows)], "ward": ["a", "b"] * (rows // 2),
                         "outcome": ["x", "x", "y", "y"] * (rows // 4), **extra})


def test_rows_of_event_dates_without_counts_or_statistics_look_like_visits():
    found = records.sparse_combinations(visits())
    assert told(found) == [("row-level", "review", "record-dates", {"column": "visit_date"},
                            "rows with event dates (visit_date) and no counts or statistics: looks like individual "
                            "visits")]
    assert [f.verdict.value for f in records.sparse_combinations(visits(sex=["M", "F"] * 10))] == ["block"]


def test_rows_of_event_dates_name_their_first_three_date_columns():
    same = ["2020-02-01"] * 20  # one value each: 20 rows of 20 x 2 x 2 combinations, dense, no record shape
    df = visits(admission_date=same, discharge_date=same, follow_up_date=same)
    assert told(records.sparse_combinations(df)) == [
        ("row-level", "review", "record-dates", {"column": "visit_date"}, "rows with event dates (visit_date, "
         "admission_date, discharge_date) and no counts or statistics: looks like individual visits")]


def test_rows_of_event_dates_beside_counts_statistics_or_a_single_key_are_no_visits():
    assert records.sparse_combinations(visits(patients=list(range(20)))) == []
    assert records.sparse_combinations(visits(mean_los=[1.5] * 20)) == []
    assert records.sparse_combinations(visits().drop("outcome")) == []


def measurements(rows: int, distinct: int) -> pl.DataFrame:
    return pl.DataFrame({"weight": [float(i % distinct) for i in range(rows)], "group": ["a", "b"] * (rows // 2),
                         "arm": ["x"] * rows})


@pytest.mark.parametrize(("rows", "distinct", "found"), [
    (48, 48, []),  # fewer than 50 rows
    (50, 24, []),  # 24 distinct weights in 50 rows: under half
    (50, 25, [("row-level", "review", "record-measurements", {},
               "50 rows of person-level measurements (weight) with no counts or statistics")]),
    (52, 52, [("row-level", "review", "record-measurements", {},
               "52 rows of person-level measurements (weight) with no counts or statistics")])])
def test_fifty_rows_of_varied_measurements_without_counts_go_to_review(rows: int, distinct: int, found: list):
    assert told(records.sparse_combinations(measurements(rows, distinct))) == found


def test_person_level_measurements_name_their_first_three_varied_columns():
    df = measurements(50, 50).with_columns(**{name: pl.Series([float(i * k) for i in range(50)])
                                              for k, name in enumerate(["height_cm", "waist", "hip"], start=2)})
    assert told(records.sparse_combinations(df)) == [
        ("row-level", "review", "record-measurements", {},
         "50 rows of person-level measurements (weight, height_cm, waist) with no counts or statistics")]


def test_measurements_beside_counts_or_in_two_columns_are_no_records():
    assert records.sparse_combinations(measurements(50, 50).with_columns(patients=pl.lit(3))) == []
    assert records.sparse_combinations(measurements(50, 50).drop("arm")) == []


# --- printed frames ------------------------------------------------------------------------------------------

def printed(columns: str, first: str = "0", last: str = "1") -> tuple[str, str, str, dict, str]:
    return ("row-level", "block", "printed-records", {}, f"printed frame with index {first}..{last} and columns "
            f"{columns}: individual records (head() or sample() of a frame)")


def frame(*names: str, rows: int = 2) -> pl.DataFrame:
    return pl.DataFrame({n: [f"v{i}" for i in range(rows)] for n in names})


@pytest.mark.parametrize("index", [None, ["0"], ["a", "b"], ["0", "x"]])
def test_a_frame_printed_without_a_plain_integer_index_of_two_rows_or_more_is_no_printed_record(index):
    assert records.printed_head(frame("patient_id"), index) == []


@pytest.mark.parametrize("column", ["patient_id", "dob", "email", "phone", "name", "tel", "mobile", "home_address",
                                    "姓名", "联系人姓名", "联系电话", "手机号", "出生地"])
def test_a_printed_frame_with_an_identifier_a_birth_date_or_contact_details_blocks(column: str):
    assert told(records.printed_head(frame(column), ["0", "1"])) == [printed(column)]


def test_a_printed_frame_with_a_column_of_dates_blocks():
    df = pl.DataFrame({"when": ["2020-01-01", "2020-01-02"]})
    assert told(records.printed_head(df, ["3", "7"])) == [printed("when", "3", "7")]


def test_two_personal_attributes_without_a_statistic_block_one_or_with_a_statistic_does_not():
    assert told(records.printed_head(frame("sex", "age"), ["0", "1"])) == [printed("sex, age")]
    assert records.printed_head(frame("sex", "ward"), ["0", "1"]) == []
    assert records.printed_head(frame("sex", "age", "mean_bmi"), ["0", "1"]) == []
    assert records.printed_head(frame("sex", "age", "patients"), ["0", "1"]) == []


@pytest.mark.parametrize("column", ["address", "住址"])
def test_a_printed_frame_names_a_column_that_is_both_contact_detail_and_personal_attribute_once(column: str):
    assert told(records.printed_head(frame(column), ["0", "1"])) == [printed(column)]


def test_a_printed_frame_names_at_most_four_columns_strong_ones_first():
    df = frame("sex", "age", "patient_id", "dob", "email")
    assert told(records.printed_head(df, ["0", "1", "2"], )) == [printed("patient_id, dob, email, sex", "0", "2")]


# --- the row cap -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("rows", "rules"), [(19, []), (20, ["record-shape"]), (21, ["row_cap=20"])])
def test_over_the_row_cap_a_table_blocks_for_its_length_and_its_shape_is_not_judged(rows: int, rules: list[str]):
    policy = POLICY.model_copy(update={"row_cap": 20})
    found = records.row_level(keyed(rows), policy)
    assert [str(f.rule) for f in found] == rules
    if rows > 20:
        assert told(found) == [("row-level", "block", "row_cap=20", {},
                                "21 rows: more than the cap of 20 looks like a row-level extract")]
