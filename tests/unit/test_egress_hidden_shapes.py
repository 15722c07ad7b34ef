"""Counts and identifiers in shapes no column name or single value gives away, through the public scan
entry point; each finding names the rule (and, for counts, the recogniser) that produced it."""

from __future__ import annotations

import base64
import json

import polars as pl
import pytest

from egress_review.scan import scan_bytes
from egress_review.sdc import parse_number
from enclave.pii import names
from enclave.pii.cells import encoded_cells
from enclave.pii.normalize import decoded_texts
from enclave.pii.recognizers import find_all
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
THRESHOLD = f"threshold>={POLICY.sdc.threshold}"
MOBILE = "13812345678"
RESIDENT_ID = "11010519491231002X"


def scan(name: str, data: str | bytes):
    return scan_bytes(name, data.encode() if isinstance(data, str) else data, POLICY)


def counted_by(name: str, data: str | bytes) -> set[str]:
    """The recognisers named by the threshold findings of a file."""
    return {str(f.location.get("recognised_by", "name")) for f in scan(name, data).findings if f.rule == THRESHOLD}


# --- counts ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "data"), [
    ("l.csv", "group,measure,value\nA,n,3\nA,mean_age,54.2\nB,n,45\nB,mean_age,61.0\n"),
    ("l.csv", "组别,指标,数值\n治疗组,例数,4\n治疗组,平均年龄,55.1\n对照组,例数,38\n"),
    ("l.csv", "site,statistic,estimate\nX,deaths,2\nX,median_los,3\nY,deaths,40\n"),
])
def test_a_long_format_row_whose_label_says_count_holds_a_count(name: str, data: str):
    assert "count-by-row-label" in counted_by(name, data)


def test_statistics_in_a_long_format_table_are_not_counts():
    data = "group,measure,value\nA,n,300\nA,median_los,3\nB,n,450\nB,mean_age,4.0\n"
    assert scan("l.csv", data).verdict.value == "pass"


@pytest.mark.parametrize("data", [
    "sex,Stage I,Stage II,Stage III\nMale,12,4,30\nFemale,25,33,41\n",
    ",0,1\n0,120,3\n1,45,88\n",
    "性别,轻度,中度,重度\n男,40,3,25\n女,33,61,28\n",
])
def test_whole_numbers_under_level_headers_are_crosstab_cells(data: str):
    assert "crosstab-cell" in counted_by("x.csv", data)


@pytest.mark.parametrize("data", [
    "sex,Stage I,Stage II\nMale,1.5,2.25\nFemale,3.5,0.75\n",   # means, not counts
    "region,beds,sites\nNorth,4,2\nSouth,8,3\n",                 # a named measure of things, not levels
    "sex,Stage I,Stage II\nMale,120,45\nFemale,250,330\n",      # counts above the threshold
])
def test_tables_that_are_not_small_crosstabs_pass(data: str):
    assert scan("x.csv", data).verdict.value == "pass"


@pytest.mark.parametrize("obj", [
    {"by_region": {"London": 3, "North": 45, "South": 60}},
    {"deaths": [3, 12, 40, 55]},
    {"columns": ["male", "female"], "index": ["<40", "40+"], "data": [[3, 40], [50, 61]]},
    {"confusion_matrix": [[50, 2], [40, 61]]},
    {"male": {"<40": 3, "40+": 50}, "female": {"<40": 20, "40+": 31}},
    {"各省病例数": {"北京": 5, "上海": 40}},
])
def test_counts_in_json_outputs_are_checked(obj: object):
    assert scan("c.json", json.dumps(obj, ensure_ascii=False)).verdict.value != "pass"


@pytest.mark.parametrize("obj", [
    {"params": {"C": 1.0, "max_iter": 200, "n_jobs": 4, "random_state": 42}},
    {"cv": {"n_splits": 5}, "rf": {"n_estimators": 300, "max_depth": 6}},
    {"by_region": {"London": 300, "North": 450}},
])
def test_settings_and_large_counts_in_json_pass(obj: object):
    assert scan("c.json", json.dumps(obj)).verdict.value == "pass"


@pytest.mark.parametrize(("text", "value"), [
    ("8\x1d", 8.0), ("３", 3.0), ("4\u200b", 4.0), ("\u20605", 5.0), ("٣", 3.0), (" 1,234 ", 1234.0),
    ("1_000", None), ("nan", None), ("infinity", None), ("1e999", None), ("12%", None), ("", None),
])
def test_numbers_are_parsed_one_strict_way(text: str, value: float | None):
    assert parse_number(text) == value


def test_a_count_disguised_with_invisible_characters_is_still_a_count():
    assert scan("d.csv", "age_band,n\n18-39,4\u200b\n40-59,300\n").verdict.value == "block"


# --- identifiers ----------------------------------------------------------------------------------------------

