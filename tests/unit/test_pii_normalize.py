"""Identifiers in disguise: invisible characters, look-alikes, spelled digits, character codes, encodings,
floats, split columns and headers."""

from __future__ import annotations

import base64
import zlib

import polars as pl

from egress_review.checks import pii_in_segments, pii_in_table
from egress_review.extract import Segment, read_table
from enclave.pii import find_all
from enclave.pii.normalize import decode_blob, expand_scientific

RID = "11010519491231002X"  # GB 11643-1999's own example
PHONE = "13812345678"


def values(text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.value) for m in find_all(text)]


def test_invisible_characters_and_lookalike_digits_are_folded():
    hidden = "\u200b".join(PHONE)
    assert values(f"tel {hidden}") == [("CN_PHONE", PHONE)]
    assert values("tel \u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668") == [("CN_PHONE", PHONE)]
    assert values("tel １３８\u00ad1234\u20605678") == [("CN_PHONE", PHONE)]
    # Cyrillic А and Greek Ο look like A and O: the HKID A123456(3) written with a Cyrillic A
    assert values("\u0410123456(3)") == [("HK_ID", "A123456(3)")]


def test_positions_point_into_the_original_text():
    zwsp = "\u200b"
    text = f"电话：{zwsp.join(PHONE)}。"
    m = find_all(text)[0]
    assert text[m.start:m.end].replace("\u200b", "") == PHONE


def test_digits_spelled_as_characters_words_and_codes():
    assert values("手机一三八一二三四五六七八") == [("CN_PHONE", PHONE)]
    assert values("手机壹叁捌壹贰叁肆伍陆柒捌") == [("CN_PHONE", PHONE)]
    assert values("call one three eight one two three four five six seven eight") == [("CN_PHONE", PHONE)]
    assert values("".join(f"&#{ord(c)};" for c in PHONE)) == [("CN_PHONE", PHONE)]
    assert values("".join(f"\\u{ord(c):04x}" for c in PHONE)) == [("CN_PHONE", PHONE)]
    assert values("一二年级的学生有三四个") == [] and values("one or two patients") == []


def test_base32_and_compressed_base64_blobs_are_read():
    b32 = base64.b32encode(f"id {RID}".encode()).decode()
    assert decode_blob(b32) == ("base32", f"id {RID}")
    packed = base64.b64encode(zlib.compress(f"phone {PHONE}".encode())).decode()
    assert decode_blob(packed) == ("base64+compressed", f"phone {PHONE}")
    found = pii_in_segments([Segment(f"payload {packed}", {"line": 1})])
    assert [(f.entity, f.location["decoded"]) for f in found] == [("CN_PHONE", "base64+compressed")]


def test_scientific_notation_keeps_the_shape_of_a_resident_id():
    assert expand_scientific("1.10105194912310e+17") == "110105194912310000"
    found = pii_in_segments([Segment("id,1.10105194912310e+17", {"line": 2})])
    assert [(f.entity, f.rule) for f in found] == [("CN_RESIDENT_ID", "cn-resident-id-as-float")]
    assert pii_in_segments([Segment("p = 1.234567e+17 in the model", {"line": 1})]) == []


def test_float_columns_are_read_as_the_integers_they_hold():
    df = pl.DataFrame({"mobile": [13812345678.0, 13912345678.0], "idno": [1.10105194912310e17, 3.3e5],
                       "bmi": [22.5, 31.0]})
    found = {(f.entity, f.location["column"], f.rule) for f in pii_in_table(df)}
    assert ("CN_PHONE", "mobile", "cn-phone") in found
    assert ("CN_RESIDENT_ID", "idno", "cn-resident-id-as-float") in found
    assert not any(col == "bmi" for _, col, _ in found)


def test_identifiers_split_across_adjacent_columns():
    df = pl.DataFrame({"id_part1": [RID[:9], "123"], "id_part2": [RID[9:], "456"], "n": [12, 40]})
    found = [(f.entity, f.location["column"], f.location.get("joined_with")) for f in pii_in_table(df)]
    assert found == [("CN_RESIDENT_ID", "id_part1", "id_part2")]


def test_an_identifier_cut_into_three_adjacent_columns_is_found_once_per_row():
    line = f"{RID[:6]},{RID[6:14]},{RID[14:]}"
    df = read_table(f"site,a,b,c\nX,{line}\nY,{line}\n".encode(), "csv")
    assert df is not None
    found = [(f.entity, f.location["column"], f.location.get("joined_with"), f.location["row"])
             for f in pii_in_table(df)]
    assert found == [("CN_RESIDENT_ID", "a", "c", 1), ("CN_RESIDENT_ID", "a", "c", 2)]


def test_three_adjacent_count_columns_that_join_to_no_identifier_are_not_a_finding():
    df = pl.DataFrame({"year": [2021, 2022], "month": [3, 11], "cases": [1240, 980], "deaths": [31, 12]})
    assert pii_in_table(df) == []


def test_a_pair_that_already_makes_the_identifier_is_not_reported_again_as_a_triple():
    df = pl.DataFrame({"a": [RID[:9]], "b": [RID[9:]], "c": ["7"]})
    found = [(f.location["column"], f.location.get("joined_with")) for f in pii_in_table(df)]
    assert found == [("a", "b")]


def test_a_split_identifier_whose_second_part_starts_with_zeros_is_joined_as_written_in_a_csv():
    # 110101199003074514 cut after the birth year: polars reads '003074514' as the number 3074514
    df = read_table(b"group,a,b\nA,110101199,003074514\nB,123,456\n", "csv")
    assert df is not None and df["b"].to_list() == ["003074514", "456"]
    assert df["a"].dtype == pl.Int64  # a column without leading zeros keeps its type
    found = [(f.entity, f.location["column"], f.location.get("joined_with")) for f in pii_in_table(df)]
    assert found == [("CN_RESIDENT_ID", "a", "b")]


def test_leading_zeros_far_down_an_integer_column_are_kept_as_written():
    # past the rows polars guesses the types from: the column is read as integers, the file keeps "0086"
    rows = "".join(f"{i},{i}\n" for i in range(1, 12_000))
    df = read_table(f"a,b\n{rows}12000,0086\n".encode(), "csv")
    assert df is not None and df["b"].dtype == pl.Utf8 and df["b"][-1] == "0086"
    assert df["a"].dtype == pl.Int64 and df["a"][-1] == 12_000


def test_personal_data_in_column_headers():
    df = pl.DataFrame({"group": ["a"], PHONE: [1], "张伟的随访": [3]})
    found = {(f.entity, f.location.get("header")) for f in pii_in_table(df)}
    assert ("CN_PHONE", True) in found and ("PERSON", True) in found
