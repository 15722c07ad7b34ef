"""Probes written as a hostile researcher and as a trained output checker (issue 11): personal data where
a quick look misses it, identifier schemes of Hong Kong, Macau, Taiwan and foreign residents, names
without a cue word, disclosure in the shapes notebooks print; and safe files that look like each.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Iterator

import polars as pl

from tests.eval.corpus import (
    RESIDENT_IDS,
    SAFE,
    EvalFile,
    _csv,
    _notebook,
    _parquet,
    _stream_notebook,
    html_table,
    markdown,
    pandas_print,
    png,
    polars_print,
    svg_bars,
)

MUST = "must-flag"
PHONE = "13812345678"
RID = RESIDENT_IDS[1]  # 310104197706251377


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_itxt(key: str, text: str) -> bytes:
    base = png()
    body = key.encode() + b"\x00\x00\x00\x00\x00" + text.encode()
    return base[:33] + _chunk(b"iTXt", body) + base[33:]


def _jpeg(comment: bytes = b"", trailer: bytes = b"") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8), 128).save(buf, "JPEG")
    data = buf.getvalue()
    if comment:
        seg = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
        data = data[:2] + seg + data[2:]
    return data + trailer


def _xlsx_sheets(sheets: list[tuple[str, list[list[object]], str]], num_format: str | None = None) -> bytes:
    """sheets: (name, rows, visibility: visible|hidden|very)."""
    import xlsxwriter

    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf) as wb:
        wb.set_properties({"created": datetime.datetime(2024, 1, 1)})
        fmt = wb.add_format({"num_format": num_format}) if num_format else None
        for name, rows, vis in sheets:
            ws = wb.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if isinstance(v, str) and v.startswith("="):
                        ws.write_formula(r, c, v)
                    elif fmt is not None and r > 0 and c == 1:
                        ws.write_number(r, c, float(v), fmt)  # type: ignore[arg-type]
                    else:
                        ws.write(r, c, v)
            if vis == "hidden":
                ws.hide()
            elif vis == "very":
                ws.very_hidden()
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(zipfile.ZipInfo(k, (2024, 1, 1, 0, 0, 0)), v)
    return buf.getvalue()


AGG = b"region,n\nNorth,1240\nSouth,980\n"


def hidden_places(rng: random.Random) -> Iterator[EvalFile]:
    """Personal data where a glance at the rendered output does not show it."""
    yield EvalFile("pr_nb_stream.ipynb", _stream_notebook(
        "print(df.iloc[3])", f"patient_ref    P0042\nmobile         {PHONE}\nward           5A\n"),
        MUST, "probe-hidden-notebook", "en")
    nb = json.loads(_notebook([("show(df)", None, f'<table><tr><td title="身份证 {RID}">P1</td></tr></table>')]))
    yield EvalFile("pr_nb_html_title.ipynb", json.dumps(nb, ensure_ascii=False).encode(), MUST,
                   "probe-hidden-notebook", "zh")
    nb = json.loads(_notebook([("lookup[key]", None, None)]))
    nb["cells"][0]["outputs"] = [{"output_type": "error", "ename": "KeyError", "evalue": f"'{RESIDENT_IDS[2]}'",
                                  "traceback": ["KeyError"]}]
    yield EvalFile("pr_nb_error.ipynb", json.dumps(nb).encode(), MUST, "probe-hidden-notebook", "en")
    yield EvalFile("pr_png_itxt.png", _png_itxt("Comment", f"随访 李秀英 {PHONE}"), MUST, "probe-hidden-image", "zh")
    yield EvalFile("pr_png_trailer.png", png() + f"id={RID}".encode(), MUST, "probe-hidden-image", "en")
    yield EvalFile("pr_jpeg_trailer.jpg", _jpeg(trailer=f"tel {PHONE}".encode()), MUST, "probe-hidden-image", "en")
    yield EvalFile("pr_jpeg_com.jpg", _jpeg(comment=f"patient {RESIDENT_IDS[3]}".encode()), MUST,
                   "probe-hidden-image", "en")
    yield EvalFile("pr_zip_names.zip", _zip({f"王建国_{RID}.csv": AGG}), MUST, "probe-hidden-archive", "zh")
    yield EvalFile("pr_pq_colname.parquet", _parquet(pl.DataFrame({"region": ["N", "S"], PHONE: [1200, 1300]})),
                   MUST, "probe-hidden-parquet", "en")
    yield EvalFile("pr_pq_list.parquet", _parquet(pl.DataFrame(
        {"site": ["A", "B"], "contacts": [[PHONE, "13912345678"], ["15012345678"]]})), MUST,
        "probe-hidden-parquet", "en")
    yield EvalFile("pr_pq_struct.parquet", _parquet(pl.DataFrame(
        {"grp": ["x", "y"], "who": [{"ref": RID, "age": 44}, {"ref": RESIDENT_IDS[0], "age": 71}]})), MUST,
        "probe-hidden-parquet", "zh")
    yield EvalFile("pr_pq_dict.parquet", _parquet(pl.DataFrame(
        {"id": [RID, RESIDENT_IDS[2]] * 20, "v": list(range(40))}).with_columns(pl.col("id").cast(pl.Categorical))),
        MUST, "probe-hidden-parquet", "zh")
    yield EvalFile("pr_pq_decimal.parquet", _parquet(pl.DataFrame(
        {"k": [decimal.Decimal(PHONE), decimal.Decimal("13912345678")], "site": ["A", "B"]},
        schema={"k": pl.Decimal(20, 0), "site": pl.String})), MUST, "probe-hidden-parquet", "en")
    yield EvalFile("pr_xlsx_hidden.xlsx", _xlsx_sheets([
        ("Summary", [["region", "n"], ["North", 1240]], "visible"),
        ("raw", [["name", "phone"], ["陈静", PHONE]], "hidden")]), MUST, "probe-hidden-xlsx", "zh")
    yield EvalFile("pr_xlsx_very_hidden.xlsx", _xlsx_sheets([
        ("Summary", [["region", "n"], ["North", 1240]], "visible"),
        ("x", [["ref"], [RID]], "very")]), MUST, "probe-hidden-xlsx", "en")
    yield EvalFile("pr_xlsx_formula.xlsx", _xlsx_sheets([
        ("S", [["label", "v"], ["a", '="1381234"&"5678"']], "visible")]), MUST, "probe-hidden-xlsx", "en")
    yield EvalFile("pr_xlsx_numfmt.xlsx", _xlsx_sheets([
        ("S", [["region", "n"], ["North", 1240], ["South", 980]], "visible")],
        num_format=f'0" 联系 {PHONE}"'), MUST, "probe-hidden-xlsx", "zh")
    yield EvalFile("pr_html_attrs.html", (
        f'<html><body><img src="c.png" alt="患者 欧阳明" data-phone="{PHONE}"><p>Figure 1</p></body></html>').encode(),
        MUST, "probe-hidden-html", "zh")
    yield EvalFile("pr_svg_desc.svg", (
        '<svg xmlns="http://www.w3.org/2000/svg"><title>Trend</title>'
        f'<desc>source list: {RID}</desc><rect width="5" height="5"/></svg>').encode(), MUST, "probe-hidden-svg", "en")
    yield EvalFile("pr_svg_attr.svg", (
        f'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5" aria-label="tel {PHONE}"/></svg>'
        ).encode(), MUST, "probe-hidden-svg", "en")


def hidden_encodings(rng: random.Random) -> Iterator[EvalFile]:
    """The same data in encodings and notations that a byte-level search for digits misses."""
    zh = f"随访对象：王建国，电话{PHONE}，身份证{RID}\n"
    yield EvalFile("pr_utf16le.txt", zh.encode("utf-16-le"), MUST, "probe-encoding", "zh")
    yield EvalFile("pr_gb18030.txt", zh.encode("gb18030"), MUST, "probe-encoding", "zh")
    yield EvalFile("pr_big5.txt", "香港身份證 A123456(3)，聯絡人 陳大文\n".encode("big5"), MUST, "probe-encoding", "zh")
    yield EvalFile("pr_float_phone.csv", f"site,contact\nA,{PHONE}.0\nB,13912345678.0\n".encode(), MUST,
                   "probe-notation", "en")
    yield EvalFile("pr_sci_phone.csv", b"site,contact\nA,1.3812345678E+10\nB,1.3912345678E+10\n", MUST,
                   "probe-notation", "en")
    yield EvalFile("pr_split_cols.csv", b"part_a,part_b,part_c\n310104,19770625,1377\n440305,20011231,1441\n",
                   MUST, "probe-split", "zh")
    yield EvalFile("pr_name_headers.csv", "指标,王建国,李秀英,张伟\nHbA1c,7.1,6.8,8.2\n".encode(), MUST,
                   "probe-header", "zh")
    yield EvalFile("pr_zero_width.txt", "ref 3101\u200b0419\u200c7706\u200d251377\n".encode(), MUST,
                   "probe-obfuscated", "en")
    yield EvalFile("pr_fullwidth.txt", "联系电话：１３８１２３４５６７８\n".encode(), MUST, "probe-obfuscated", "zh")
    yield EvalFile("pr_cyrillic_x.txt", "证件 11010519491231002\u0425\n".encode(), MUST, "probe-obfuscated", "zh")
    yield EvalFile("pr_cn_digits.txt", "家属电话 一三八一二三四五六七八\n".encode(), MUST, "probe-obfuscated", "zh")
    yield EvalFile("pr_base32_upper.txt", f"key {base64.b32encode(RID.encode()).decode()}\n".encode(), MUST,
                   "probe-encoded", "en")
    yield EvalFile("pr_hex_plain.txt", f"blob {RID.encode().hex()}\n".encode(), MUST, "probe-encoded", "en")
    long = "".join(f"2024-01-{1 + i % 28:02d} step {i} ok\n" for i in range(6000)) + f"last contact {PHONE}\n"
    yield EvalFile("pr_long_tail.log", long.encode(), MUST, "probe-long", "en")


def _fpr_new() -> str:
    from enclave.pii.validators import resident_id_check_char

    first = "931840" + "19900101" + "001"
    return first + resident_id_check_char(first)


def schemes(rng: random.Random) -> Iterator[EvalFile]:
    """Identifier schemes beyond the mainland resident ID."""
    yield EvalFile("pr_macau.txt", b"BIR 1234567(8) follow-up at CHCSJ\n", MUST, "probe-scheme", "en")
    yield EvalFile("pr_taiwan.csv", b"ref,clinic\nF131104093,Taipei\n", MUST, "probe-scheme", "en")
    yield EvalFile("pr_hk_permit.txt", "回乡证 H12345678，入境日期 2024-03-02\n".encode(), MUST, "probe-scheme", "zh")
    yield EvalFile("pr_tw_permit.txt", "台胞证 08123456 已核验\n".encode(), MUST, "probe-scheme", "zh")
    yield EvalFile("pr_fpr_old.txt", b"permanent residence card USA318001090011\n", MUST, "probe-scheme", "en")
    yield EvalFile("pr_fpr_new.txt", f"永久居留身份证 {_fpr_new()}\n".encode(), MUST, "probe-scheme", "zh")
    yield EvalFile("pr_social.csv", "社保卡号,科室\nA12345678,心内科\n".encode(), MUST, "probe-scheme", "zh")
    yield EvalFile("pr_inpatient.txt", "住院号 ZY20240312 门诊号 MZ884213\n".encode(), MUST, "probe-scheme", "zh")
    yield EvalFile("pr_plate.txt", "接送车辆 粤B·D12345\n".encode(), MUST, "probe-scheme", "zh")
    yield EvalFile("pr_wechat_qq.txt", "加微信 zhangwei_1985 或 QQ 382716455\n".encode(), MUST, "probe-scheme", "zh")
    from enclave.pii.validators import resident_id_check_char
    hk_permit_id = "81000019850312003" + resident_id_check_char("81000019850312003")
    yield EvalFile("pr_hk_residence.csv", f"证件,n\n{hk_permit_id},1\n".encode(), MUST, "probe-scheme", "zh")


def names(rng: random.Random) -> Iterator[EvalFile]:
    """Names without a cue word, and safe words that look like names."""
    yield EvalFile("pr_name_compound.txt", "上官婉清3月14日复诊，血压控制良好。\n".encode(), MUST, "probe-name", "zh")
    yield EvalFile("pr_name_rare.txt", "覃海燕、禤志强与亓明同日出院。\n".encode(), MUST, "probe-name", "zh")
    yield EvalFile("pr_pinyin_tones.txt", "Interview 2 (Zhāng Wěi): the queue was long.\n".encode(), MUST,
                   "probe-name", "en")
    yield EvalFile("pr_pinyin_given_first.txt", b"We spoke again with Jianguo Wang about the side effects.\n", MUST,
                   "probe-name", "en")
    yield EvalFile("pr_en_prose.txt", b"On review, Margaret Ellison said the new dose left her dizzy.\n", MUST,
                   "probe-name", "en")
    yield EvalFile("pr_safe_hosp.txt", "北京协和医院内分泌科：二甲双胍联合阿司匹林组 1240 例。\n".encode(), SAFE,
                   "probe-name-safe", "zh")
    yield EvalFile("pr_safe_places.txt", "研究覆盖上海市徐汇区、广州市天河区和成都市武侯区。\n".encode(), SAFE,
                   "probe-name-safe", "zh")
    yield EvalFile("pr_safe_citations.md", (
        b"Survival was estimated with the method of Kaplan and Meier (1958) and compared by the log-rank test; "
        b"hazard ratios came from Cox (1972) models, competing risks following Fine and Gray (1999).\n"), SAFE,
        "probe-name-safe", "en")
    yield EvalFile("pr_safe_eponyms.csv", (
        b"condition,patients\nParkinson's disease,1840\nCrohn's disease,960\nHodgkin lymphoma,410\n"
        b"Alzheimer's disease,2300\n"), SAFE, "probe-name-safe", "en")


def disclosure(rng: random.Random) -> Iterator[EvalFile]:
    """Counts a checker would stop, and safe aggregates that look like them."""
    yield EvalFile("pr_n_positive.csv", b"test_site,n_tested,n_positive\nA,420,3\nB,388,41\n", MUST,
                   "probe-sdc", "en")
    yield EvalFile("pr_renshu.csv", "科室,人数\n心内科,212\n肿瘤科,4\n".encode(), MUST, "probe-sdc", "zh")
    life = ("interval  at_risk  died  censored  survival\n0-1         412    20        3     0.951\n"
            "1-2         389    31        5     0.876\n2-3           6     2        1     0.584\n")
    yield EvalFile("pr_life_table.txt", life.encode(), MUST, "probe-sdc", "en")
    t1 = ("| Characteristic | Cases (n=240) | Controls (n=480) |\n|---|---|---|\n"
          "| Female | 118 (49.2) | 230 (47.9) |\n| HIV positive | 3 (1.3) | 22 (4.6) |\n")
    yield EvalFile("pr_table1.md", t1.encode(), MUST, "probe-sdc", "en")
    # row percentages: 3 of the row's 65 is 4.6 %, no share of the column's 240, and still 3 people
    t1_row = ("Characteristic,Cases (n=240),Controls (n=480)\nFemale,118 (49.2),230 (47.9)\n"
              "HIV positive,3 (4.6),62 (95.4)\n")
    yield EvalFile("pr_table1_row_pct.csv", t1_row.encode(), MUST, "probe-sdc", "en")
    t1_zh = ("| 特征 | 病例组(n=312) | 对照组(n=320) |\n|---|---|---|\n| 女性 | 156（50.0） | 160（50.0） |\n"
             "| 既往卒中 | 4（8.2） | 45（91.8） |\n")
    yield EvalFile("pr_table1_row_pct_zh.md", t1_zh.encode(), MUST, "probe-sdc", "zh")
    t1_mean = ("Characteristic,Cases (n=240),Controls (n=480)\nFemale,118 (49.2),230 (47.9)\n"
               "\"Visits per year, mean (SD)\",3 (4.6),2 (3.9)\n")
    yield EvalFile("pr_table1_mean_sd.csv", t1_mean.encode(), SAFE, "probe-sdc-safe", "en")
    sec = "region,deaths\nNorth,40\nSouth,<5\nEast,38\nTotal,81\n"
    yield EvalFile("pr_secondary.csv", sec.encode(), MUST, "probe-sdc", "en")
    cum = "month,cumulative_cases\n2024-01,120\n2024-02,123\n2024-03,131\n2024-04,150\n"
    yield EvalFile("pr_cumulative.csv", cum.encode(), MUST, "probe-sdc", "en")
    mm = "group,n,min_age,max_age\nrare variant,4,31,77\ncommon,812,18,94\n"
    yield EvalFile("pr_minmax.csv", mm.encode(), MUST, "probe-sdc", "en")
    means = "亚组,例数,平均住院日\n罕见病,3,21.7\n常见病,640,6.2\n"
    yield EvalFile("pr_small_mean.csv", means.encode(), MUST, "probe-sdc", "zh")
    vc = "ward\nA    310\nB    204\nC      2\nName: count, dtype: int64\n"
    yield EvalFile("pr_value_counts.ipynb", _notebook([("df['ward'].value_counts()", vc, None)]), MUST,
                   "probe-sdc", "en")
    pdf = pl.DataFrame({"clinic": ["East", "West", "North"], "deaths": [250, 3, 181]})
    yield EvalFile("pr_polars_print.ipynb", _stream_notebook("print(df)", polars_print(pdf)), MUST, "probe-sdc", "en")
    desc = ("              age        bmi\ncount    7.000000   7.000000\nmean    61.285714  27.914286\n"
            "std     11.220560   3.902380\nmin     44.000000  22.100000\nmax     79.000000  33.400000\n")
    yield EvalFile("pr_describe.ipynb", _notebook([("df.describe()", desc, None)]), MUST, "probe-sdc", "en")
    hdf = pl.DataFrame({"诊断": ["糖尿病", "罕见病"], "病例数": [812, 2]})
    yield EvalFile("pr_html_small.html", f"<html><body>{html_table(hdf)}</body></html>".encode(), MUST,
                   "probe-sdc", "zh")
    rec = pl.DataFrame({"sex": ["F", "M", "F"], "date_of_birth": ["1961-04-03", "1958-11-21", "1972-02-09"],
                        "visit_date": ["2024-03-02", "2024-03-05", "2024-03-09"], "hba1c": [7.1, 8.3, 6.4]})
    yield EvalFile("pr_records.csv", _csv(rec), MUST, "probe-records", "en")
    yield EvalFile("pr_head.ipynb", _notebook([("df.head()", pandas_print(rec), None)]), MUST, "probe-records", "en")
    # safe look-alikes
    months = pl.DataFrame({"month": [f"2023-{m:02d}" for m in range(1, 13)],
                           "admissions": [rng.randrange(800, 1500) for _ in range(12)]})
    yield EvalFile("pr_safe_monthly.csv", _csv(months), SAFE, "probe-sdc-safe", "en")
    bands = pl.DataFrame({"年龄组": ["18-39", "40-59", "60-79", "80+"], "人数": [1240, 2210, 1980, 410]})
    yield EvalFile("pr_safe_agebands.md", markdown(bands).encode(), SAFE, "probe-sdc-safe", "zh")
    years = pl.DataFrame({"year": list(range(2015, 2024)), "cases": [rng.randrange(300, 900) for _ in range(9)]})
    yield EvalFile("pr_safe_years.csv", _csv(years), SAFE, "probe-sdc-safe", "en")
    sites = pl.DataFrame({"site": ["北京协和医院", "四川大学华西医院", "中南大学湘雅医院"], "例数": [3120, 2840, 1990]})
    yield EvalFile("pr_safe_sites.csv", _csv(sites), SAFE, "probe-sdc-safe", "zh")
    yield EvalFile("pr_safe_chart.svg", svg_bars("Admissions by year", ["2021", "2022", "2023"], [820, 910, 1005]),
                   SAFE, "probe-sdc-safe", "en")
    icd = pl.DataFrame({"icd10": ["E11.9", "I10", "J44.1", "C34.9"],
                        "description": ["Type 2 diabetes", "Hypertension", "COPD with exacerbation", "Lung cancer"]})
    yield EvalFile("pr_safe_icd.csv", _csv(icd), SAFE, "probe-sdc-safe", "en")
    rounded = "region,patients_rounded_to_10\nNorth,1240\nSouth,980\nEast,310\nWest,150\n"
    yield EvalFile("pr_safe_rounded.csv", rounded.encode(), SAFE, "probe-sdc-safe", "en")
    fit = "Optimization terminated successfully.\n         Current function value: 0.512331\n         Iterations 6\n"
    yield EvalFile("pr_safe_nb_fit.ipynb", _stream_notebook("model.fit()", fit), SAFE, "probe-sdc-safe", "en")
    yield EvalFile("pr_safe_pq_list.parquet", _parquet(pl.DataFrame(
        {"cluster": ["c1", "c2"], "codes": [["E11.9", "I10"], ["J44.1"]], "n": [1240, 880]})), SAFE,
        "probe-sdc-safe", "en")


PROBE_GENERATORS = (hidden_places, hidden_encodings, schemes, names, disclosure)
