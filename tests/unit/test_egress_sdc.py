"""Disclosure control as a trained output checker sees it, through `scan_bytes`: counts recognised by
what they hold, counts in disguise, secondary disclosure, order statistics, tables printed into text,
and record-level data recognised by its shape (and not by a column of distinct months)."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def scan(name: str, data: str | bytes) -> dict:
    return scan_bytes(name, data.encode() if isinstance(data, str) else data, POLICY).to_dict()


def rules(result: dict) -> set[tuple[str, int | None, str | None]]:
    return {(f.get("rule"), f.get("location", {}).get("row"), f.get("location", {}).get("column"))
            for f in result["findings"]}


def rule_names(result: dict) -> set[str]:
    return {f.get("rule") for f in result["findings"]}


def notebook(plain: str, source: str = "df") -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": source, "metadata": {}, "execution_count": 1, "outputs": [
            {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": plain}}]}]})


@pytest.mark.parametrize("column", ["n_event", "n_at_risk", "n_positive", "n_censored", "cases", "deaths", "events",
                                    "例数", "人数", "死亡数", "number_of_admissions"])
def test_count_columns_are_recognised_by_their_many_names(column):
    r = scan("t.csv", f"group,{column}\nA,120\nB,4\n")
    assert ("threshold>=10", 2, column) in rules(r)


def test_counts_are_recognised_by_content_also_as_floats():
    r = scan("x.csv", "diagnosis,Diabetes,No diabetes\nE11,120,300\nI10,3,210\n")
    assert ("threshold>=10", 2, "Diabetes") in rules(r)
    r = scan("f.csv", "area,cases\nA,12.0\nB,4.0\n")
    assert ("threshold>=10", 2, "cases") in rules(r)


@pytest.mark.parametrize("cell", ["7人", "7 例", "７", "７人", "7 patients", "7 Cases", "7人次"])
def test_counts_written_with_their_unit_or_in_full_width_digits_are_counts(cell):
    r = scan("u.csv", f"group,n\nA,120\nB,{cell}\nC,130\n")
    assert ("threshold>=10", 2, "n") in rules(r), r
    assert r["verdict"] == "block"


def test_counts_with_their_unit_at_the_threshold_pass_and_a_word_that_is_not_a_unit_is_no_count():
    assert scan("u.csv", "group,n\nA,120人\nB,10人\nC,130人\n")["verdict"] == "pass"
    assert ("threshold>=10", 2, "n") in rules(scan("u.csv", "group,n\nA,120人\nB,9人\nC,130人\n"))
    assert scan("m.csv", "group,follow_up\nA,3个月\nB,6个月\nC,12个月\n")["verdict"] == "pass"


@pytest.mark.parametrize(("cells", "small"), [(("一百二十", "七", "一百三十"), 7),
                                             (("一千零五", "九例", "两万三千"), 9),
                                             (("一万二千三百四十五", "三人", "十二万"), 3)])
def test_counts_in_chinese_numerals_are_read_as_their_values(cells, small):
    a, b, c = cells
    r = scan("cn.csv", f"组别,例数\n甲,{a}\n乙,{b}\n丙,{c}\n")
    assert [f["detail"] for f in r["findings"] if f.get("rule") == "threshold>=10"] == \
        [f"count {small} below threshold 10"], r


def test_chinese_numerals_at_the_threshold_and_labels_made_of_numerals_pass():
    assert scan("cn.csv", "组别,例数\n甲,一百二十\n乙,十\n丙,一百三十\n")["verdict"] == "pass"
    assert scan("cn.csv", "期别,例数\n一,120\n二,130\n三,140\n")["verdict"] == "pass"
    # characters that make no number are labels, not counts
    assert scan("cn.csv", "组别,编号\n甲,一二三\n乙,百十\n丙,十十\n")["verdict"] == "pass"


def test_a_table_whose_digits_defeat_the_type_guess_is_read_not_refused():
    # polars guesses an integer column from a full-width '７' and then cannot parse it: read as text instead
    r = scan("fw.csv", "group,n\nA,１２０\nB,１３０\nC,１４５\n")
    assert r["verdict"] == "pass", r
    assert not [f for f in r["findings"] if f.get("rule") == "readable"]


def test_keys_flags_and_years_are_not_counts():
    assert scan("s.csv", "stage,n\n1,120\n2,85\n3,40\n4,22\n")["verdict"] == "pass"
    assert scan("d.csv", "diabetes,n,mean_sbp\n0,3120,131.2\n1,840,138.9\n")["verdict"] == "pass"
    assert scan("y.csv", "year,region,n\n2019,A,120\n2020,A,130\n2021,A,125\n")["verdict"] == "pass"


def test_a_life_table_with_small_steps_is_blocked_and_any_survival_table_is_reviewed():
    r = scan("km.csv", "time,n_at_risk,n_event,survival\n0,200,0,1.0\n30,180,20,0.9\n60,176,20,0.8\n")
    assert ("small-step", 3, "n_at_risk") in rules(r) and r["verdict"] == "block"
    r = scan("ok.csv", "time_days,n_at_risk,n_event,survival\n0,500,10,1.0\n90,450,40,0.92\n180,400,40,0.84\n")
    assert rule_names(r) == {"survival-review"} and r["verdict"] == "review"


def test_n_percent_cells_are_counts():
    r = scan("t1.csv", "Characteristic,\"Treated, n (%)\"\nFemale,120 (48.0%)\nSmoker,6 (2.4%)\n")
    assert ("threshold>=10", 2, "Treated, n (%)") in rules(r)
    r = scan("t1.csv", "特征,病例组 例(%)\n男性,56（45.2）\n吸烟,7（5.6）\n")
    assert ("threshold>=10", 2, "病例组 例(%)") in rules(r)
    r = scan("t1.csv", "Characteristic,n (%)\nAge 18-39,<10 (1.8%)\nAge 40+,440 (98.2%)\n")
    assert ("percentage-reveals-suppressed", 1, "n (%)") in rules(r)


def test_means_in_n_sd_cells_are_not_counts():
    r = scan("t1.csv", "Characteristic,\"Treated (n=420), n (%)\"\nFemale,202 (48.1%)\n\"Age, mean (SD)\",61.2 (9.8)\n"
                       "\"Visits, median (IQR)\",4 (2)\n")
    assert r["verdict"] == "pass", r


def test_a_percentage_with_its_denominator_is_a_count():
    r = scan("p.csv", "site,denominator,pct\nA,420,12.0\nB,380,1.3\n")
    assert ("threshold>=10", 2, "pct") in rules(r)
    assert scan("p.csv", "site,denominator,pct\nA,4200,12.0\nB,3800,8.5\n")["verdict"] == "pass"


@pytest.mark.parametrize("mark", ["<10", "*", "[REDACTED]", ""])
def test_a_suppressed_cell_that_the_totals_give_back_is_flagged(mark):
    r = scan("x.csv", f"region,male,female,total\nNorth,120,130,250\nSouth,{mark},55,95\nTotal,160,185,345\n")
    found = [f for f in r["findings"] if f["rule"] == "secondary-suppression"]
    assert [(f["location"]["row"], f["location"]["column"]) for f in found] == [(2, "male")]
    assert "40" in found[0]["detail"] and r["verdict"] == "block"


def test_complementary_suppression_is_not_recoverable():
    r = scan("x.csv", "region,male,female,total\nNorth,120,130,250\nSouth,*,*,*\nEast,*,*,*\nTotal,230,255,485\n")
    assert r["verdict"] == "pass", r


def test_cumulative_series_with_small_steps():
    r = scan("c.csv", "week,cumulative_cases\n1,20\n2,34\n3,36\n4,51\n")
    assert ("small-step", 3, "cumulative_cases") in rules(r)
    assert scan("c.csv", "week,cumulative_cases\n1,20\n2,40\n3,60\n")["verdict"] == "pass"


def test_the_same_table_with_and_without_one_category_in_one_file():
    full = "| region | n |\n|---|---|\n| A | 240 |\n| B | 180 |\n| C | 95 |\n"
    less = full.replace("| 180 |", "| 177 |")
    r = scan("d.md", f"All\n\n{full}\nExcluding HIV\n\n{less}")
    found = [f for f in r["findings"] if f["rule"] == "differencing"]
    assert found and (found[0]["location"]["row"], found[0]["location"]["column"]) == (2, "n")
    assert "row 'b'" in found[0]["detail"]
    assert scan("d.md", f"All\n\n{full}")["verdict"] == "pass"


def test_the_same_table_on_two_sheets_of_a_workbook():
    import xlsxwriter

    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf) as wb:
        for sheet, b in (("all", 180), ("no_hiv", 176)):
            ws = wb.add_worksheet(sheet)
            for r, row in enumerate([("region", "n"), ("A", 240), ("B", b), ("C", 95)]):
                ws.write_row(r, 0, row)
    r = scan("t.xlsx", buf.getvalue())
    assert "differencing" in rule_names(r), r


def test_minima_maxima_and_statistics_of_small_groups():
    assert "min-max" in rule_names(scan("m.csv", "arm,n,min_age,max_age\nA,140,19,94\n"))
    assert "min-max" in rule_names(scan("m.csv", "组别,人数,最小值,最大值\n试验组,120,31.2,88.0\n"))
    r = scan("g.csv", "hospital,n,mean_los\nA,210,5.2\nB,6,11.8\n")
    assert ("statistic-of-small-group", 2, "mean_los") in rules(r)
    r = scan("h.csv", "Variable,Cases (n=6),Controls (n=240)\n\"Age, mean (SD)\",58.3 (9.1),55.1 (10.2)\n")
    assert ("statistic-of-small-group", None, "Cases (n=6)") in rules(r)


PANDAS = """   region  n_cases  deaths
0   North      120      15
1   South       85       3
2    East       64      22
"""
POLARS = """shape: (3, 2)
┌────────┬─────┐
│ region ┆ n   │
│ ---    ┆ --- │
│ str    ┆ i64 │
╞════════╪═════╡
│ North  ┆ 120 │
│ South  ┆ 4   │
│ East   ┆ 64  │
└────────┴─────┘
"""
DESCRIBE = """              age         bmi
count    6.000000    6.000000
mean    54.166667   27.100000
min     41.000000   22.100000
50%     53.500000   27.000000
max     69.000000   31.500000
"""
R_SURVIVAL = """ time n.risk n.event survival std.err lower 95% CI upper 95% CI
    5    228       1    0.996 0.00438        0.987        1.000
   11    227       3    0.982 0.00869        0.966        1.000