ENCODINGS = {
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "base32": lambda v: base64.b32encode(v.encode()).decode().lower(),
    "base85": lambda v: base64.b85encode(v.encode()).decode(),
    "ascii85": lambda v: base64.a85encode(v.encode(), adobe=True).decode(),
    "hex-bytes": lambda v: " ".join(f"{ord(c):02x}" for c in v),
    "octal-escapes": lambda v: "".join(f"\\{ord(c):03o}" for c in v),
    "css-escapes": lambda v: "".join(f"\\{ord(c):x} " for c in v),
    "character-codes": lambda v: ", ".join(str(ord(c)) for c in v),
}


@pytest.mark.parametrize("kind", sorted(ENCODINGS))
@pytest.mark.parametrize("value", [MOBILE, RESIDENT_ID])
def test_short_encodings_and_byte_codes_are_decoded(kind: str, value: str):
    assert (kind, value) in decoded_texts(f"ref {ENCODINGS[kind](value)} end")


@pytest.mark.parametrize("kind", sorted(ENCODINGS))
def test_an_encoded_identifier_blocks_in_text_and_in_a_table_cell(kind: str):
    encoded = ENCODINGS[kind](MOBILE)
    assert scan("t.txt", f"token: {encoded}\n").verdict.value == "block"
    cell = '"' + encoded.replace('"', '""') + '"'
    assert scan("t.csv", f"token,n\n{cell},500\nother,600\n").verdict.value == "block"


def test_the_cells_polars_picks_for_decoding_are_every_cell_a_decoder_reads():
    """The vectorised gate of `encoded_cells` leaves out only cells `decoded_texts` finds nothing in."""
    encoded = [f(v) for f in ENCODINGS.values() for v in (MOBILE, RESIDENT_ID, "jane.doe@example.org")]
    cells = [*encoded, *(f"ref {e} end" for e in encoded), *(e.replace(" ", "\x1c") for e in encoded),
             base64.b64encode(MOBILE.encode()).decode() + "==", MOBILE, RESIDENT_ID, "complications and HbA1c 7.1%",
             "masked 138****1234.", "Follow-up 2023-05-16.", "wxid_abcdefgh12 BP 120/80", "<~ not ascii85 ~>"]
    found = encoded_cells(pl.DataFrame({"c": cells}))
    first = {value: row for row, value in reversed(list(enumerate(cells)))}  # each value at its first row
    every_cell = [({"row": row + 1, "column": "c", "decoded": kind}, m) for value, row in first.items()
                  for kind, text in decoded_texts(value) for m in find_all(text)]
    assert sorted(map(repr, found)) == sorted(map(repr, every_cell))
    assert {where["decoded"] for where, _m in found} >= set(ENCODINGS)


@pytest.mark.parametrize(("name", "data"), [
    ("l.txt", "\n".join(RESIDENT_ID) + "\n"),
    ("r.md", "| d |\n|---|\n" + "".join(f"| {c} |\n" for c in MOBILE)),
    ("c.md", "| " + " | ".join(f"c{i}" for i in range(11)) + " |\n|" + "---|" * 11 + "\n| " + " | ".join(MOBILE)
     + " |\n"),
    ("v.csv", "site,d,v\n" + "".join(f"A,{c},{20 + i}\n" for i, c in enumerate(MOBILE))),
    ("h.csv", "a,b,c,d,e,f,g,h,i,j,k,l\nrow," + ",".join(MOBILE) + "\n"),
    ("j.json", json.dumps({"v": [int(c) for c in MOBILE]})),
    ("s.svg", '<svg xmlns="http://www.w3.org/2000/svg">' + "".join(f'<rect x="{c}" y="{i}"/>' for i, c in
                                                                    enumerate(MOBILE)) + "</svg>"),
    ("p.svg", f'<svg xmlns="http://www.w3.org/2000/svg"><polyline points="{" ".join(MOBILE)}"/></svg>'),
])
def test_an_identifier_written_one_digit_at_a_time_is_read_joined(name: str, data: str):
    result = scan(name, data)
    assert result.verdict.value == "block"
    assert {f.entity for f in result.findings if f.check == "personal-data"} == {
        "CN_RESIDENT_ID" if data.count("X") or RESIDENT_ID in data.replace("\n", "") else "CN_PHONE"}


def test_digits_of_a_printed_table_read_across_columns_are_not_a_phone_number():
    text = ("            region  2019  2020  2021  2022\n0       North East   620   563   597   579\n"
            "7       South East   142   162    89   867\n5  East of England   126   713   198   794\n")
    assert scan("w.txt", text).verdict.value == "pass"


def test_a_very_long_run_of_chinese_is_read_in_windows_without_false_names():
    assert names.run_names("王" * 20000) == ()
    filler = "本研究采用回顾性队列设计数据来源于区域卫生信息平台" * 30
    found = names.run_names(filler[:333] + "患者陈志强" + filler[333:])
    assert [m.value for m in found] == ["陈志强"]


