"""The automated checks' verdicts at the edges the mutation benchmark found untested: identifiers saved as
floats inside free text, a text longer than one chunk, a column labelled as a name, text the check could
not finish. Each case is built by hand (fixed identifiers and texts), never with the checker under test.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

import egress_review.checks as checks
from egress_review.extract import Segment
from egress_review.findings import Verdict
from enclave.pii.engine import CHUNK
from enclave.pii.entities import Entity
from tests.identifiers import STANDARD_EXAMPLE

# 110105 (Beijing, Chaoyang) born 1949-12-31: a resident ID a spreadsheet saved as a float, last digits lost
ID_AS_FLOAT = "1.10105194912310e+17"


def decoded(found: list[checks.Finding]) -> list[tuple[str | None, Verdict, object]]:
    return [(f.entity, f.verdict, f.location["line"]) for f in found
            if f.location.get("decoded") == "scientific-notation"]


def test_a_resident_id_saved_as_a_float_in_a_log_line_blocks_the_file() -> None:
    found = checks.pii_in_segments([Segment(f"discharged patient {ID_AS_FLOAT} today", {"line": 7})])
    assert decoded(found) == [(Entity.CN_RESIDENT_ID, Verdict.BLOCK, 7)]
    assert [f.rule for f in found] == ["cn-resident-id-as-float"]


def test_a_phone_number_saved_as_a_float_in_a_log_line_is_found_in_its_written_out_digits() -> None:
    # 1.3812345678e+10 is 13812345678 (a mobile number): only the written-out text holds it
    found = checks.pii_in_segments([Segment("call back 1.3812345678e+10 after discharge", {"line": 2})])
    assert decoded(found) == [(Entity.CN_PHONE, Verdict.BLOCK, 2)]


def test_a_float_id_beside_a_phone_in_one_line_reports_both_in_the_written_out_text() -> None:
    found = checks.pii_in_segments([Segment(f"id {ID_AS_FLOAT} call 13812345678", {"line": 1})])
    assert sorted(str(e) for e, _, _ in decoded(found)) == [Entity.CN_PHONE, Entity.CN_RESIDENT_ID]


def test_a_text_without_a_float_gives_no_written_out_copy() -> None:
    found = checks.pii_in_segments([Segment("call 13812345678", {"line": 1})])
    assert [(f.entity, f.verdict) for f in found] == [(Entity.CN_PHONE, Verdict.BLOCK)] and not decoded(found)


@pytest.mark.parametrize("length", [CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_a_phone_at_the_end_of_a_text_of_any_length_is_found_where_it_is(length: int) -> None:
    tail = " call 13812345678"
    text = ("x" * 9 + " ") * (length // 10) + "x" * (length % 10)
    text = text[: length - len(tail)] + tail
    assert len(text) == length
    found = checks.pii_in_segments([Segment(text, {"line": 1})])
    assert [(f.entity, f.verdict, f.location["offset"]) for f in found] == [
        (Entity.CN_PHONE, Verdict.BLOCK, length - 11)]


def test_a_column_labelled_as_a_name_sends_the_table_to_review_whatever_its_values() -> None:
    df = pl.DataFrame({"patient": ["aa", "bb", "cc"], "score": [50, 60, 70]})
    found = [f for f in checks.pii_in_table(df) if f.rule == "name-column"]
    assert [(f.check, f.verdict, f.entity, f.location) for f in found] == [
        ("personal-data", Verdict.REVIEW, Entity.PERSON, {"column": "patient"})]
    assert "'patient'" in found[0].detail and "(3 rows)" in found[0].detail


def test_text_the_check_cannot_finish_is_refused_as_personal_data_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "CHECK_SECONDS", -1.0)
    [f] = checks.pii_in_segments([Segment("call 13812345678", {"line": 1}), Segment("ward 5", {"line": 2})])
    assert (f.check, f.verdict) == ("personal-data", Verdict.BLOCK)
    assert "(2 lines or values, 0 with personal data before the check stopped)" in f.detail
    assert f.detail.endswith("refused, split it or export an aggregate")


# --- tables: every column is read, whatever the columns before it hold ------------------------------


def table_findings(df: pl.DataFrame) -> list[tuple[str | None, Verdict, int, str]]:
    return [(f.entity, f.verdict, f.location["row"], f.location["column"]) for f in checks.pii_in_table(df)
            if "row" in f.location]


def test_a_phone_in_a_text_column_after_a_float_and_a_date_column_blocks_the_table() -> None:
    df = pl.DataFrame({"score": [1.5, 2.5], "visit": [date(2020, 1, 1), date(2020, 1, 2)],
                       "note": ["fine", "call 13812345678"]})
    assert table_findings(df) == [(Entity.CN_PHONE, Verdict.BLOCK, 2, "note")]


def test_resident_ids_saved_as_floats_in_two_columns_are_each_found_at_their_row() -> None:
    as_float = float(ID_AS_FLOAT)
    df = pl.DataFrame({"a": [1.0, as_float], "b": [as_float, 2.0]})
    assert table_findings(df) == [(Entity.CN_RESIDENT_ID, Verdict.BLOCK, 1, "b"),
                                  (Entity.CN_RESIDENT_ID, Verdict.BLOCK, 2, "a")]


def test_personal_data_in_text_cells_shorter_than_a_phone_number_is_read() -> None:
    # an integer needs 11 digits to hold an identifier; a text cell of any length may hold one
    df = pl.DataFrame({"mail": ["x", "wl@qq.com"], "who": ["a", "王芳"]})
    assert table_findings(df) == [(Entity.EMAIL, Verdict.BLOCK, 2, "mail"), (Entity.PERSON, Verdict.REVIEW, 2, "who")]


def test_a_resident_id_cut_into_two_columns_is_found_where_it_starts() -> None:
    df = pl.DataFrame({"k": ["a", "b"], "id_a": ["x", STANDARD_EXAMPLE[:9]], "id_b": ["y", STANDARD_EXAMPLE[9:]]})
    [f] = checks.pii_in_table(df)
    assert (f.entity, f.verdict) == (Entity.CN_RESIDENT_ID, Verdict.BLOCK)
    assert f.location == {"row": 2, "column": "id_a", "joined_with": "id_b"}


def test_a_phone_written_one_digit_per_column_is_found_in_its_row() -> None:
    df = pl.DataFrame({f"c{i}": ["0", digit] for i, digit in enumerate("13812345678")})
    [f] = checks.pii_in_table(df)
    assert (f.entity, f.verdict, f.location["row"], f.location["column"]) == (Entity.CN_PHONE, Verdict.BLOCK, 2, "c0")


def test_a_phone_number_used_as_a_column_header_blocks_the_table() -> None:
    df = pl.DataFrame({"region": ["east"], "13812345678": [5]})
    [f] = checks.pii_in_table(df)
    assert (f.entity, f.verdict, f.location) == (Entity.CN_PHONE, Verdict.BLOCK,
                                                 {"column": "13812345678", "header": True})