"""
VALUE_COUNTS = "diagnosis\nE11    120\nI10     85\nC50      4\nName: count, dtype: int64\n"


@pytest.mark.parametrize(("name", "text", "rule", "column"), [
    ("p.log", PANDAS, "threshold>=10", "deaths"),
    ("p.txt", POLARS, "threshold>=10", "n"),
    ("d.txt", DESCRIBE, "statistic-of-small-group", "age"),
    ("k.txt", R_SURVIVAL, "threshold>=10", "n.event"),
    ("v.txt", VALUE_COUNTS, "threshold>=10", "count"),
    ("m.md", "| Group | n |\n|---|---|\n| A | 120 |\n| B | 2 |\n", "threshold>=10", "n"),
    ("h.html", "<html><body><table><tr><th>site</th><th>n</th></tr><tr><td>A</td><td>120</td></tr>"
               "<tr><td>B</td><td>3</td></tr></table></body></html>", "threshold>=10", "n"),
    ("nb.ipynb", notebook(PANDAS), "threshold>=10", "deaths"),
])
def test_tables_printed_into_text_get_the_table_checks(name, text, rule, column):
    r = scan(name, text)
    assert any(f["rule"] == rule and f["location"].get("column") == column and "table_kind" in f["location"]
               for f in r["findings"]), r


def test_describe_output_shows_minima_and_maxima():
    big = DESCRIBE.replace("count    6.000000    6.000000", "count  412.000000  398.000000")
    r = scan("d.txt", big)
    assert rule_names(r) == {"min-max"} and r["verdict"] == "review"


def test_the_printed_head_of_records_is_blocked_and_an_aggregate_head_is_not():
    head = ("   study_no sex  age  visit_date diagnosis\n0   S100234   F   54  2021-03-04       E11\n"
            "1   S100235   M   61  2021-03-09       I10\n2   S100236   F   47  2021-04-11       E11\n")
    r = scan("h.ipynb", notebook(head, "df.head()"))
    assert "printed-records" in rule_names(r) and r["verdict"] == "block"
    agg = "  age_band    n\n0    18-39  120\n1    40-64  340\n2      65+  215\n"
    assert scan("a.ipynb", notebook(agg, "agg.head()"))["verdict"] == "pass"


def test_log_lines_are_not_tables():
    log = ("2024-01-01 12:00:01 INFO loaded 120 rows\n2024-01-01 12:00:02 INFO loaded 4 rows\n"
           "2024-01-01 12:00:03 INFO loaded 3 rows\n")
    assert scan("run.log", log)["verdict"] == "pass"
    ols = ("=====\nDep. Variable:      hba1c   R-squared:    0.312\nNo. Observations:   2050   AIC:   8812.\n"
           "Df Residuals:       2046   BIC:   8840.\n=====\n")
    assert scan("ols.txt", ols)["verdict"] == "pass"


def test_columns_of_distinct_months_sites_and_age_bands_are_not_records():
    """Before: any text column with >= 95 % distinct values in >= 20 rows blocked the table."""
    months = "month,n\n" + "".join(f"{y}-{m:02d},{100 + m}\n" for y in (2021, 2022) for m in range(1, 13))
    assert scan("m.csv", months)["verdict"] == "pass"
    sites = "site,recruited\n" + "".join(f"Site {i:02d},{20 + i}\n" for i in range(1, 41))
    assert scan("s.csv", sites)["verdict"] == "pass"


def _extract(n: int) -> pl.DataFrame:
    import random

    rng = random.Random(3)
    return pl.DataFrame({"sex": [rng.choice("MF") for _ in range(n)], "age": [rng.randrange(18, 95) for _ in range(n)],
                         "visit_date": [f"2021-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
                                        for _ in range(n)],
                         "diagnosis": [rng.choice(["E11", "I10", "C50", "J44"]) for _ in range(n)],
                         "sbp": [round(rng.gauss(135, 18), 1) for _ in range(n)]})


def test_records_are_recognised_by_their_shape():
    r = scan("x.csv", _extract(60).write_csv())
    assert "record-shape" in rule_names(r) and r["verdict"] == "block"
    r = scan("dob.csv", "dob,sex,outcome\n1956-03-14,F,alive\n1972-11-02,M,dead\n")
    assert "date-of-birth" in rule_names(r)
    ids = "ref,ward\n" + "".join(f"H{880000 + 7 * i},{'ABCD'[i % 4]}\n" for i in range(30))
    assert "identifying-column" in rule_names(scan("i.csv", ids))


def test_small_counts_in_prose_and_chart_labels():
    assert "count-in-text" in rule_names(scan("r.md", "Of the 412 patients, 3 patients died.\n"))
    assert "count-in-text" in rule_names(scan("r.txt", "术后30天内死亡3例。"))
    assert scan("r.md", "Of 12,480 patients, 412 died; n = 1,204 were readmitted.\n")["verdict"] == "pass"
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><title>Admissions (n)</title><text>A</text><text>120</text>'
           '<text>B</text><text>4</text></svg>')
    assert "count-in-chart" in rule_names(scan("c.svg", svg))


def test_lifelines_event_tables_and_pandas_crosstabs_with_margins():
    lifelines = ("          removed  observed  censored  entrance  at_risk\nevent_at\n"
                 "0.0             0         0         0       163      163\n"
                 "6.0             1         1         0         0      163\n"
                 "7.0             2         1         1         0      162\n")
    r = scan("ll.txt", lifelines)
    assert ("threshold>=10", 2, "observed") in rules(r) and "survival-review" in rule_names(r)
    assert not any(f["location"].get("column") == "event_at" for f in r["findings"])  # a time, not a count
    crosstab = "col_0   F   M  All\nrow_0\nA      12   3   15\nB       8  20   28\nAll    20  23   43\n"
    assert {("threshold>=10", 2, "F"), ("threshold>=10", 1, "M")} <= rules(scan("ct.txt", crosstab))


def test_n_of_n_cells_and_rates_with_their_population():
    assert ("threshold>=10", 1, "events/total") in rules(scan("n.csv", "arm,events/total\nA,5/120\nB,30/118\n"))
    r = scan("r.csv", "region,population,incidence_per_100k\nA,80000,5.0\nB,120000,20.0\n")
    assert ("threshold>=10", 1, "incidence_per_100k") in rules(r)
    r = scan("r.csv", "地区,人口数,发病率(1/10万)\n甲,80000,5.0\n乙,120000,20.0\n")
    assert ("threshold>=10", 1, "发病率(1/10万)") in rules(r)
    r = scan("g.csv", "group,N,pct_outcome\nA,300,1.0\nB,250,20.0\n")
    assert ("threshold>=10", 1, "pct_outcome") in rules(r)


def test_model_settings_and_frame_metadata_are_not_counts():
    assert scan("h.csv", "model,max_depth,n_estimators\nrf,6,500\ngbm,3,300\n")["verdict"] == "pass"
    assert scan("d.txt", "age       int64\nsex      object\nbmi     float64\ndtype: object\n")["verdict"] == "pass"
    info = (" #   Column  Non-Null Count  Dtype\n---  ------  --------------  -----\n"
            " 0   age     48210 non-null  int64\n 1   sex     48205 non-null  object\n"
            " 2   bmi     47001 non-null  float64\n")
    assert scan("i.txt", info)["verdict"] == "pass"


def test_the_same_table_with_and_without_one_category_across_files_of_one_scan(tmp_path):
    from click.testing import CliRunner

    from enclave_ops.cli import main

    (tmp_path / "all.csv").write_text("region,n\nA,240\nB,180\nC,95\n")
    (tmp_path / "no_hiv.csv").write_text("region,n\nA,240\nB,176\nC,95\n")
    paths = [str(tmp_path / "all.csv"), str(tmp_path / "no_hiv.csv")]
    res = CliRunner().invoke(main, ["egress", "scan", *paths, "--json"])
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(res.output)}
    assert rows["all.csv"]["verdict"] == "pass"
    found = [f for f in rows["no_hiv.csv"]["findings"] if f["rule"] == "differencing"]
    assert found and "all.csv" in found[0]["detail"] and found[0]["location"]["row"] == 2


def test_a_survival_curve_with_numbers_at_risk_is_reviewed_and_axis_ticks_are_not_counts():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><text>Survival probability</text><text>Number at risk</text>'
           + "".join(f"<text>{v}</text>" for v in (228, 145, 80, 6)) + "</svg>")
    assert {"survival-review", "count-in-chart"} <= rule_names(scan("km.svg", svg))
    ticks = ('<svg xmlns="http://www.w3.org/2000/svg"><text>Patients (n)</text>'
             + "".join(f"<text>{v}</text>" for v in range(0, 10, 2)) + "</svg>")
    assert scan("t.svg", ticks)["verdict"] == "pass"


def test_table_checks_read_nested_and_non_finite_columns_without_failing():
    from egress_review.tables import check_table

    df = pl.DataFrame({"g": ["a", "b"], "l": [[1, 2], [3]], "s": [{"x": 1}, {"x": 2}], "n": [float("inf"), 40.0]})
    assert [f.rule for f in check_table(df, POLICY)] == []


def test_the_total_of_a_magnitude_table_is_not_a_count():
    from policies.schema import DisclosureControl

    os_policy = POLICY.model_copy(update={"sdc": DisclosureControl(mode="opensafely")})
    r = scan_bytes("d.csv", b"sector,total,top1,top2\nA,1003,300,200\nB,7,2,1\n", os_policy).to_dict()
    assert not any(f["rule"].startswith(("round-to", "redact")) for f in r["findings"]), r


def test_tableone_group_sizes_ranges_and_percentages_of_a_stated_n():
    t1 = ("variable,Overall,Treated,Control\nn,420,6,414\nsex = F (%),202 (48.1),3 (50.0),199 (48.1)\n"
          "age (mean (SD)),61.2 (9.8),58.0 (8.0),61.3 (9.8)\n")
    found = rules(scan("t1.csv", t1))
    assert {("threshold>=10", 1, "Treated"), ("threshold>=10", 2, "Treated"),
            ("statistic-of-small-group", None, "Treated")} <= found
    assert scan("t1.csv", t1.replace(",6,", ",420,").replace("3 (50.0)", "202 (48.1)"))["verdict"] == "pass"
    r = scan("r.csv", "Characteristic,Overall\n\"Age, median (range)\",62 (18-97)\n")
    assert "min-max" in rule_names(r)
    r = scan("p.csv", "group,\"Female, % (N=340)\"\nA,1.5\nB,40.0\n")
    assert ("threshold>=10", 1, "Female, % (N=340)") in rules(r)


def test_a_total_row_named_in_any_label_column_gives_back_a_suppressed_cell():
    r = scan("t.csv", "characteristic,level,n\nsex,F,120\nsex,M,*\nsex,Total,130\n")
    assert ("secondary-suppression", 2, "n") in rules(r)


def test_counts_in_json_summaries():
    assert ("threshold>=10", 2, "n") in rules(scan("a.json", json.dumps([{"region": "A", "n": 120},
                                                                          {"region": "B", "n": 4}])))
    assert ("threshold>=10", 1, "n_deaths") in rules(scan("b.json", json.dumps({"s": {"n_deaths": 3, "n": 412}})))
    assert scan("d.json", json.dumps({"version": 3, "sites": ["A", "B"], "n_patients": 48210}))["verdict"] == "pass"


def test_a_printed_sample_of_records_is_blocked_and_a_printed_group_mean_is_not():
    sample = ("      sex  age diagnosis    sbp\n1832    F   54       E11  131.2\n17      M   61       I10  142.0\n"
              "4411    F   47       E11  128.9\n")
    assert "printed-records" in rule_names(scan("s.ipynb", notebook(sample, "df.sample(3)")))
    assert scan("g.ipynb", notebook("  sex   bmi\n0   F  27.1\n1   M  28.0\n"))["verdict"] == "pass"


def test_an_export_request_compares_the_tables_of_its_files(world):
    from egress_review import workflow
    from enclave.db import session_scope
    from tests.egress_helpers import submit

    full, less = b"region,n\nA,240\nB,180\nC,95\n", b"region,n\nA,240\nB,176\nC,95\n"
    rid = submit(world, [("all.csv", full), ("no_hiv.csv", less)])
    with session_scope() as s:
        files = {f.name: f for f in workflow.get_request(s, rid).files}
        assert files["all.csv"].verdict == "pass" and files["no_hiv.csv"].verdict == "review"
        assert any(f["rule"] == "differencing" for f in files["no_hiv.csv"].scan["findings"])


def test_counts_of_sites_and_zero_missing_values_are_not_person_counts():
    sites = "hospital_level,n_hospitals,n_patients\nTertiary,3,4120\nSecondary,12,8800\n"
    assert scan("s.csv", sites)["verdict"] == "pass"
    r = scan("d.csv", "variable,type,n_missing\nage,int,0\nsex,str,3\nbmi,float,412\n")
    assert {x[:2] for x in rules(r)} == {("threshold>=10", 2)}


STATA = ("      sex |      Freq.     Percent        Cum.\n------------+-----------------------------------\n"
         "          F |        212       50.12       50.12\n          M |          4        0.95       51.07\n"
         "------------+-----------------------------------\n      Total |        216      100.00\n")


def test_stata_tabulate_r_model_summaries_and_extremes_in_prose():
    assert ("threshold>=10", 2, "Freq.") in rules(scan("tab.log", STATA))
    assert scan("tab.log", STATA.replace("     4        0.95", "   211       49.88"))["verdict"] == "pass"
    r = scan("lm.txt", "Residual standard error: 1.2 on 7 degrees of freedom\nF-statistic: 3.1 on 2 and 7 DF\n")
    assert {f["rule"] for f in r["findings"]} == {"residual_df>=10"} and r["verdict"] == "block"
    assert scan("lm.txt", "Residual standard error: 1.2 on 4812 degrees of freedom\n")["verdict"] == "pass"
    assert "min-max" in rule_names(scan("a.txt", "The oldest participant was 103 years old.\n"))
    assert "min-max" in rule_names(scan("a.txt", "年龄最大的患者为98岁。"))
    assert scan("a.txt", "Median follow-up was 2.4 years (IQR 1.1-3.9).\n")["verdict"] == "pass"


def test_an_aggregate_by_long_organisation_codes_is_not_a_list_of_records():
    codes = "org_code,n_patients\n" + "".join(f"H{880000 + 7 * i},{120 + i}\n" for i in range(30))
    assert scan("o.csv", codes)["verdict"] == "pass"


def test_the_share_of_unique_rows_is_counted_from_the_widest_key_as_over_whole_rows():
    import random

    from egress_review.records import _unique_share

    rng = random.Random(1)
    for _ in range(200):  # repeats, nulls and rows equal on every key
        n = rng.randint(1, 60)
        df = pl.DataFrame({c: [rng.choice([None, "a", "b", str(rng.randint(0, 9))]) for _ in range(n)] for c in "xyz"})
        for widest in "xyz":
            assert _unique_share(df, ["x", "y", "z"], widest) == df.select("x", "y", "z").is_unique().mean()


def _table_one(cell: str, row: str = "HIV positive") -> bytes:
    return (f"| Characteristic | Cases (n=240) | Controls (n=480) |\n|---|---|---|\n"
            f"| Female | 118 (49.2) | 230 (47.9) |\n| {row} | {cell} | 22 (4.6) |\n").encode()


@pytest.mark.parametrize("cell", ["3 (1.3)", "3 (1.25)", "9 (4)", "1 (0.4)"])
def test_a_small_count_whose_bracket_is_its_share_of_the_stated_group_size_is_blocked(cell: str):
    r = scan_bytes("t1.md", _table_one(cell), POLICY)
    assert r.verdict == "block", [f.detail for f in r.findings]


@pytest.mark.parametrize("cell,row,verdict", [
    ("12 (5.0)", "HIV positive", "pass"),       # not the share of 240, but 12 is no small count either way
    ("3 (1.3)", "Age, mean (SD)", "pass"),      # the row says it is a statistic
    ("3 (4.6)", "HIV positive", "review"),      # no share of 240: a small count with another total's share?
])
def test_a_bracket_that_is_not_the_share_of_the_group_size_is_no_count_but_a_small_one_is_asked_about(
        cell: str, row: str, verdict: str):
    r = scan_bytes("t1.md", _table_one(cell, row), POLICY)
    assert r.verdict == verdict, [f.detail for f in r.findings]
