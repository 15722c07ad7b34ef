"""A labelled evaluation set of researcher outputs, generated deterministically (seeded) in memory.

Each file is labelled `must-flag` (an output checker at a UK TRE or OpenSAFELY would stop it: the scan
must say review or block) or `safe` (it must pass), with a class naming what makes it so. More than a
third are safe files that look risky: dates, ICD codes, hospital names, aggregate tables with many
distinct values, masked identifiers, rounded counts, regression output, charts. Chinese and English.
Files are written the way researchers' tools write them (pandas/polars/R prints, statsmodels
summaries, Jupyter notebooks, Markdown and HTML reports, SVG and PNG charts, CSV/Parquet/XLSX).
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

MUST_FLAG = "must-flag"
SAFE = "safe"
SEED = 11

# Resident IDs with correct check digits, computed by hand in tests/identifiers.py (GB 11643-1999 examples).
RESIDENT_IDS = ("11010519491231002X", "310104197706251377", "440305200112311441", "330106198507181370")
MASKED_IDS = ("110105********002X", "3101**********1377", "4403***********441")
HOSPITALS_ZH = (
    "北京协和医院",
    "复旦大学附属中山医院",
    "四川大学华西医院",
    "中山大学附属第一医院",
    "浙江大学医学院附属第一医院",
    "华中科技大学同济医学院附属同济医院",
    "中南大学湘雅医院",
    "上海交通大学医学院附属瑞金医院",
    "首都医科大学附属北京天坛医院",
    "山东大学齐鲁医院",
    "西安交通大学第一附属医院",
    "吉林大学第一医院",
)
HOSPITALS_EN = (
    "Addenbrooke's Hospital",
    "St Thomas' Hospital",
    "Royal Infirmary of Edinburgh",
    "Leeds General Infirmary",
    "Queen Elizabeth Hospital Birmingham",
    "John Radcliffe Hospital",
    "Manchester Royal Infirmary",
    "Freeman Hospital",
    "Southampton General Hospital",
    "Royal Victoria Infirmary",
)
ICD = ("E11.9", "I10", "I21.4", "I63.9", "J44.1", "C34.9", "C50.9", "N18.3", "F32.1", "K74.6", "A15.0", "G30.9")
DRUGS_ZH = ("二甲双胍", "阿托伐他汀", "氨氯地平", "阿司匹林", "胰岛素", "氯吡格雷")
DEPTS_ZH = ("心内科", "内分泌科", "呼吸内科", "肿瘤科", "神经内科")
REGIONS_EN = (
    "North East",
    "North West",
    "Yorkshire",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
)
PROVINCES = ("北京", "上海", "广东", "四川", "湖北", "浙江", "江苏", "山东", "河南", "湖南")
EN_FIRST = ("James", "Olivia", "Thomas", "Emily", "George", "Charlotte", "William", "Amelia", "Henry", "Sophie")
EN_LAST = ("Thompson", "Walker", "Hughes", "Edwards", "Robinson", "Wright", "Clarke", "Harrison", "Turner", "Patel")
ZH_NAMES = ("王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "欧阳明", "司马婷", "诸葛亮亮", "黄晓燕")
PINYIN = ("Wang Jianguo", "Li Xiuying", "Zhang Wei", "Liu Yang", "Chen Jing", "Huang Xiaoyan", "Ouyang Ming")
AGE_BANDS = ("18-39", "40-49", "50-59", "60-69", "70-79", "80+")


@dataclass(frozen=True)
class EvalFile:
    name: str
    data: bytes
    label: str
    cls: str
    lang: str


def _csv(df: pl.DataFrame) -> bytes:
    return df.write_csv().encode()


def _parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def _xlsx(df: pl.DataFrame) -> bytes:
    """A workbook with a fixed creation time, so the same seed gives the same bytes."""
    import datetime

    import xlsxwriter

    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf) as wb:
        wb.set_properties({"created": datetime.datetime(2024, 1, 1)})
        df.write_excel(workbook=wb)
    return buf.getvalue()


def _notebook(cells: list[tuple[str, str | None, str | None]]) -> bytes:
    """cells: (source, text/plain output, text/html output)."""
    out = []
    for n, (src, plain, html) in enumerate(cells, start=1):
        outputs = []
        if plain is not None or html is not None:
            data = {k: v for k, v in (("text/plain", plain), ("text/html", html)) if v is not None}
            outputs.append({"output_type": "execute_result", "execution_count": n, "metadata": {}, "data": data})
        out.append({"cell_type": "code", "execution_count": n, "metadata": {}, "source": src, "outputs": outputs})
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": out,
    }
    return json.dumps(nb, ensure_ascii=False, indent=1).encode()


def _stream_notebook(src: str, text: str) -> bytes:
    nb = json.loads(_notebook([(src, None, None)]))
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    return json.dumps(nb, ensure_ascii=False).encode()


def pandas_print(df: pl.DataFrame, index: bool = True) -> str:
    """A frame as pandas prints it: right-aligned columns, the index on the left."""
    cols = [("", [str(i) for i in range(df.height)])] if index else []
    cols += [
        (
            c,
            [
                "NaN" if v is None else (f"{v:.6f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))
                for v in df[c].to_list()
            ],
        )
        for c in df.columns
    ]
    widths = [max(len(h), *(len(v) for v in vals)) for h, vals in cols]
    lines = ["  ".join(h.rjust(w) for (h, _), w in zip(cols, widths, strict=True))]
    for r in range(df.height):
        lines.append("  ".join(vals[r].rjust(w) for (_, vals), w in zip(cols, widths, strict=True)))
    return "\n".join(lines) + "\n"


def polars_print(df: pl.DataFrame) -> str:
    with pl.Config(tbl_rows=50, tbl_cols=20):
        return str(df) + "\n"


def markdown(df: pl.DataFrame) -> str:
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines) + "\n"


def html_table(df: pl.DataFrame, index: bool = True) -> str:
    head = ("<th></th>" if index else "") + "".join(f"<th>{c}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + (f"<th>{i}</th>" if index else "") + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
        for i, row in enumerate(df.iter_rows())
    )
    return f'<table border="1" class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def png(width: int = 16, height: int = 8, seed: int = 0) -> bytes:
    """A small greyscale chart image with no metadata."""
    rng = random.Random(seed)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(width)) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def png_with_text(key: str, text: str) -> bytes:
    body = key.encode() + b"\x00" + text.encode("latin-1")
    base = png()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return base[:33] + chunk + base[33:]


def svg_bars(title: str, labels: list[str], values: list[int]) -> bytes:
    bars = "".join(
        f'<rect x="{40 + 30 * i}" y="{200 - v // 5}" width="20" height="{v // 5}" fill="#4477aa"/>'
        f'<text x="{40 + 30 * i}" y="215" font-size="9">{lab}</text>'
        f'<text x="{40 + 30 * i}" y="{195 - v // 5}" font-size="9">{v}</text>'
        for i, (lab, v) in enumerate(zip(labels, values, strict=True))
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'
        f' width="{60 + 30 * len(values)}"'
        f' height="230"><title>{title}</title><text x="10" y="15">{title}</text>{bars}</svg>'
    ).encode()


# --- must-flag ----------------------------------------------------------------------------------------------


def small_counts(rng: random.Random) -> Iterator[EvalFile]:
    names = [
        ("n_event", "en"),
        ("n_at_risk", "en"),
        ("n_positive", "en"),
        ("cases", "en"),
        ("deaths", "en"),
        ("events", "en"),
        ("n_censored", "en"),
        ("例数", "zh"),
        ("人数", "zh"),
        ("死亡数", "zh"),
        ("number_of_admissions", "en"),
        ("阳性例数", "zh"),
    ]
    for i, (col, lang) in enumerate(names):
        groups = list(PROVINCES[:5]) if lang == "zh" else list(REGIONS_EN[:5])
        values = [rng.randrange(40, 400) for _ in groups]
        values[rng.randrange(len(values))] = rng.randrange(1, 9)
        key = "地区" if lang == "zh" else "region"
        df = pl.DataFrame({key: groups, col: values})
        if i % 3 == 1:  # integers written as floats, as pandas does after a merge
            df = df.with_columns(pl.col(col).cast(pl.Float64))
        writer = (_csv, _parquet, _xlsx)[i % 3] if i < 9 else _csv
        ext = {_csv: "csv", _parquet: "parquet", _xlsx: "xlsx"}[writer]
        yield EvalFile(f"counts_{i}.{ext}", writer(df), MUST_FLAG, "small-count", lang)
    # a crosstab whose counts carry no count-like name at all: recognised by content
    df = pl.DataFrame({"diagnosis": list(ICD[:4]), "Diabetes": [120, 85, 3, 40], "No diabetes": [300, 210, 95, 150]})
    yield EvalFile("crosstab_content.csv", _csv(df), MUST_FLAG, "small-count", "en")
    df = pl.DataFrame({"科室": list(DEPTS_ZH), "男": [120, 85, 6, 40, 77], "女": [98, 110, 52, 33, 64]})
    yield EvalFile("crosstab_zh.csv", _csv(df), MUST_FLAG, "small-count", "zh")
    yield EvalFile(
        "zero_cell.csv",
        _csv(pl.DataFrame({"site": ["A", "B", "C"], "n_deaths": [34, 0, 51]})),
        MUST_FLAG,
        "small-count",
        "en",
    )


def survival(rng: random.Random) -> Iterator[EvalFile]:
    for i in range(3):
        at_risk, rows = 240 + 10 * i, []
        for t in range(0, 360, 60):
            events, censored = rng.randrange(1, 9), rng.randrange(0, 6)
            rows.append((t, at_risk, events, censored, round(at_risk / (240 + 10 * i), 3)))
            at_risk -= events + censored
        df = pl.DataFrame(rows, schema=["time", "n_at_risk", "n_event", "n_censored", "survival"], orient="row")
        yield EvalFile(f"km_{i}.csv", _csv(df), MUST_FLAG, "survival", "en")
    lines = [
        "Call: survfit(formula = Surv(time, status) ~ arm, data = cohort)",
        "",
        "                arm=A",
        " time n.risk n.event survival std.err lower 95% CI upper 95% CI",
    ]
    at = 128
    for t in (5, 11, 26, 53, 91):
        ev = rng.randrange(1, 5)
        lines.append(f"{t:5d} {at:6d} {ev:7d} {at / 128:8.3f} {0.01 * ev:7.4f} {0.9:12.3f} {1.0:12.3f}")
        at -= ev
    yield EvalFile("km_summary.txt", "\n".join(lines).encode(), MUST_FLAG, "survival", "en")
    zh = pl.DataFrame(
        {
            "随访时间(月)": [0, 6, 12, 18, 24],
            "在险人数": [210, 180, 150, 133, 128],
            "死亡数": [0, 22, 25, 14, 4],
            "生存率": [1.0, 0.895, 0.776, 0.706, 0.685],
        }
    )
    yield EvalFile("life_table_zh.csv", _csv(zh), MUST_FLAG, "survival", "zh")
    # rounded to 10 everywhere, but survival output always goes to review (ACRO)
    ok = pl.DataFrame(
        {
            "time_days": [0, 90, 180, 270],
            "n_at_risk": [500, 450, 400, 350],
            "n_event": [0, 40, 40, 40],
            "survival": [1.0, 0.92, 0.84, 0.76],
        }
    )
    yield EvalFile("km_rounded.csv", _csv(ok), MUST_FLAG, "survival", "en")


def table_one(rng: random.Random) -> Iterator[EvalFile]:
    for i, (open_, close) in enumerate((("(", ")"), ("（", "）"), ("(", ")"))):
        small = rng.randrange(2, 9)
        df = pl.DataFrame(
            {
                "Characteristic": ["Female", "Current smoker", "Type 2 diabetes", "Prior MI"],
                "Treated, n (%)": [
                    f"{120 + i} {open_}48.0%{close}",
                    f"{small} {open_}2.4%{close}",
                    f"{66} {open_}26.4%{close}",
                    f"{31} {open_}12.4%{close}",
                ],
                "Control, n (%)": [
                    f"{130} {open_}50.1%{close}",
                    f"{25} {open_}9.7%{close}",
                    f"{70} {open_}27.0%{close}",
                    f"{40} {open_}15.4%{close}",
                ],
            }
        )
        yield EvalFile(f"table1_{i}.csv", _csv(df), MUST_FLAG, "n-percent", "en")
    zh = pl.DataFrame(
        {
            "特征": ["男性", "吸烟", "糖尿病"],
            "病例组 例(%)": ["56（45.2）", "7（5.6）", "30（24.2）"],
            "对照组 例(%)": ["60（48.0）", "21（16.8）", "28（22.4）"],
        }
    )
    yield EvalFile("table1_zh.csv", _csv(zh), MUST_FLAG, "n-percent", "zh")
    sup = pl.DataFrame(
        {"Characteristic": ["Age 18-39", "Age 40-64", "Age 65+"], "n (%)": ["<10 (1.8%)", "240 (53.1%)", "204 (45.1%)"]}
    )
    yield EvalFile("table1_suppressed_pct.md", markdown(sup).encode(), MUST_FLAG, "n-percent", "en")
    den = pl.DataFrame(
        {"site": list(REGIONS_EN[:4]), "denominator": [420, 380, 290, 510], "pct": [12.0, 1.3, 8.0, 20.0]}
    )
    yield EvalFile("pct_denominator.csv", _csv(den), MUST_FLAG, "percent-denominator", "en")
    rate = pl.DataFrame(
        {"region": list(REGIONS_EN[:3]), "population": [8000, 12000, 6000], "rate_per_1000": [12.5, 0.5, 3.0]}
    )
    yield EvalFile("rate_denominator.csv", _csv(rate), MUST_FLAG, "percent-denominator", "en")
    zh = pl.DataFrame({"医院": list(HOSPITALS_ZH[:3]), "总人数": [300, 250, 400], "死亡率": [10.0, 2.0, 7.5]})
    yield EvalFile("rate_zh.csv", _csv(zh), MUST_FLAG, "percent-denominator", "zh")


def secondary(rng: random.Random) -> Iterator[EvalFile]:
    for i, mark in enumerate(("<10", "*", "[REDACTED]", "", "c")):
        a, b = rng.randrange(30, 200), rng.randrange(30, 200)
        hidden = rng.randrange(1, 9)
        df = pl.DataFrame(
            {
                "region": ["North", "South", "Total"],
                "male": [str(a), mark, str(a + 40)],
                "female": [str(b), "55", str(b + 55)],
                "total": [str(a + b), str(40 + 55 + hidden - hidden + 0), ""],
            }
        )
        # male South = 40, shown suppressed; totals give it back
        df = df.with_columns(pl.Series("total", [str(a + b), str(40 + 55), str(a + b + 95)]))
        yield EvalFile(f"secondary_{i}.csv", _csv(df), MUST_FLAG, "secondary", "en")
    zh = pl.DataFrame({"年龄组": ["18-44", "45-64", "65+", "合计"], "病例数": ["120", "<10", "88", "214"]})
    yield EvalFile("secondary_zh.csv", _csv(zh), MUST_FLAG, "secondary", "zh")
    cum = pl.DataFrame({"week": list(range(1, 9)), "cumulative_cases": [20, 34, 36, 51, 70, 74, 90, 112]})
    yield EvalFile("cumulative.csv", _csv(cum), MUST_FLAG, "cumulative", "en")
    zh = pl.DataFrame({"月份": [f"2023-{m:02d}" for m in range(1, 7)], "累计病例": [45, 60, 63, 80, 95, 120]})
    yield EvalFile("cumulative_zh.csv", _csv(zh), MUST_FLAG, "cumulative", "zh")
    full = pl.DataFrame({"region": list(REGIONS_EN[:4]), "n": [240, 180, 95, 310]})
    less = full.with_columns(pl.Series("n", [240, 177, 95, 310]))
    text = "## All patients\n\n" + markdown(full) + "\n## Excluding patients with HIV\n\n" + markdown(less)
    yield EvalFile("differencing.md", text.encode(), MUST_FLAG, "differencing", "en")
    text = (
        "全部患者:\n"
        + pandas_print(full)
        + "\n排除透析患者后:\n"
        + pandas_print(full.with_columns(pl.Series("n", [236, 180, 95, 310])))
    )
    yield EvalFile("differencing.txt", text.encode(), MUST_FLAG, "differencing", "zh")


def order_statistics(rng: random.Random) -> Iterator[EvalFile]:
    df = pl.DataFrame({"arm": ["A", "B"], "n": [140, 152], "min_age": [19, 21], "max_age": [94, 97]})
    yield EvalFile("minmax.csv", _csv(df), MUST_FLAG, "min-max", "en")
    zh = pl.DataFrame(
        {"组别": ["试验组", "对照组"], "人数": [120, 118], "最小值": [31.2, 29.8], "最大值": [88.0, 91.5]}
    )
    yield EvalFile("minmax_zh.csv", _csv(zh), MUST_FLAG, "min-max", "zh")
    desc = (
        "              age         bmi       hba1c\ncount  412.000000  398.000000  405.000000\n"
        "mean    61.240000   27.800000    7.100000\nstd     11.300000    4.200000    1.300000\n"
        "min     23.000000   16.400000    4.900000\n25%     54.000000   24.900000    6.200000\n"
        "50%     62.000000   27.300000    6.900000\n75%     69.000000   30.200000    7.800000\n"
        "max     96.000000   49.100000   13.200000\n"
    )
    yield EvalFile(
        "describe.ipynb", _notebook([("df[['age','bmi','hba1c']].describe()", desc, None)]), MUST_FLAG, "min-max", "en"
    )
    pdesc = pl.DataFrame(
        {
            "statistic": ["count", "null_count", "mean", "std", "min", "25%", "50%", "75%", "max"],
            "los_days": [380.0, 0.0, 6.2, 4.1, 1.0, 3.0, 5.0, 8.0, 41.0],
        }
    )
    yield EvalFile("describe_polars.txt", polars_print(pdesc).encode(), MUST_FLAG, "min-max", "en")
    small = pl.DataFrame(
        {
            "hospital": list(HOSPITALS_EN[:3]),
            "n": [210, 6, 180],
            "mean_los": [5.2, 11.8, 4.9],
            "median_age": [63, 71, 60],
        }
    )
    yield EvalFile("mean_small_group.csv", _csv(small), MUST_FLAG, "small-group-statistic", "en")
    hdr = pl.DataFrame(
        {
            "Variable": ["Age, mean (SD)", "BMI, mean (SD)"],
            "Cases (n=6)": ["58.3 (9.1)", "29.4 (3.3)"],
            "Controls (n=240)": ["55.1 (10.2)", "27.0 (4.0)"],
        }
    )
    yield EvalFile("mean_header_n.csv", _csv(hdr), MUST_FLAG, "small-group-statistic", "en")
    zh = pl.DataFrame({"分组": ["罕见病组", "常见病组"], "例数": [4, 320], "平均住院日": [21.5, 7.2]})
    yield EvalFile("mean_small_zh.csv", _csv(zh), MUST_FLAG, "small-group-statistic", "zh")


def printed_tables(rng: random.Random) -> Iterator[EvalFile]:
    agg = pl.DataFrame({"region": list(REGIONS_EN[:5]), "n_cases": [120, 85, 4, 230, 64], "deaths": [15, 12, 1, 30, 9]})
    yield EvalFile("print_pandas.log", pandas_print(agg).encode(), MUST_FLAG, "printed-table", "en")
    yield EvalFile(
        "print_polars.txt",
        ("shape: (5, 3)\n" + polars_print(agg).split("\n", 1)[1]).encode(),
        MUST_FLAG,
        "printed-table",
        "en",
    )
    yield EvalFile(
        "print_nb.ipynb",
        _notebook([("summary = df.groupby('region').agg(...)\nsummary", pandas_print(agg), html_table(agg))]),
        MUST_FLAG,
        "printed-table",
        "en",
    )
    yield EvalFile(
        "print_stream.ipynb", _stream_notebook("print(summary)", polars_print(agg)), MUST_FLAG, "printed-table", "en"
    )
    yield EvalFile(
        "report.html",
        (f"<html><body><h1>Outcomes</h1>{html_table(agg, index=False)}</body></html>").encode(),
        MUST_FLAG,
        "printed-table",
        "en",
    )
    yield EvalFile("report.md", ("# Outcomes by region\n\n" + markdown(agg)).encode(), MUST_FLAG, "printed-table", "en")
    vc = "diagnosis\nE11.9    412\nI10      388\nC34.9      3\nName: count, dtype: int64\n"
    yield EvalFile(
        "value_counts.ipynb",
        _notebook([("df['diagnosis'].value_counts()", vc, None)]),
        MUST_FLAG,
        "printed-table",
        "en",
    )
    zh = pl.DataFrame({"医院": list(HOSPITALS_ZH[:4]), "例数": [320, 210, 5, 188]})
    yield EvalFile(
        "print_zh.ipynb",
        _notebook([("df.groupby('医院').size()", pandas_print(zh), None)]),
        MUST_FLAG,
        "printed-table",
        "zh",
    )
    text = (
        "  label  2019  2020  2021\n0     A   120   135   140\n1     B     6    12    15\n2     C    88    90   101\n"
    )
    yield EvalFile("wide_years.txt", text.encode(), MUST_FLAG, "printed-table", "en")


def _records(rng: random.Random, n: int, zh: bool) -> pl.DataFrame:
    start = 18000
    return pl.DataFrame(
        {
            ("性别" if zh else "sex"): [rng.choice("男女" if zh else "MF") for _ in range(n)],
            ("年龄" if zh else "age"): [rng.randrange(18, 95) for _ in range(n)],
            ("就诊日期" if zh else "visit_date"): [
                str(pl.Series([start + rng.randrange(0, 900)]).cast(pl.Date)[0]) for _ in range(n)
            ],
            ("诊断" if zh else "diagnosis"): [rng.choice(ICD) for _ in range(n)],
            ("地区" if zh else "region"): [rng.choice(PROVINCES if zh else REGIONS_EN) for _ in range(n)],
            ("收缩压" if zh else "sbp"): [round(rng.gauss(135, 18), 1) for _ in range(n)],
        }
    )


def record_level(rng: random.Random) -> Iterator[EvalFile]:
    for i in range(3):
        yield EvalFile(f"extract_{i}.csv", _csv(_records(rng, 60 + 20 * i, False)), MUST_FLAG, "record-level", "en")
    yield EvalFile("extract_zh.csv", _csv(_records(rng, 80, True)), MUST_FLAG, "record-level", "zh")
    yield EvalFile("extract.parquet", _parquet(_records(rng, 120, False)), MUST_FLAG, "record-level", "en")
    dob = pl.DataFrame(
        {
            "dob": ["1956-03-14", "1972-11-02", "1949-07-21"],
            "sex": ["F", "M", "F"],
            "outcome": ["alive", "dead", "alive"],
        }
    )
    yield EvalFile("dob.csv", _csv(dob), MUST_FLAG, "record-level", "en")
    head = _records(rng, 5, False).with_columns(pl.Series("study_no", [f"S{100234 + i}" for i in range(5)]))
    yield EvalFile(
        "head.ipynb",
        _notebook([("df = pl.read_parquet('cohort.parquet')\ndf.head()", pandas_print(head), None)]),
        MUST_FLAG,
        "record-level",
        "en",
    )
    head_zh = _records(rng, 5, True)
    yield EvalFile(
        "head_zh.ipynb",
        _notebook([("df.head()", pandas_print(head_zh), html_table(head_zh))]),
        MUST_FLAG,
        "record-level",
        "zh",
    )
    yield EvalFile(
        "head_polars.ipynb",
        _stream_notebook("print(df.head())", polars_print(_records(rng, 5, False).with_row_index("id"))),
        MUST_FLAG,
        "record-level",
        "en",
    )
    ids = pl.DataFrame(
        {
            "ref": [f"H{880000 + rng.randrange(99999)}" for _ in range(30)],
            "ward": [rng.choice("ABCD") for _ in range(30)],
            "los": [rng.randrange(1, 30) for _ in range(30)],
        }
    )
    yield EvalFile("hospital_numbers.csv", _csv(ids), MUST_FLAG, "record-level", "en")


def regression(rng: random.Random) -> Iterator[EvalFile]:
    for i, resid in enumerate((8, 4)):
        text = (
            "                            OLS Regression Results\n" + "=" * 78 + "\n"
            f"Dep. Variable:                  hba1c   R-squared:                       0.41{i}\n"
            f"No. Observations:                  {resid + 4}   AIC:                             88.1\n"
            f"Df Residuals:                       {resid}   BIC:                             91.0\n"
            "Df Model:                           3\n" + "=" * 78 + "\n"
        )
        yield EvalFile(f"ols_small_{i}.txt", text.encode(), MUST_FLAG, "regression", "en")
    yield EvalFile("ols_zh.txt", "线性回归结果\n样本量: 9\n残差自由度: 6\n".encode(), MUST_FLAG, "regression", "zh")


def prose_counts(rng: random.Random) -> Iterator[EvalFile]:
    yield EvalFile(
        "results_text.md",
        b"## Results\n\nOf the 412 patients, 3 patients died within 30 days of surgery.\n",
        MUST_FLAG,
        "count-in-text",
        "en",
    )
    yield EvalFile(
        "results_zh.txt", "结果：共纳入412例，术后30天内死亡3例。".encode(), MUST_FLAG, "count-in-text", "zh"
    )
    yield EvalFile(
        "chart_small.svg",
        svg_bars("Admissions by ward (n)", ["A", "B", "C"], [120, 4, 88]),
        MUST_FLAG,
        "count-in-text",
        "en",
    )
    yield EvalFile(
        "caption.txt", b"Figure 2. Subgroup with the variant (n = 4) shown in red.\n", MUST_FLAG, "count-in-text", "en"
    )


def personal_data(rng: random.Random) -> Iterator[EvalFile]:
    rid = RESIDENT_IDS
    yield EvalFile(
        "patients_cn.csv",
        _csv(pl.DataFrame({"编号": ["1", "2"], "身份证号": [rid[0], rid[1]], "诊断": ["E11.9", "I10"]})),
        MUST_FLAG,
        "identifier",
        "zh",
    )
    yield EvalFile(
        "contact.txt", f"随访联系人电话 13912345678，身份证 {rid[2]}".encode(), MUST_FLAG, "identifier", "zh"
    )
    yield EvalFile(
        "email.md",
        b"Queries about case 7 to the ward clerk: j.walker@nhs-trust.example.org\n",
        MUST_FLAG,
        "identifier",
        "en",
    )
    # names in running text without a cue word: the other helper's recognisers
    for i in range(3):
        first, last = EN_FIRST[i], EN_LAST[i]
        text = (
            f"Case {i + 1}. {first} {last}, a 67-year-old retired teacher from Leeds, presented with chest pain "
            f"on 3 March 2021 and was admitted to the coronary care unit.\n"
        )
        yield EvalFile(f"vignette_en_{i}.txt", text.encode(), MUST_FLAG, "person-name", "en")
    for i in range(3):
        text = f"病例{i + 1}：{ZH_NAMES[i + 4]}，女，58岁，因反复胸闷3年入{HOSPITALS_ZH[i]}{DEPTS_ZH[0]}治疗。"
        yield EvalFile(f"vignette_zh_{i}.txt", text.encode(), MUST_FLAG, "person-name", "zh")
    quotes = (
        f'"I just felt nobody listened," said {ZH_NAMES[6]}, who cares for her mother.\n'
        f'{PINYIN[0]} described the clinic as "a maze".\n'
    )
    yield EvalFile("quotes_mixed.md", quotes.encode(), MUST_FLAG, "person-name", "zh")
    yield EvalFile(
        "quotes_pinyin.txt",
        f"Interview 4 ({PINYIN[3]}, carer): it was the waiting.\n".encode(),
        MUST_FLAG,
        "person-name",
        "en",
    )
    border = pl.DataFrame(
        {
            "name": [f"{EN_FIRST[5]} {EN_LAST[5]}", PINYIN[1], ZH_NAMES[3]],
            "passport": ["E12345678", "G87654321", "E23456789"],
            "flight": ["CX251", "BA27", "MU551"],
        }
    )
    yield EvalFile("cross_border.csv", _csv(border), MUST_FLAG, "identifier", "en")
    hk = pl.DataFrame({"patient": ["A", "B"], "hkid": ["A123456(3)", "G123456(A)"], "ward": ["5A", "7B"]})
    yield EvalFile("hk_list.csv", _csv(hk), MUST_FLAG, "identifier", "en")


# --- safe, looking risky ------------------------------------------------------------------------------------


def safe_aggregates(rng: random.Random) -> Iterator[EvalFile]:
    months = [f"{y}-{m:02d}" for y in (2021, 2022) for m in range(1, 13)]
    df = pl.DataFrame({"month": months, "admissions": [rng.randrange(20, 90) * 5 for _ in months]})
    yield EvalFile("monthly_admissions.csv", _csv(df), SAFE, "many-distinct-aggregate", "en")
    df = pl.DataFrame(
        {
            "hospital": list(HOSPITALS_EN),
            "n_patients": [rng.randrange(30, 300) * 5 for _ in HOSPITALS_EN],
            "mean_los": [round(rng.uniform(3, 9), 1) for _ in HOSPITALS_EN],
        }
    )
    yield EvalFile("by_hospital.csv", _csv(df), SAFE, "many-distinct-aggregate", "en")
    df = pl.DataFrame(
        {
            "医院": list(HOSPITALS_ZH),
            "例数": [rng.randrange(40, 400) for _ in HOSPITALS_ZH],
            "平均年龄": [round(rng.uniform(50, 70), 1) for _ in HOSPITALS_ZH],
        }
    )
    yield EvalFile("by_hospital_zh.csv", _csv(df), SAFE, "many-distinct-aggregate", "zh")
    rows = [(a, s, y, rng.randrange(30, 400)) for a in AGE_BANDS for s in ("F", "M") for y in (2019, 2020, 2021)]
    df = pl.DataFrame(rows, schema=["age_band", "sex", "year", "n"], orient="row")
    yield EvalFile("age_sex_year.csv", _csv(df), SAFE, "many-distinct-aggregate", "en")
    yield EvalFile("age_sex_year.parquet", _parquet(df), SAFE, "many-distinct-aggregate", "en")
    yield EvalFile("age_sex_year.xlsx", _xlsx(df), SAFE, "many-distinct-aggregate", "en")
    days = pl.date_range(pl.date(2022, 1, 1), pl.date(2022, 3, 31), eager=True).cast(pl.Utf8).to_list()
    df = pl.DataFrame({"date": days, "ed_attendances": [rng.randrange(150, 320) for _ in days]})
    yield EvalFile("daily_attendances.csv", _csv(df), SAFE, "dates", "en")
    df = pl.DataFrame(
        {
            "icd10": list(ICD),
            "cases": [rng.randrange(50, 900) for _ in ICD],
            "deaths": [rng.randrange(10, 60) for _ in ICD],
        }
    )
    yield EvalFile("icd_counts.csv", _csv(df), SAFE, "icd-codes", "en")
    df = pl.DataFrame(
        {
            "省份": list(PROVINCES),
            "发病例数": [rng.randrange(100, 2000) for _ in PROVINCES],
            "发病率(1/10万)": [round(rng.uniform(5, 40), 2) for _ in PROVINCES],
        }
    )
    yield EvalFile("province_incidence_zh.csv", _csv(df), SAFE, "many-distinct-aggregate", "zh")
    sites = [f"Site {i:02d}" for i in range(1, 41)]
    df = pl.DataFrame(
        {
            "site": sites,
            "recruited": [rng.randrange(12, 90) for _ in sites],
            "retention_pct": [round(rng.uniform(70, 99), 1) for _ in sites],
        }
    )
    yield EvalFile("recruitment_by_site.csv", _csv(df), SAFE, "many-distinct-aggregate", "en")
    df = pl.DataFrame(
        {
            "year": list(range(2005, 2024)),
            "births": [rng.randrange(9000, 12000) for _ in range(19)],
            "stillbirth_rate_per_1000": [round(rng.uniform(3, 5), 2) for _ in range(19)],
        }
    )
    yield EvalFile("births_by_year.csv", _csv(df), SAFE, "many-distinct-aggregate", "en")
    df = pl.DataFrame(
        {"stage": [1, 2, 3, 4], "n": [120, 85, 40, 22], "five_year_survival_pct": [88.1, 71.0, 40.2, 12.3]}
    )
    yield EvalFile("stage_counts.csv", _csv(df), SAFE, "aggregate", "en")
    df = pl.DataFrame({"diabetes": [0, 1], "n": [3120, 840], "mean_sbp": [131.2, 138.9]})
    yield EvalFile("flag_groups.csv", _csv(df), SAFE, "aggregate", "en")
    df = pl.DataFrame({"药物": list(DRUGS_ZH), "处方数": [rng.randrange(200, 5000) for _ in DRUGS_ZH]})
    yield EvalFile("drug_prescriptions_zh.csv", _csv(df), SAFE, "aggregate", "zh")
    weeks = list(range(1, 27))
    df = pl.DataFrame({"epi_week": weeks, "cumulative_cases": [sum(range(20, 20 + 15 * w, 15)) for w in weeks]})
    yield EvalFile("cumulative_large_steps.csv", _csv(df), SAFE, "aggregate", "en")


def safe_rounded(rng: random.Random) -> Iterator[EvalFile]:
    for i in range(3):
        df = pl.DataFrame(
            {
                "region": list(REGIONS_EN[:6]),
                "n": ["<10" if j == i else str(rng.randrange(3, 80) * 5) for j in range(6)],
            }
        )
        yield EvalFile(f"rounded_suppressed_{i}.csv", _csv(df), SAFE, "rounded-counts", "en")
    df = pl.DataFrame(
        {
            "age_band": list(AGE_BANDS),
            "male": [rng.randrange(4, 60) * 5 for _ in AGE_BANDS],
            "female": [rng.randrange(4, 60) * 5 for _ in AGE_BANDS],
        }
    )
    df = pl.concat(
        [df, pl.DataFrame({"age_band": ["Total"], "male": [df["male"].sum() + 5], "female": [df["female"].sum() - 5]})]
    )
    yield EvalFile("rounded_with_total.csv", _csv(df), SAFE, "rounded-counts", "en")
    df = pl.DataFrame({"年龄组": list(AGE_BANDS), "人数": [rng.randrange(4, 60) * 10 for _ in AGE_BANDS]})
    yield EvalFile("rounded_zh.csv", _csv(df), SAFE, "rounded-counts", "zh")
    # complementary suppression done right: every line with a suppressed cell has a second one
    both = pl.DataFrame(
        {
            "region": ["North", "South", "East", "Total"],
            "male": ["120", "*", "*", "230"],
            "female": ["130", "*", "*", "255"],
            "total": ["250", "*", "*", "485"],
        }
    )
    yield EvalFile("complementary_suppression.csv", _csv(both), SAFE, "rounded-counts", "en")


def safe_masked(rng: random.Random) -> Iterator[EvalFile]:
    df = pl.DataFrame({"example": ["resident ID", "phone"], "masked_format": [MASKED_IDS[0], "138****5678"]})
    yield EvalFile("masking_rules.csv", _csv(df), SAFE, "masked-identifier", "en")
    yield EvalFile(
        "masking_zh.md",
        f"# 脱敏规则\n\n身份证号显示为 {MASKED_IDS[0]}，手机号显示为 139****1234。\n".encode(),
        SAFE,
        "masked-identifier",
        "zh",
    )
    yield EvalFile(
        "masking_en.txt",
        f"IDs are shown as {MASKED_IDS[1]} and {MASKED_IDS[2]} in reports.\n".encode(),
        SAFE,
        "masked-identifier",
        "en",
    )
    yield EvalFile(
        "masked_note.txt", "随访电话以 186****0000 形式记录，不含完整号码。".encode(), SAFE, "masked-identifier", "zh"
    )
    yield EvalFile(
        "masked_table.md",
        ("| 字段 | 示例 |\n|---|---|\n| 身份证 | 4403***********441 |\n| 病案号 | BA******12 |\n").encode(),
        SAFE,
        "masked-identifier",
        "zh",
    )


def safe_regression(rng: random.Random) -> Iterator[EvalFile]:
    for i in range(3):
        nobs = 1800 + 250 * i
        text = (
            "                            OLS Regression Results\n" + "=" * 78 + "\n"
            "Dep. Variable:                  hba1c   R-squared:                       0.312\n"
            f"No. Observations:                 {nobs}   AIC:                             8812.\n"
            f"Df Residuals:                     {nobs - 4}   BIC:                             8840.\n"
            "Df Model:                           3\n" + "=" * 78 + "\n"
            "                 coef    std err          t      P>|t|      [0.025      0.975]\n"
            "-" * 78 + "\n"
            "Intercept      5.1210      0.210     24.386      0.000       4.709       5.533\n"
            "age            0.0152      0.003      5.067      0.000       0.009       0.021\n"
            "bmi            0.0410      0.006      6.833      0.000       0.029       0.053\n"
            "female        -0.1032      0.041     -2.517      0.012      -0.184      -0.023\n" + "=" * 78 + "\n"
        )
        yield EvalFile(f"ols_{i}.txt", text.encode(), SAFE, "regression", "en")
    coef = pl.DataFrame(
        {
            "term": ["(Intercept)", "age", "sexM", "bmi"],
            "estimate": [-4.21, 0.031, 0.22, 0.05],
            "std_error": [0.41, 0.004, 0.07, 0.01],
            "statistic": [-10.3, 7.8, 3.1, 5.0],
            "p_value": [0.0001, 0.0001, 0.002, 0.0001],
        }
    )
    yield EvalFile("logit_coefs.csv", _csv(coef), SAFE, "regression", "en")
    yield EvalFile(
        "coefs_nb.ipynb", _notebook([("model.params", pandas_print(coef, index=False), None)]), SAFE, "regression", "en"
    )
    hr = pl.DataFrame(
        {
            "变量": ["年龄(每10岁)", "男性", "糖尿病"],
            "HR": [1.32, 1.18, 1.45],
            "95%CI下限": [1.21, 1.02, 1.22],
            "95%CI上限": [1.44, 1.36, 1.72],
            "P值": [0.001, 0.03, 0.001],
        }
    )
    yield EvalFile("cox_zh.csv", _csv(hr), SAFE, "regression", "zh")


def safe_table_one(rng: random.Random) -> Iterator[EvalFile]:
    df = pl.DataFrame(
        {
            "Characteristic": ["Female", "Current smoker", "Type 2 diabetes", "Age, mean (SD)"],
            "Treated (n=420), n (%)": ["202 (48.1%)", "95 (22.6%)", "110 (26.2%)", "61.2 (9.8)"],
            "Control (n=415), n (%)": ["208 (50.1%)", "88 (21.2%)", "102 (24.6%)", "60.8 (10.1)"],
        }
    )
    yield EvalFile("table1_safe.csv", _csv(df), SAFE, "table-one", "en")
    yield EvalFile("table1_safe.md", markdown(df).encode(), SAFE, "table-one", "en")
    zh = pl.DataFrame(
        {
            "特征": ["男性", "吸烟", "年龄，均值(标准差)"],
            "病例组(n=312) 例(%)": ["156（50.0）", "87（27.9）", "58.3（9.6）"],
            "对照组(n=320) 例(%)": ["160（50.0）", "80（25.0）", "57.9（10.1）"],
        }
    )
    yield EvalFile("table1_safe_zh.csv", _csv(zh), SAFE, "table-one", "zh")
    yield EvalFile(
        "table1_safe.html", f"<html><body>{html_table(df, index=False)}</body></html>".encode(), SAFE, "table-one", "en"
    )


def safe_notebooks(rng: random.Random) -> Iterator[EvalFile]:
    agg = pl.DataFrame(
        {
            "age_band": list(AGE_BANDS),
            "n": [rng.randrange(60, 500) for _ in AGE_BANDS],
            "mean_bmi": [round(rng.uniform(24, 31), 2) for _ in AGE_BANDS],
        }
    )
    yield EvalFile(
        "nb_agg.ipynb",
        _notebook([("agg = df.group_by('age_band').agg(...)\nagg.head()", pandas_print(agg), html_table(agg))]),
        SAFE,
        "notebook-aggregate",
        "en",
    )
    yield EvalFile(
        "nb_agg_polars.ipynb", _stream_notebook("print(agg)", polars_print(agg)), SAFE, "notebook-aggregate", "en"
    )
    vc = "diagnosis\nE11.9    412\nI10      388\nC34.9    115\nName: count, dtype: int64\n"
    yield EvalFile(
        "nb_value_counts.ipynb",
        _notebook([("df['diagnosis'].value_counts()", vc, None)]),
        SAFE,
        "notebook-aggregate",
        "en",
    )
    zh = pl.DataFrame({"医院": list(HOSPITALS_ZH[:5]), "例数": [rng.randrange(100, 900) for _ in range(5)]})
    yield EvalFile(
        "nb_zh.ipynb",
        _notebook([("df.groupby('医院').size().reset_index(name='例数')", pandas_print(zh), None)]),
        SAFE,
        "notebook-aggregate",
        "zh",
    )
    yield EvalFile(
        "nb_code_only.ipynb",
        _notebook(
            [
                ("import polars as pl\ndf = pl.read_parquet('/data/cohort.parquet')\nprint(df.head())", None, None),
                ("model = fit(df)", None, None),
            ]
        ),
        SAFE,
        "notebook-aggregate",
        "en",
    )
    monthly = pl.DataFrame(
        {"month": [f"2023-{m:02d}" for m in range(1, 13)], "referrals": [rng.randrange(30, 90) * 5 for _ in range(12)]}
    )
    yield EvalFile(
        "nb_monthly.ipynb", _notebook([("monthly", pandas_print(monthly), None)]), SAFE, "notebook-aggregate", "en"
    )
    yield EvalFile(
        "nb_log.txt",
        (
            b"2024-03-01 09:12:01 INFO loaded cohort: 48210 rows\n"
            b"2024-03-01 09:12:05 INFO fitted model in 3 s\n"
            b"2024-03-01 09:12:06 INFO wrote outputs/table2.csv\n"
        ),
        SAFE,
        "notebook-aggregate",
        "en",
    )


def safe_charts(rng: random.Random) -> Iterator[EvalFile]:
    yield EvalFile(
        "bars.svg",
        svg_bars("Admissions by region", list(REGIONS_EN[:5]), [rng.randrange(100, 900) for _ in range(5)]),
        SAFE,
        "chart",
        "en",
    )
    yield EvalFile(
        "bars_zh.svg",
        svg_bars("各省发病例数", list(PROVINCES[:6]), [rng.randrange(200, 900) for _ in range(6)]),
        SAFE,
        "chart",
        "zh",
    )
    yield EvalFile(
        "months.svg",
        svg_bars(
            "Monthly referrals 2023", [f"{m:02d}" for m in range(1, 13)], [rng.randrange(100, 400) for _ in range(12)]
        ),
        SAFE,
        "chart",
        "en",
    )
    yield EvalFile("km_curve.png", png(32, 16, 1), SAFE, "chart", "en")
    yield EvalFile("forest.png", png(24, 24, 2), SAFE, "chart", "en")


def safe_prose(rng: random.Random) -> Iterator[EvalFile]:
    en = (
        "## Methods\n\nWe included adults admitted to {h} and {h2} between 2019-01-01 and 2023-12-31 with a primary "
        "diagnosis of ICD-10 I21 (acute myocardial infarction) or I63 (stroke). Exposure was metformin or "
        "atorvastatin use in the 90 days before admission. The cohort comprised 12,480 patients (n = 12,480); "
        "median follow-up was 2.4 years. Analyses used R 4.3 and Python 3.11.\n"
    )
    for i in range(3):
        yield EvalFile(
            f"methods_{i}.md",
            en.format(h=HOSPITALS_EN[i], h2=HOSPITALS_EN[i + 3]).encode(),
            SAFE,
            "methods-prose",
            "en",
        )
    zh = (
        "研究方法：回顾性纳入{h}{d}2019年1月1日至2023年12月31日收治的2型糖尿病患者（ICD-10 E11），共计8,214例。"
        "暴露因素为{drug}使用情况，结局为全因死亡。统计分析采用R 4.3。"
    )
    for i in range(3):
        yield EvalFile(
            f"methods_zh_{i}.txt",
            zh.format(h=HOSPITALS_ZH[i], d=DEPTS_ZH[i], drug=DRUGS_ZH[i]).encode(),
            SAFE,
            "methods-prose",
            "zh",
        )
    yield EvalFile(
        "readme.md",
        b"# Outputs\n\nTable 2 lists adjusted hazard ratios; Figure 1 is the Kaplan-Meier "
        b"curve after rounding (all steps at least 10 events). Study period 2019-2023.\n",
        SAFE,
        "methods-prose",
        "en",
    )
    yield EvalFile(
        "discussion.txt",
        b"Compared with the UK Biobank (502,000 participants), our cohort of 48,210 adults "
        b"was older. Ward 7B and the Mayo Clinic protocol were used.\n",
        SAFE,
        "methods-prose",
        "en",
    )
    yield EvalFile(
        "codes.json",
        json.dumps(
            {"outcome_codes": list(ICD), "drugs": list(DRUGS_ZH), "period": ["2019-01-01", "2023-12-31"]},
            ensure_ascii=False,
        ).encode(),
        SAFE,
        "icd-codes",
        "zh",
    )
    yield EvalFile(
        "icd_list.md",
        (
            "| code | description |\n|---|---|\n"
            + "".join(f"| {c} | chapter {i + 1} condition |\n" for i, c in enumerate(ICD))
        ).encode(),
        SAFE,
        "icd-codes",
        "en",
    )


def safe_more(rng: random.Random) -> Iterator[EvalFile]:
    """More safe outputs in the shapes the flagged ones take: printed, wide, with totals, in Chinese."""
    cross = pl.DataFrame(
        {
            "科室": list(DEPTS_ZH),
            "男": [rng.randrange(40, 300) for _ in DEPTS_ZH],
            "女": [rng.randrange(40, 300) for _ in DEPTS_ZH],
        }
    )
    yield EvalFile("crosstab_safe_zh.csv", _csv(cross), SAFE, "aggregate", "zh")
    total = cross.with_columns((pl.col("男") + pl.col("女")).alias("合计"))
    total = pl.concat(
        [
            total,
            pl.DataFrame(
                {"科室": ["合计"], "男": [total["男"].sum()], "女": [total["女"].sum()], "合计": [total["合计"].sum()]}
            ),
        ]
    )
    yield EvalFile("crosstab_total_zh.csv", _csv(total), SAFE, "aggregate", "zh")
    yield EvalFile("crosstab_total.md", markdown(total).encode(), SAFE, "aggregate", "zh")
    wide = pl.DataFrame(
        {
            "region": list(REGIONS_EN),
            **{str(y): [rng.randrange(50, 900) for _ in REGIONS_EN] for y in (2019, 2020, 2021, 2022)},
        }
    )
    yield EvalFile("wide_by_year.csv", _csv(wide), SAFE, "many-distinct-aggregate", "en")
    yield EvalFile("wide_by_year.txt", pandas_print(wide).encode(), SAFE, "many-distinct-aggregate", "en")
    yield EvalFile("wide_polars.txt", polars_print(wide).encode(), SAFE, "many-distinct-aggregate", "en")
    yield EvalFile("wide_by_year.tsv", wide.write_csv(separator="\t").encode(), SAFE, "many-distinct-aggregate", "en")
    yield EvalFile(
        "wide.html",
        f"<html><body><h2>Counts</h2>{html_table(wide)}</body></html>".encode(),
        SAFE,
        "many-distinct-aggregate",
        "en",
    )
    ages = pl.DataFrame({"age": list(range(40, 80)), "n": [rng.randrange(60, 400) for _ in range(40)]})
    yield EvalFile("single_year_age.csv", _csv(ages), SAFE, "many-distinct-aggregate", "en")
    long = pl.DataFrame(
        [(h, f"2023-{m:02d}", rng.randrange(20, 200)) for h in HOSPITALS_ZH[:6] for m in range(1, 13)],
        schema=["医院", "月份", "门诊人次"],
        orient="row",
    )
    yield EvalFile("hospital_month_zh.csv", _csv(long), SAFE, "many-distinct-aggregate", "zh")
    yield EvalFile("hospital_month_zh.parquet", _parquet(long), SAFE, "many-distinct-aggregate", "zh")
    pct = pl.DataFrame(
        {
            "site": list(REGIONS_EN[:5]),
            "denominator": [4200, 3800, 2900, 5100, 4400],
            "pct": [12.0, 8.5, 9.1, 20.0, 15.2],
        }
    )
    yield EvalFile("pct_denominator_safe.csv", _csv(pct), SAFE, "aggregate", "en")
    yield EvalFile(
        "large_counts_text.md",
        b"## Results\n\nOf 12,480 patients, 412 patients died within 30 days (3.3%); n = 1,204 were readmitted.\n",
        SAFE,
        "methods-prose",
        "en",
    )
    yield EvalFile(
        "large_counts_zh.txt", "共纳入8214例，随访期间死亡356例，失访120例。".encode(), SAFE, "methods-prose", "zh"
    )
    timeline = pl.DataFrame(
        {
            "milestone": ["Protocol approved", "First patient in", "Last patient in", "Database lock", "Analysis"],
            "date": ["2019-02-11", "2019-06-03", "2021-11-30", "2022-05-16", "2022-09-01"],
        }
    )
    yield EvalFile("timeline.csv", _csv(timeline), SAFE, "dates", "en")
    yield EvalFile(
        "study_dates_zh.md",
        "| 阶段 | 日期 |\n|---|---|\n| 伦理审批 | 2019-03-01 |\n| 入组开始 | 2019-05-20 |\n"
        "| 随访结束 | 2023-12-31 |\n".encode(),
        SAFE,
        "dates",
        "zh",
    )
    icd_zh = pl.DataFrame(
        {
            "ICD-10编码": list(ICD),
            "疾病": [
                "2型糖尿病",
                "高血压",
                "心肌梗死",
                "脑梗死",
                "慢阻肺",
                "肺癌",
                "乳腺癌",
                "慢性肾病",
                "抑郁",
                "肝硬化",
                "肺结核",
                "阿尔茨海默病",
            ],
            "例数": [rng.randrange(100, 3000) for _ in ICD],
        }
    )
    yield EvalFile("icd_counts_zh.csv", _csv(icd_zh), SAFE, "icd-codes", "zh")
    yield EvalFile("icd_counts_zh.xlsx", _xlsx(icd_zh), SAFE, "icd-codes", "zh")
    nb = _notebook([("res = smf.ols('hba1c ~ age + bmi', data=df).fit()\nprint(res.summary())", None, None)])
    obj = json.loads(nb)
    obj["cells"][0]["outputs"] = [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": "Dep. Variable: hba1c\nNo. Observations: 4821\nDf Residuals: 4818\n",
        }
    ]
    yield EvalFile("nb_regression.ipynb", json.dumps(obj).encode(), SAFE, "regression", "en")
    yield EvalFile(
        "summary.json",
        json.dumps(
            {"n_patients": 48210, "n_events": 1204, "median_follow_up_years": 2.4, "sites": list(REGIONS_EN)}
        ).encode(),
        SAFE,
        "aggregate",
        "en",
    )


def more_flagged(rng: random.Random) -> Iterator[EvalFile]:
    """Counts in the other shapes researchers' tools print them: lifelines event tables, crosstabs with
    margins, 'n/N' cells, rates next to their population, survival curves with numbers at risk."""
    lifelines = (
        "          removed  observed  censored  entrance  at_risk\nevent_at\n"
        "0.0             0         0         0       163      163\n"
        "6.0             1         1         0         0      163\n"
        "7.0             2         1         1         0      162\n"
        "9.0             4         3         1         0      160\n"
    )
    yield EvalFile("event_table.ipynb", _notebook([("kmf.event_table", lifelines, None)]), MUST_FLAG, "survival", "en")
    crosstab = "sex     F   M  All\nward\nA      42   3   45\nB      38  20   58\nAll    80  23  103\n"
    yield EvalFile("crosstab_margins.txt", crosstab.encode(), MUST_FLAG, "printed-table", "en")
    nofn = pl.DataFrame({"arm": ["Treatment", "Placebo"], "events/total": [f"{rng.randrange(1, 9)}/212", "31/208"]})
    yield EvalFile("events_of_total.csv", _csv(nofn), MUST_FLAG, "n-percent", "en")
    rate = pl.DataFrame(
        {
            "district": list(PROVINCES[:4]),
            "population": [52000, 81000, 66000, 90000],
            "incidence_per_100k": [11.5, 4.9, 30.3, 25.6],
        }
    )
    yield EvalFile("incidence_rates.csv", _csv(rate), MUST_FLAG, "percent-denominator", "zh")
    texts = ["Survival probability", "Number at risk", "228", "145", "80", "32", "6", "1"]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><title>Kaplan-Meier</title>'
        + "".join(f"<text>{t}</text>" for t in texts)
        + "</svg>"
    )
    yield EvalFile("km_curve.svg", svg.encode(), MUST_FLAG, "survival", "en")
    ct_zh = "性别      女   男   合计\n科室\n心内科  120    4  124\n肿瘤科   98   77  175\n"
    yield EvalFile("crosstab_zh.txt", ct_zh.encode(), MUST_FLAG, "printed-table", "zh")
    missing = "age      0\nsex      3\nbmi    112\ndtype: int64\n"
    yield EvalFile("isna_sum.ipynb", _notebook([("df.isna().sum()", missing, None)]), MUST_FLAG, "printed-table", "en")


def safe_shapes(rng: random.Random) -> Iterator[EvalFile]:
    """The same shapes with nothing small in them."""
    crosstab = "sex     F    M  All\nward\nA      42   30   72\nB      38   20   58\nAll    80   50  130\n"
    yield EvalFile("crosstab_margins_safe.txt", crosstab.encode(), SAFE, "aggregate", "en")
    nofn = pl.DataFrame({"arm": ["Treatment", "Placebo"], "events/total": ["48/212", "31/208"]})
    yield EvalFile("events_of_total_safe.csv", _csv(nofn), SAFE, "table-one", "en")
    rate = pl.DataFrame(
        {
            "district": list(PROVINCES[:4]),
            "population": [520000, 810000, 660000, 900000],
            "incidence_per_100k": [11.5, 4.9, 30.3, 25.6],
        }
    )
    yield EvalFile("incidence_rates_safe.csv", _csv(rate), SAFE, "aggregate", "zh")
    ticks = ["Patients per month (n)", *[str(v) for v in range(0, 600, 100)], "Jan", "Feb", "Mar"]
    svg = '<svg xmlns="http://www.w3.org/2000/svg">' + "".join(f"<text>{t}</text>" for t in ticks) + "</svg>"
    yield EvalFile("axis_ticks.svg", svg.encode(), SAFE, "chart", "en")
    hyper = pl.DataFrame(
        {
            "model": ["random forest", "gradient boosting"],
            "max_depth": [6, 3],
            "n_estimators": [500, 300],
            "min_samples_leaf": [20, 50],
            "auc": [0.81, 0.83],
        }
    )
    yield EvalFile("model_settings.csv", _csv(hyper), SAFE, "regression", "en")
    dtypes = "age       int64\nsex      object\nbmi     float64\ndtype: object\n"
    yield EvalFile("dtypes.ipynb", _notebook([("df.dtypes", dtypes, None)]), SAFE, "notebook-aggregate", "en")


def table_one_styles(rng: random.Random) -> Iterator[EvalFile]:
    """tableone / gtsummary layouts, JSON summaries and printed samples, flagged and safe."""
    small = rng.randrange(3, 9)
    t1 = pl.DataFrame(
        {
            "variable": ["n", "sex = F (%)", "age (mean (SD))"],
            "Overall": ["420", "202 (48.1)", "61.2 (9.8)"],
            "Rare variant": [str(small), f"{small // 2} (50.0)", "58.0 (8.0)"],
            "Common": [str(420 - small), "199 (48.1)", "61.3 (9.8)"],
        }
    )
    yield EvalFile("tableone_small_group.csv", _csv(t1), MUST_FLAG, "small-group-statistic", "en")
    rng_t1 = pl.DataFrame(
        {"Characteristic": ["Age, median (range)", "Female, n (%)"], "Overall (N=412)": ["62 (18-97)", "202 (49.0%)"]}
    )
    yield EvalFile("table1_range.md", markdown(rng_t1).encode(), MUST_FLAG, "min-max", "en")
    pct = pl.DataFrame({"区域": list(PROVINCES[:3]), "女性占比% (N=340)": [1.5, 40.0, 58.5]})
    yield EvalFile("pct_of_stated_n_zh.csv", _csv(pct), MUST_FLAG, "percent-denominator", "zh")
    yield EvalFile(
        "summary_small.json",
        json.dumps(
            {"cohort": {"n_patients": 412, "n_deaths": rng.randrange(1, 9)}, "period": ["2019-01-01", "2023-12-31"]}
        ).encode(),
        MUST_FLAG,
        "small-count",
        "en",
    )
    yield EvalFile(
        "records.json",
        json.dumps(
            [{"site": s, "cases": n} for s, n in zip(HOSPITALS_ZH[:3], [120, 4, 88], strict=True)], ensure_ascii=False
        ).encode(),
        MUST_FLAG,
        "small-count",
        "zh",
    )
    sample = (
        "      sex  age diagnosis    sbp\n1832    F   54       E11  131.2\n17      M   61       I10  142.0\n"
        "4411    F   47       E11  128.9\n"
    )
    yield EvalFile("sample.ipynb", _notebook([("df.sample(3)", sample, None)]), MUST_FLAG, "record-level", "en")
    total = pl.DataFrame(
        {"characteristic": ["sex", "sex", "sex"], "level": ["F", "M", "Total"], "n": ["120", "*", "130"]}
    )
    yield EvalFile("long_total.csv", _csv(total), MUST_FLAG, "secondary", "en")
    safe = pl.DataFrame(
        {
            "variable": ["n", "sex = F (%)", "age (mean (SD))"],
            "Overall": ["840", "402 (47.9)", "61.2 (9.8)"],
            "Treated": ["420", "202 (48.1)", "61.0 (9.9)"],
            "Control": ["420", "200 (47.6)", "61.3 (9.8)"],
        }
    )
    yield EvalFile("tableone_safe.csv", _csv(safe), SAFE, "table-one", "en")
    yield EvalFile(
        "tableone_safe.html",
        f"<html><body>{html_table(safe, index=False)}</body></html>".encode(),
        SAFE,
        "table-one",
        "en",
    )
    iqr = pl.DataFrame(
        {"Characteristic": ["Age, median (IQR)", "Female, n (%)"], "Overall (N=412)": ["62 (54-70)", "202 (49.0%)"]}
    )
    yield EvalFile("table1_iqr.md", markdown(iqr).encode(), SAFE, "table-one", "en")
    yield EvalFile(
        "summary_safe.json",
        json.dumps(
            {"cohort": {"n_patients": 48210, "n_deaths": 1204}, "version": 3, "period": ["2019-01-01", "2023-12-31"]}
        ).encode(),
        SAFE,
        "aggregate",
        "en",
    )
    yield EvalFile(
        "records_safe.json",
        json.dumps(
            [{"site": s, "cases": n} for s, n in zip(HOSPITALS_ZH[:3], [120, 45, 88], strict=True)], ensure_ascii=False
        ).encode(),
        SAFE,
        "aggregate",
        "zh",
    )
    grp = "  sex   bmi\n0   F  27.1\n1   M  28.0\n"
    yield EvalFile(
        "group_means.ipynb",
        _notebook([("df.groupby('sex')['bmi'].mean().reset_index()", grp, None)]),
        SAFE,
        "notebook-aggregate",
        "en",
    )


def other_tools(rng: random.Random) -> Iterator[EvalFile]:
    """Stata and R output, and extremes written in prose."""
    small = rng.randrange(2, 9)
    tab = (
        "      sex |      Freq.     Percent        Cum.\n------------+-----------------------------------\n"
        f"          F |        212       50.12       50.12\n          M |          {small}        0.95       51.07\n"
        "------------+-----------------------------------\n      Total |        216      100.00\n"
    )
    yield EvalFile("stata_tab.log", tab.encode(), MUST_FLAG, "printed-table", "en")
    safe_tab = tab.replace(f"          {small}        0.95       51.07", "        211       49.88      100.00")
    yield EvalFile("stata_tab_safe.log", safe_tab.encode(), SAFE, "aggregate", "en")
    lm = "Residual standard error: 1.2 on 7 degrees of freedom\nMultiple R-squared:  0.41\n"
    yield EvalFile("r_lm_small.txt", lm.encode(), MUST_FLAG, "regression", "en")
    yield EvalFile("r_lm.txt", lm.replace("on 7 ", "on 4812 ").encode(), SAFE, "regression", "en")
    yield EvalFile(
        "oldest.md", b"The oldest participant was 103 years old; the youngest was 18.\n", MUST_FLAG, "min-max", "en"
    )
    yield EvalFile("oldest_zh.txt", "年龄最大的患者为98岁，最小的为19岁。".encode(), MUST_FLAG, "min-max", "zh")
    yield EvalFile(
        "follow_up.md",
        b"Median follow-up was 2.4 years (IQR 1.1-3.9); 48,210 adults were included.\n",
        SAFE,
        "methods-prose",
        "en",
    )
    yield EvalFile(
        "follow_up_zh.txt",
        "中位随访时间2.4年（四分位距1.1-3.9年），共纳入48,210人。".encode(),
        SAFE,
        "methods-prose",
        "zh",
    )


GENERATORS: tuple[Callable[[random.Random], Iterator[EvalFile]], ...] = (
    small_counts,
    survival,
    table_one,
    secondary,
    order_statistics,
    printed_tables,
    record_level,
    regression,
    prose_counts,
    personal_data,
    safe_aggregates,
    safe_rounded,
    safe_masked,
    safe_regression,
    safe_table_one,
    safe_notebooks,
    safe_charts,
    safe_prose,
    safe_more,
    more_flagged,
    safe_shapes,
    table_one_styles,
    other_tools,
)


def corpus(seed: int = SEED) -> list[EvalFile]:
    """The whole set, the same on every run for a given seed."""
    from tests.eval.corpus_hidden import GENERATORS as HIDDEN  # counts and identifiers in less obvious shapes

    rng = random.Random(seed)
    files = [f for gen in (*GENERATORS, *HIDDEN) for f in gen(rng)]
    names = [f.name for f in files]
    assert len(names) == len(set(names)), "duplicate file names in the evaluation set"
    return files
