"""More of the labelled evaluation set: counts in shapes a column name does not give away, and
identifiers written so that no single value shows them; with safe files that look like each.

Generated from the seeded `random.Random` the main set passes in, with the value, its position, the
file format, the language and the disguise drawn per file, so each class is a family, not one example.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator

import polars as pl

from tests.eval.corpus import (
    AGE_BANDS,
    MASKED_IDS,
    PROVINCES,
    REGIONS_EN,
    RESIDENT_IDS,
    SAFE,
    EvalFile,
    _csv,
    markdown,
    pandas_print,
)

MUST = "must-flag"
# Mobile numbers (valid prefixes) and resident IDs with correct check digits (tests/eval/corpus.RESIDENT_IDS).
MOBILES = ("13812345678", "13912345678", "15012345678", "18612345678", "17712345678", "13698765432")
IDS = RESIDENT_IDS
SMALL = range(1, 10)


def _big(rng: random.Random) -> int:
    return rng.randrange(12, 400)


# --- disclosure: counts a column name does not give away ------------------------------------------------------

def long_format(rng: random.Random) -> Iterator[EvalFile]:
    """(group, measure, value): the measure says which values are counts."""
    measures_en = [("n", "mean_age"), ("cases", "median_los"), ("deaths", "pct_female"), ("n_events", "mean_bmi")]
    measures_zh = [("例数", "平均年龄"), ("死亡人数", "中位住院日"), ("病例数", "女性占比")]
    for i, (count, stat) in enumerate(measures_en + measures_zh):
        zh = i >= len(measures_en)
        groups = list(PROVINCES[:3]) if zh else ["treated", "control", "untreated"]
        small_at = rng.randrange(len(groups))
        rows = []
        for g, group in enumerate(groups):
            rows.append((group, count, rng.choice(SMALL) if g == small_at else _big(rng)))
            rows.append((group, stat, round(rng.uniform(2, 70), 1)))
        header = ("组别", "指标", "数值") if zh else ("group", "measure", "value")
        df = pl.DataFrame({h: [r[j] for r in rows] for j, h in enumerate(header)}, strict=False)
        fmt = i % 3
        lang = "zh" if zh else "en"
        if fmt == 0:
            yield EvalFile(f"long_{i}.csv", _csv(df), MUST, "long-format-count", lang)
        elif fmt == 1:
            yield EvalFile(f"long_{i}.md", markdown(df).encode(), MUST, "long-format-count", lang)
        else:
            yield EvalFile(f"long_{i}.json", json.dumps(df.to_dicts(), ensure_ascii=False).encode(), MUST,
                           "long-format-count", lang)
        safe = pl.DataFrame({h: [r[j] if not (r[1] == count and isinstance(r[2], int)) else _big(rng) * 5
                                 for r in rows] for j, h in enumerate(header)}, strict=False)
        # the statistics stay small (a median stay of 3 days is no count)
        yield EvalFile(f"long_safe_{i}.csv", _csv(safe), SAFE, "long-format-aggregate", lang)


def json_counts(rng: random.Random) -> Iterator[EvalFile]:
    """Counts in the JSON a script writes: value_counts() dicts, count lists, split frames, matrices."""
    regions = list(REGIONS_EN[:5])
    shapes: list[Callable[[list[int]], object]] = [
        lambda v: {"by_region": dict(zip(regions, v, strict=False))},
        lambda v: {"deaths": v},
        lambda v: {"result": {"counts": dict(zip(["A", "B", "C", "D", "E"], v, strict=False))}},
        lambda v: {"columns": ["male", "female"], "index": ["<40", "40-64", "65+"],
                   "data": [v[:2], v[2:4], [v[4], 30]]},
        lambda v: {"confusion_matrix": [[v[0], v[1]], [v[2], v[3]]]},
        lambda v: {"male": dict(zip(AGE_BANDS[:3], v[:3], strict=False)),
                   "female": dict(zip(AGE_BANDS[:3], v[2:5], strict=False))},
        lambda v: {"各省病例数": dict(zip(PROVINCES[:5], v, strict=False))},
        lambda v: {"分组": {"治疗组": v[0], "对照组": v[1], "失访": v[2]}},
        lambda v: {"most_common": [[k, n] for k, n in zip(["I10", "E11.9", "J44.1", "C34.9"], v, strict=False)]},
    ]
    for i, shape in enumerate(shapes):
        values = [_big(rng) for _ in range(5)]
        values[rng.randrange(4)] = rng.choice(SMALL)
        lang = "zh" if i in (6, 7) else "en"
        yield EvalFile(f"counts_{i}.json", json.dumps(shape(values), ensure_ascii=False).encode(), MUST,
                       "json-counts", lang)
        safe_values = [rng.randrange(4, 80) * 5 for _ in range(5)]
        yield EvalFile(f"counts_safe_{i}.json", json.dumps(shape(safe_values), ensure_ascii=False).encode(), SAFE,
                       "json-aggregate", lang)
    configs = [
        {"model": "LogisticRegression", "params": {"C": 1.0, "max_iter": 200, "n_jobs": 4, "random_state": 42}},
        {"cv": {"n_splits": 5, "shuffle": True}, "rf": {"n_estimators": 300, "max_depth": 6, "min_samples_leaf": 20}},
        {"versions": {"python": "3.11", "polars": "1.9"}, "seed": 7, "n_bootstraps": 2000},
        {"模型": "Cox", "参数": {"迭代次数": 50, "随机种子": 3}, "变量数": 8},
    ]
    for i, cfg in enumerate(configs):
        yield EvalFile(f"config_{i}.json", json.dumps(cfg, ensure_ascii=False).encode(), SAFE, "json-settings",
                       "zh" if i == 3 else "en")


def crosstabs(rng: random.Random) -> Iterator[EvalFile]:
    """Cross-tabulations whose cells are whole numbers under level headers (pd.crosstab, table())."""
    layouts = [
        (["Male", "Female"], ["Stage I", "Stage II", "Stage III", "Stage IV"], "sex", "en"),
        (["0", "1"], ["0", "1"], "", "en"),
        (["男", "女"], ["轻度", "中度", "重度"], "性别", "zh"),
        (list(PROVINCES[:4]), ["2019", "2020", "2021"], "省份", "zh"),
        (["Smoker", "Ex-smoker", "Never"], ["Yes", "No"], "smoking", "en"),
    ]
    for i, (rows, cols, index_name, lang) in enumerate(layouts):
        cells = [[_big(rng) for _ in cols] for _ in rows]
        r, c = rng.randrange(len(rows)), rng.randrange(len(cols))
        cells[r][c] = rng.choice(SMALL)
        df = pl.DataFrame({index_name or "": rows, **{h: [row[j] for row in cells] for j, h in enumerate(cols)}})
        fmt = i % 3
        if fmt == 0:
            yield EvalFile(f"xtab_{i}.csv", _csv(df), MUST, "crosstab", lang)
        elif fmt == 1:
            yield EvalFile(f"xtab_{i}.txt", pandas_print(df, index=False).encode(), MUST, "crosstab", lang)
        else:
            yield EvalFile(f"xtab_{i}.md", markdown(df).encode(), MUST, "crosstab", lang)
        safe = pl.DataFrame({index_name or "": rows,
                             **{h: [rng.randrange(3, 90) * 5 for _ in rows] for h in cols}})
        yield EvalFile(f"xtab_safe_{i}.csv", _csv(safe), SAFE, "crosstab-aggregate", lang)
        means = pl.DataFrame({index_name or "": rows, **{h: [round(rng.uniform(1, 9), 2) for _ in rows] for h in cols}})
        yield EvalFile(f"xtab_means_{i}.csv", _csv(means), SAFE, "crosstab-aggregate", lang)


def survival_tables(rng: random.Random) -> Iterator[EvalFile]:
    """Life tables and survfit summaries with a small number at risk or few events."""
    times = [30, 90, 180, 365, 730]
    for i in range(4):
        at_risk = sorted((rng.randrange(40, 300) for _ in times), reverse=True)
        at_risk[-1] = rng.choice(SMALL)
        events = [rng.randrange(10, 30) for _ in times]
        surv = [round(0.98 - 0.08 * k, 3) for k in range(len(times))]
        if i % 2 == 0:
            lines = ["time n.risk n.event survival std.err lower 95% CI upper 95% CI"]
            lines += [f"{t:>4} {n:>6} {e:>7} {s:>8} {0.02:>7} {s - 0.04:>12.3f} {min(1, s + 0.04):>12.3f}"
                      for t, n, e, s in zip(times, at_risk, events, surv, strict=True)]
            yield EvalFile(f"survfit_{i}.txt", ("\n".join(lines) + "\n").encode(), MUST, "survival", "en")
        else:
            df = pl.DataFrame({"随访天数": times, "在险人数": at_risk, "死亡人数": events, "生存率": surv})
            yield EvalFile(f"life_table_{i}.csv", _csv(df), MUST, "survival", "zh")


def dominance_tables(rng: random.Random) -> Iterator[EvalFile]:
    """Magnitude tables (costs per cell) where one or two contributors make the total."""
    for i in range(3):
        totals = [rng.randrange(50_000, 90_000) for _ in range(3)]
        rows = []
        for k, t in enumerate(totals):
            top1 = int(t * (0.93 if k == i else 0.3))
            top2 = int(t * (0.02 if k == i else 0.2))
            rows.append((REGIONS_EN[k], t, top1, top2))
        df = pl.DataFrame({"region": [r[0] for r in rows], "total": [r[1] for r in rows],
                           "top1": [r[2] for r in rows], "top2": [r[3] for r in rows]})
        yield EvalFile(f"cost_dominance_{i}.csv", _csv(df), MUST, "dominance", "en")


def hidden_digits_counts(rng: random.Random) -> Iterator[EvalFile]:
    """Counts written with characters a reader does not see, or in other digits."""
    disguises = [lambda n: f"{n}\u200b", lambda n: chr(0xFF10 + n), lambda n: f"{n}\x1d", lambda n: f"\u2060{n}"]
    for i, disguise in enumerate(disguises):
        n = rng.choice(SMALL)
        groups = list(AGE_BANDS[:4])
        counts = [str(_big(rng)) for _ in groups]
        counts[i % 4] = disguise(n)
        df = pl.DataFrame({"年龄组" if i % 2 else "age_band": groups, "例数" if i % 2 else "n": counts})
        yield EvalFile(f"disguised_count_{i}.csv", _csv(df), MUST, "small-count", "zh" if i % 2 else "en")


# --- personal data written so that no value shows it ------------------------------------------------------------

def _encodings() -> list[tuple[str, Callable[[str], str]]]:
    return [
        ("base64", lambda v: base64.b64encode(v.encode()).decode()),
        ("base64url", lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("=")),
        ("base32-lower", lambda v: base64.b32encode(v.encode()).decode().lower().rstrip("=")),
        ("base85", lambda v: base64.b85encode(v.encode()).decode()),
        ("ascii85", lambda v: base64.a85encode(v.encode(), adobe=True).decode()),
        ("spaced-hex", lambda v: " ".join(f"{ord(c):02x}" for c in v)),
        ("c-hex", lambda v: ", ".join(f"0x{ord(c):02X}" for c in v)),
        ("octal", lambda v: "".join(f"\\{ord(c):03o}" for c in v)),
        ("css", lambda v: "".join(f"\\{ord(c):x} " for c in v)),
        ("entities", lambda v: "".join(f"&#x{ord(c):x};" for c in v)),
        ("char-codes", lambda v: ", ".join(str(ord(c)) for c in v)),
        ("unicode-escapes", lambda v: "".join(f"\\u{ord(c):04x}" for c in v)),
    ]


def encoded_identifiers(rng: random.Random) -> Iterator[EvalFile]:
    templates = [
        ("txt", "en", lambda e: f"debug: token={e}\n"),
        ("md", "zh", lambda e: f"随访记录编码：`{e}`\n"),
        ("json", "en", lambda e: json.dumps({"ref": e, "n_total": 1200})),
        ("html", "en", lambda e: f"<html><body><p>ref {e}</p></body></html>"),
        ("csv", "zh", lambda e: _csv(pl.DataFrame({"编码": [e, "-"], "人数": [240, 310]})).decode()),
        ("txt", "zh", lambda e: f"导出批次 {e} 已完成\n"),
    ]
    for i, (kind, encode) in enumerate(_encodings()):
        value = rng.choice(MOBILES) if i % 2 else rng.choice(IDS)
        ext, lang, wrap = templates[i % len(templates)]
        if kind == "css":
            ext = "html"
            text = (f"<html><head><style>.x::after{{content:'{encode(value)}'}}</style></head>"
                    "<body><p>x</p></body></html>")
        else:
            text = wrap(encode(value))
        yield EvalFile(f"encoded_{kind}.{ext}", text.encode(), MUST, "encoded-identifier", lang)
    # safe: encodings of things that are not identifiers
    harmless = ["Figure 2 shows the trend", "cohort v2 final", "见附表3", "table_1_by_region", "2024-03-01 run"]
    for i, (kind, encode) in enumerate(_encodings()):
        ext, lang, wrap = templates[(i + 3) % len(templates)]
        if kind == "css":
            continue
        text = wrap(encode(rng.choice(harmless)))
        yield EvalFile(f"encoded_safe_{kind}.{ext}", text.encode(), SAFE, "encoded-harmless", lang)
    hashes = ("sha256 of the extract: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
              "commit 3c27c1d0aab6af9e56f35e89cc5c59c6c475a6ac\nuuid 123e4567-e89b-12d3-a456-426614174000\n")
    yield EvalFile("hashes.txt", hashes.encode(), SAFE, "encoded-harmless", "en")
    css = ("<html><head><style>q::before{content:'\\201C'} q::after{content:'\\201D'} li::marker{content:'\\2022 '}"
           "</style></head><body><p>Quotes &#8220;as typed&#8221; &#8212; 12&#160;480 patients</p></body></html>")
    yield EvalFile("css_quotes.html", css.encode(), SAFE, "encoded-harmless", "en")
    ages = json.dumps({"age_quantiles": [34, 41, 48, 52, 57, 63, 71], "unit": "years"})
    yield EvalFile("age_quantiles.json", ages.encode(), SAFE, "encoded-harmless", "en")


def one_digit_per_place(rng: random.Random) -> Iterator[EvalFile]:
    """An identifier written one digit at a time, down a column, across a row, per line, per element."""
    makers: list[tuple[str, str, Callable[[str], bytes]]] = [
        ("per_line.txt", "en", lambda v: ("\n".join(v) + "\n").encode()),
        ("per_row.csv", "zh", lambda v: _csv(pl.DataFrame({"序号": [f"第{k + 1}行" for k in range(len(v))],
                                                            "值": list(v)}))),
        ("per_row.md", "en", lambda v: ("| digit |\n|---|\n" + "".join(f"| {c} |\n" for c in v)).encode()),
        ("per_cell.md", "zh", lambda v: ("| " + " | ".join(f"列{k}" for k in range(len(v))) + " |\n|"
                                        + "---|" * len(v) + "\n| " + " | ".join(v) + " |\n").encode()),
        ("per_item.json", "en", lambda v: json.dumps({"values": [int(c) if c.isdigit() else c for c in v]}).encode()),
        ("per_rect.svg", "en", lambda v: ('<svg xmlns="http://www.w3.org/2000/svg">' + "".join(
            f'<rect x="{c}" y="{k * 10 + 20}" width="4" height="4"/>' for k, c in enumerate(v)) + "</svg>").encode()),
        ("per_text.svg", "zh", lambda v: ('<svg xmlns="http://www.w3.org/2000/svg">' + "".join(
            f'<text x="{k * 12 + 15}" y="40">{c}</text>' for k, c in enumerate(v)) + "</svg>").encode()),
        ("per_points.svg", "en", lambda v: ('<svg xmlns="http://www.w3.org/2000/svg"><polyline points="'
                                            + " ".join(v) + '" fill="none" stroke="black"/></svg>').encode()),
        ("per_td.html", "zh", lambda v: ("<html><body><table><tr>" + "".join(f"<td>{c}</td>" for c in v)
                                         + "</tr></table></body></html>").encode()),
        ("per_comma.txt", "en", lambda v: (", ".join(v) + "\n").encode()),
    ]
    for i, (name, lang, make) in enumerate(makers):
        value = rng.choice(IDS) if i % 3 == 0 else rng.choice(MOBILES)
        yield EvalFile(f"digits_{name}", make(value), MUST, "one-digit-per-place", lang)
    # safe: columns and rows of single-digit scores, and charts with small coordinates
    for i in range(4):
        n = rng.randrange(6, 10)
        df = pl.DataFrame({"item": [f"Q{k + 1}" for k in range(n)],
                           "median_score": [rng.randrange(1, 6) for _ in range(n)],
                           "n": [rng.randrange(20, 80) * 5 for _ in range(n)]})
        yield EvalFile(f"likert_{i}.csv", _csv(df), SAFE, "single-digit-aggregate", "en")
    ecog = pl.DataFrame({"ECOG": list(range(5)), "例数": [rng.randrange(10, 60) * 5 for _ in range(5)]})
    yield EvalFile("ecog.md", markdown(ecog).encode(), SAFE, "single-digit-aggregate", "zh")
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M 10 90 L 30 70 L 50 60 L 70 40 L 90 20"/>'
           + "".join(f'<text x="{10 + 20 * k}" y="98">{k}</text>' for k in range(5)) + "</svg>")
    yield EvalFile("axis_single_digits.svg", svg.encode(), SAFE, "chart", "en")


# --- safe outputs that used to be blocked ----------------------------------------------------------------------

EPONYMOUS_EN = ("John Radcliffe Hospital", "Royal Victoria Infirmary", "Queen Elizabeth Hospital Birmingham",
                "Princess Alexandra Hospital", "Alder Hey Children's Hospital", "Christie Hospital",
                "Charles Clifford Dental Hospital", "Victoria Hospital")
EPONYMOUS_ZH = ("邵逸夫医院", "宋庆龄儿童医院", "李惠利医院", "白求恩国际和平医院", "逸夫楼", "中山大学附属第一医院")


def eponymous_places(rng: random.Random) -> Iterator[EvalFile]:
    for i in range(4):
        a, b = rng.sample(EPONYMOUS_EN, 2)
        text = (f"Patients were recruited at {a} and {b} between 2019 and 2022; follow-up visits took place at "
                f"the outpatient clinics of both sites (n = {rng.randrange(40, 90) * 10}).\n")
        yield EvalFile(f"sites_{i}.md", text.encode(), SAFE, "hospital-names", "en")
    df = pl.DataFrame({"hospital": list(EPONYMOUS_EN),
                       "admissions": [rng.randrange(20, 200) * 5 for _ in EPONYMOUS_EN]})
    yield EvalFile("eponymous_hospitals.csv", _csv(df), SAFE, "hospital-names", "en")
    df = pl.DataFrame({"医院": list(EPONYMOUS_ZH), "例数": [rng.randrange(20, 200) * 5 for _ in EPONYMOUS_ZH]})
    yield EvalFile("eponymous_hospitals_zh.csv", _csv(df), SAFE, "hospital-names", "zh")
    for i in range(2):
        a, b = rng.sample(EPONYMOUS_ZH[:4], 2)
        n, months = rng.randrange(40, 90) * 10, rng.randrange(12, 36)
        text = f"本研究在{a}和{b}开展，共纳入{n}例患者，随访中位时间{months}个月。\n"
        yield EvalFile(f"sites_zh_{i}.md", text.encode(), SAFE, "hospital-names", "zh")
    # must-flag look-alikes: a person named next to a hospital
    yield EvalFile("referral_en.txt", b"Referred by Dr Helen Marsh to the John Radcliffe Hospital on 3 May.\n", MUST,
                   "person-name", "en")
    yield EvalFile("referral_zh.txt", "患者李建华于邵逸夫医院就诊后转入本院。\n".encode(), MUST, "person-name", "zh")


def wide_year_tables(rng: random.Random) -> Iterator[EvalFile]:
    """Regions by year, printed: neighbouring cells read across must not make a phone number."""
    for i in range(4):
        years = [str(y) for y in range(2018, 2018 + rng.randrange(4, 7))]
        zh = i % 2 == 1
        regions = list(PROVINCES[:6]) if zh else list(REGIONS_EN[:6])
        df = pl.DataFrame({"地区" if zh else "region": regions,
                           **{y: [rng.randrange(10, 999) for _ in regions] for y in years}})
        yield EvalFile(f"wide_years_{i}.txt", pandas_print(df).encode(), SAFE, "many-distinct-aggregate",
                       "zh" if zh else "en")
    masked = pl.DataFrame({"masked_id": list(MASKED_IDS) + ["138****5678", "6222 **** **** 1234"],
                           "n_visits": [rng.randrange(4, 40) * 5 for _ in range(5)]})
    yield EvalFile("masked_summary.md", markdown(masked).encode(), SAFE, "masked-identifier", "zh")


def long_runs(rng: random.Random) -> Iterator[EvalFile]:
    """Very long runs of Chinese characters: no false names, no run-away time; names inside are still found."""
    filler = "本研究采用回顾性队列设计数据来源于区域卫生信息平台"
    yield EvalFile("long_run.txt", (filler * 400 + "\n").encode(), SAFE, "methods-prose", "zh")
    yield EvalFile("padding.txt", ("王" * 30000 + "\n").encode(), SAFE, "methods-prose", "zh")
    cut = rng.randrange(100, 300)
    text = filler * 20
    yield EvalFile("long_run_name.txt", (text[:cut] + "患者陈志强" + text[cut:] + "\n").encode(), MUST,
                   "person-name", "zh")


def risk_tables(rng: random.Random) -> Iterator[EvalFile]:
    """'Number at risk' tables printed under a survival plot: times as headers, arms as rows."""
    for i in range(4):
        zh = i % 2 == 1
        times = [f"{t}月" for t in (0, 6, 12, 18)] if zh else ["0", "6", "12", "18"]
        arms = ["治疗组", "对照组"] if zh else ["Arm A", "Arm B"]
        rows = [sorted((rng.randrange(20, 200) for _ in times), reverse=True) for _ in arms]
        safe_rows = [list(r) for r in rows]
        rows[rng.randrange(2)][-1] = rng.choice(SMALL)
        lang = "zh" if zh else "en"
        for label, body, tag in ((MUST, rows, ""), (SAFE, safe_rows, "_safe")):
            if zh:
                text = (f"| 组别 | {' | '.join(times)} |\n|---|" + "---|" * len(times) + "\n"
                        + "".join(f"| {a} | {' | '.join(map(str, r))} |\n" for a, r in zip(arms, body, strict=True)))
                yield EvalFile(f"risk_table{tag}_{i}.md", text.encode(), label, "survival" if label == MUST
                               else "survival-aggregate", lang)
            else:
                text = "Number at risk\n" + " " * 8 + "".join(f"{t:>6}" for t in times) + "\n" + "".join(
                    f"{a:<8}" + "".join(f"{v:>6}" for v in r) + "\n" for a, r in zip(arms, body, strict=True))
                yield EvalFile(f"risk_table{tag}_{i}.txt", text.encode(), label, "survival" if label == MUST
                               else "survival-aggregate", lang)
    for i in range(2):
        df = pl.DataFrame({"region": list(REGIONS_EN[:4]),
                           **{q: [rng.randrange(20, 99) * 5 for _ in range(4)] for q in ("Q1", "Q2", "Q3", "Q4")}})
        yield EvalFile(f"quarters_{i}.csv", _csv(df), SAFE, "many-distinct-aggregate", "en")
    names = [("variable", "stat", "val", "N", "Mean"), ("term", "statistic", "result", "Number of deaths", "Median")]
    for i, (g, m, v, count, stat) in enumerate(names):
        small = rng.choice(SMALL)
        df = pl.DataFrame({g: ["A", "A", "B", "B"], m: [count, stat, count, stat],
                           v: [small, round(rng.uniform(1, 9), 1), _big(rng), round(rng.uniform(1, 9), 1)]},
                          strict=False)
        yield EvalFile(f"long_named_{i}.csv", _csv(df), MUST, "long-format-count", "en")


def masked_keys(rng: random.Random) -> Iterator[EvalFile]:
    """Columns named as identifiers holding masked values: beside counts they pass, a listing goes to review."""
    masks = [lambda v: v[:6] + "*" * 8 + v[-4:], lambda v: v[:3] + "*" * 11 + v[-4:],
             lambda v: v[:4] + "×" * 10 + v[-4:]]
    for i, mask in enumerate(masks):
        name = ("身份证号", "patient_id", "证件号码")[i]
        df = pl.DataFrame({name: [mask(v) for v in IDS[:3]], "例数" if i != 1 else "n": [rng.randrange(4, 40) * 5
                                                                                         for _ in range(3)]})
        yield EvalFile(f"masked_key_{i}.md" if i != 1 else f"masked_key_{i}.csv",
                       markdown(df).encode() if i != 1 else _csv(df), SAFE, "masked-identifier", "en" if i == 1
                       else "zh")
    listing = pl.DataFrame({"patient_id": [masks[0](v) for v in IDS], "age": [rng.randrange(30, 80) for _ in IDS],
                            "diagnosis": ["E11.9", "I10", "I21.4", "C34.9"]})
    yield EvalFile("masked_listing.csv", _csv(listing), MUST, "record-level", "en")


def shares_of_counts(rng: random.Random) -> Iterator[EvalFile]:
    """Percentages beside the table's one count column: shares of that count (2 % of 200 is 4 people), or
    the count column's own composition, which gives back nothing new."""
    big = [rng.randrange(150, 400) for _ in range(3)]
    small = rng.choice(SMALL)
    share = round(100 * small / big[0], 1)
    rows = "".join(f"{r},{n},{p}\n" for r, n, p in zip(REGIONS_EN, big, (share, 31.5, 44.0), strict=False))
    yield EvalFile("share_of_n.csv", f"region,patients,pct_readmitted\n{rows}".encode(), MUST, "percent", "en")
    rows = "".join(f"{r},{n},{p}\n" for r, n, p in zip(PROVINCES, big, (share, 31.5, 44.0), strict=False))
    yield EvalFile("share_of_n_zh.csv", f"省份,患者数,死亡率(%)\n{rows}".encode(), MUST, "percent", "zh")
    counts = [rng.randrange(12, 60), rng.randrange(300, 900), rng.randrange(300, 900)]
    total = sum(counts)
    rows = "".join(f"{b},{n},{100 * n / total:.1f}\n" for b, n in zip(AGE_BANDS, counts, strict=False))
    yield EvalFile("composition.csv", f"age_band,n,percent\n{rows}Total,{total},100.0\n".encode(), SAFE,
                   "aggregate", "en")


