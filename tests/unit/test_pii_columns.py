"""Column-level detection of direct identifiers in tables, reporting counts and never values."""

import polars as pl

from enclave.pii.columns import scan_frame
from tests.identifiers import RID, RID_2


def test_identifier_columns_found_with_row_counts():
    df = pl.DataFrame({
        "study_id": ["S001", "S002", "S003"],
        "idno": [RID, RID_2, "unknown"],
        "contact": ["13812345678", "139 1234 5678", None],
        "mobile_int": [13812345678, 13912345678, 13712345678],
        "age": [34, 55, 61],
        "notes": ["复查", "患者李明，住院号ZY88231", "ok"],
    })
    found = {(f.column, f.entity): f for f in scan_frame(df)}
    assert found[("idno", "CN_RESIDENT_ID")].rows == 2
    assert found[("contact", "CN_PHONE")].rows == 2
    assert found[("mobile_int", "CN_PHONE")].rows == 3
    assert ("notes", "MEDICAL_RECORD_NO") in found and ("notes", "PERSON") in found
    assert not any(col in ("study_id", "age") for col, _ in found)
    assert all(RID not in str(f.to_dict()) for f in found.values())


def test_header_hints_catch_names_without_patterns():
    df = pl.DataFrame({"姓名": ["王芳", "李强"], "diagnosis": ["E11", "I10"]})
    found = scan_frame(df)
    assert [(f.column, f.entity, f.by) for f in found] == [("姓名", "PERSON", "column name")]


def test_statistics_and_masked_values_are_clean():
    df = pl.DataFrame({"phone_masked": ["138****5678", "139****0000"], "count": [123456789012, 5],
                       "p": [0.0001, 0.5], "period": ["2019-2023", "2020-01-01"]})
    assert [f.entity for f in scan_frame(df) if f.by == "values"] == []


def test_bare_chinese_name_column_is_found_but_categories_are_not():
    import random

    rng = random.Random(1)
    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
    names = [rng.choice("王李张刘陈杨黄赵吴周") + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
             for _ in range(200)]
    df = pl.DataFrame({"who": names, "city": [rng.choice(["北京", "上海", "广州", "成都"]) for _ in range(200)],
                       "dept": [rng.choice(["内科", "外科", "儿科", "王府井"]) for _ in range(200)]})
    found = {(f.column, f.entity): f.rows for f in scan_frame(df)}
    assert found.get(("who", "PERSON"), 0) >= 190
    assert ("city", "PERSON") not in found and ("dept", "PERSON") not in found


def test_english_name_column_is_found_but_capitalised_categories_are_not():
    import random

    rng = random.Random(2)
    first = ["James", "Mary", "Robert", "Linda", "Michael", "Susan", "David", "Karen", "John", "Lisa"]
    last = ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans", "Walker", "O'Brien", "McDonald", "Clarke"]
    df = pl.DataFrame({"x": [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(100)],
                       "ward": [rng.choice(["Heart Failure", "General Surgery", "Renal Unit"]) for _ in range(100)]})
    found = {(f.column, f.entity) for f in scan_frame(df)}
    assert ("x", "PERSON") in found and not any(col == "ward" for col, _ in found)