@pytest.mark.parametrize("text", [
    "Patients were seen at the John Radcliffe Hospital and the Royal Victoria Infirmary.",
    "本研究在宋庆龄儿童医院和邵逸夫医院开展。",
])
def test_hospitals_named_after_people_are_not_person_names(text: str):
    assert scan("s.md", text + "\n").verdict.value == "pass"


def test_a_person_next_to_a_hospital_is_still_found():
    assert scan("r.txt", "Referred by Helen Marsh to the John Radcliffe Hospital.\n").verdict.value == "review"


def test_masked_identifiers_beside_counts_pass_and_a_masked_listing_goes_to_review():
    assert scan("m.csv", "身份证号,例数\n110105********002X,120\n3101**********1377,135\n").verdict.value == "pass"
    listing = scan("l.csv", "patient_id,age\n110105********002X,54\n3101**********1377,61\n")
    assert [(f.verdict.value, f.rule) for f in listing.findings] == [("review", "masked-identifiers")]
    assert scan("u.csv", "patient_id,n\n110105194912310021,54\n").verdict.value == "block"  # not masked


def test_cells_of_every_parquet_type_are_read_without_failing():
    import io

    import polars as pl

    df = pl.DataFrame({"l": [[1, 2], [3]], "s": [{"a": 1}, {"a": 2}], "b": [b"x", b"y"], "d": [None, None],
                       "dt": pl.Series([1, 2]).cast(pl.Datetime), "c": pl.Series(["1", "3"]).cast(pl.Categorical),
                       "dec": pl.Series(["1.5", "2"]).cast(pl.Decimal(10, 2))})
    buf = io.BytesIO()
    df.write_parquet(buf)
    result = scan("t.parquet", buf.getvalue())
    assert not any(f.rule == "readable" for f in result.findings)


SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80">{}</svg>'


@pytest.mark.parametrize("body", [
    '<text x="4" y="20"><tspan>Zhang</tspan> <tspan>Wei</tspan> was seen</text>',  # pinyin, either side of a space
    '<text x="4" y="20"><tspan font-weight="bold">Jonathan</tspan>\n  <tspan>Simpson</tspan></text>',
    '<text x="4" y="20"><tspan>张</tspan><tspan>伟</tspan>因胸痛入院</text>',  # Chinese, no space
])
def test_a_name_split_across_the_inline_pieces_of_a_text_element_is_found(body: str):
    assert "PERSON" in {f.entity for f in scan("fig.svg", SVG.format(body)).findings}


@pytest.mark.parametrize("body", [
    '<text x="4" y="20" data-first="Jonathan" data-last="Simpson">A</text>',
    '<g aria-label="Zhang" data-given="Wei"><rect width="4" height="4"/></g>',
    '<text x="4" y="20" data-surname="张" data-given="伟因胸痛入院">A</text>',
    f'<text x="4" y="20" data-a="ID {RESIDENT_ID[:9]}" data-b="{RESIDENT_ID[9:]}">A</text>',
])
def test_personal_data_spread_over_the_attributes_of_one_element_is_found(body: str):
    assert {f.check for f in scan("fig.svg", SVG.format(body)).findings} & {"personal-data"}


@pytest.mark.parametrize("body", [
    '<text x="4" y="20" fill="Red" stroke="Black" font-family="Open Sans">Admissions by month</text>',
    '<text x="4" y="20"><tspan>Mayo</tspan> <tspan>Clinic</tspan> 2023</text>',
    '<g class="axis" aria-label="Month" data-unit="Year"><text x="1" y="9">Jan</text> <text x="9" y="9">Feb</text></g>',
])
def test_a_chart_whose_pieces_read_together_hold_no_personal_data_passes(body: str):
    assert scan("fig.svg", SVG.format(body)).verdict == "pass"


@pytest.mark.parametrize("obj", [
    {"n_patients": {"A": "07", "B": "12", "C": "25"}},  # JSON has no leading zero: a two-digit count is text
    {"cases": ["07", "12", "25"]},
    {"n_deaths": "03"},
    {"n_patients": {"A": "０７", "B": "１２"}},  # full-width digits
    [["London", "04"], ["Leeds", "31"]],
])
def test_counts_written_as_text_in_json_are_counts(obj: object):
    assert THRESHOLD in {f.rule for f in scan("summary.json", json.dumps(obj, ensure_ascii=False)).findings}


@pytest.mark.parametrize("obj", [
    {"n_patients": {"A": "70", "B": "12", "C": "25"}},
    {"version": "3", "id": "07", "release": "2024.1"},
    {"model": {"n_estimators": "100", "max_depth": "08"}},
])
def test_text_numbers_in_json_that_are_not_small_counts_pass(obj: object):
    assert scan("summary.json", json.dumps(obj)).verdict == "pass"