def dropped_notebook_parts(rng: random.Random) -> Iterator[EvalFile]:
    """Personal data where a notebook's rebuild drops it (cell metadata, an error's traceback), and the
    metadata Jupyter and papermill really write, which is not personal data."""
    ident = rng.choice(IDS)
    cell = {"cell_type": "code", "execution_count": 1, "source": "df.loc[key]", "metadata": {"tags": [ident]},
            "outputs": []}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    yield EvalFile("cell_tag_id.ipynb", json.dumps(nb).encode(), MUST, "personal-data", "zh")
    error = {"output_type": "error", "ename": "KeyError", "evalue": "'key'",
             "traceback": [f"\x1b[0;31mKeyError\x1b[0m: {rng.choice(MOBILES)} not in index"]}
    nb = {"cells": [{**cell, "metadata": {}, "outputs": [error]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    yield EvalFile("traceback_phone.ipynb", json.dumps(nb).encode(), MUST, "personal-data", "zh")
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "papermill": {"duration": 12.3, "start_time": "2024-03-07T10:11:00", "parameters": {"seed": 20240307}}}
    ok = {**cell, "metadata": {"tags": ["parameters"], "execution": {"iopub.execute_input": "2024-03-07T10:11:12Z"}}}
    nb = {"cells": [ok], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    yield EvalFile("papermill_meta.ipynb", json.dumps(nb).encode(), SAFE, "notebook-aggregate", "en")


def odd_count_cells(rng: random.Random) -> Iterator[EvalFile]:
    """One cell of a count column that is no number ('see note', '0 7'): it must not switch the column's
    checks off; counts in SI style ('1 234') are numbers."""
    small, big = rng.choice(SMALL), [rng.randrange(120, 900) for _ in range(3)]
    rows = f"A,see note\nB,{small}\nC,{big[0]}\nD,{big[1]}\n"
    yield EvalFile("odd_cell_note.csv", f"ward,deaths\n{rows}".encode(), MUST, "small-count", "en")
    rows = f"内科,0 {small}\n外科,{big[0]}\n儿科,{big[1]}\n"
    yield EvalFile("odd_cell_spaced.csv", f"科室,死亡人数\n{rows}".encode(), MUST, "small-count", "zh")
    rows = "".join(f"{r},{n // 1000} {n % 1000:03d}\n" for r, n in zip(REGIONS_EN, (12345, 4567, 23456), strict=False))
    yield EvalFile("si_thousands.csv", f"region,admissions\n{rows}".encode(), SAFE, "aggregate", "en")


def probes(rng: random.Random) -> Iterator[EvalFile]:
    """The issue-11 probes (tests/eval/corpus_probes.py): hidden personal data, HK/Macau/Taiwan and foreign
    residents' identifiers, names without a cue word, disclosure in notebook prints; with safe look-alikes."""
    from tests.eval.corpus_probes import PROBE_GENERATORS

    for gen in PROBE_GENERATORS:
        yield from gen(rng)


GENERATORS = (masked_keys, risk_tables, long_format, json_counts, crosstabs, survival_tables, dominance_tables,
              hidden_digits_counts, encoded_identifiers, one_digit_per_place, eponymous_places, wide_year_tables,
              long_runs, shares_of_counts, dropped_notebook_parts,
              odd_count_cells, probes)
