"""Statistical disclosure control of tables, as a trained output checker reads them.

Counts are recognised by what a column holds (non-negative whole numbers next to grouping columns),
not only by a short list of names; "n (%)" cells and percentages with a denominator are counts in
disguise; a suppressed cell that the totals give back is not suppressed; cumulative series and
numbers at risk disclose their steps; minima, maxima and statistics of tiny groups are single
people's values. Every finding names the rule and the cell (row counted from 1 as a reader would).
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from egress_review.extract import Segment
from egress_review.findings import Finding, Verdict
from policies.schema import DisclosureControl

CHECK = "disclosure-control"
MAX_CELLWISE_ROWS = 5000  # tables longer than this are row-level extracts: only the vectorised count check runs


class SdcRule(enum.StrEnum):
    """The rules of this module, as findings name them (parametrised ones, e.g. `threshold>=10`, are built)."""

    ZEROS = "zeros"
    PERCENTAGE_REVEALS_SUPPRESSED = "percentage-reveals-suppressed"
    SECONDARY_SUPPRESSION = "secondary-suppression"
    SECONDARY_TOTAL_MINUS_CELLS = "secondary-total-minus-cells"
    SMALL_STEP = "small-step"
    SURVIVAL_REVIEW = "survival-review"
    MIN_MAX = "min-max"
    STATISTIC_OF_SMALL_GROUP = "statistic-of-small-group"
    DOMINANCE = "dominance"
    DIFFERENCING = "differencing"
    COUNT_IN_TEXT = "count-in-text"
    COUNT_IN_CHART = "count-in-chart"
    PERCENT_WITHOUT_DENOMINATOR = "percent-without-denominator"
    UNREADABLE_CELL = "unreadable-count-cell"
    UNEXPLAINED_BRACKET = "unexplained-bracket"
    # how a count was recognised, recorded as the finding's `recognised_by` beside the threshold rule
    COUNT_BY_CONTENT = "count-by-content"
    CROSSTAB_CELL = "crosstab-cell"
    COUNT_BY_ROW_LABEL = "count-by-row-label"
    COUNT_IN_JSON = "count-in-json"

_SPLIT = re.compile(r"[\s_.\-/()（）:：]+")
# Tokens of an English column name that say "this counts people or events".
COUNT_TOKENS = frozenset({
    "n", "num", "number", "count", "counts", "cnt", "freq", "frequency", "tally", "nobs", "obs", "case", "cases",
    "death", "deaths", "died", "event", "events", "patient", "patients", "people", "persons", "person", "subjects",
    "participants", "respondents", "admissions", "admitted", "births", "censor", "censored", "risk", "atrisk",
    "positive", "negative", "positives", "survivors", "alive", "exposed", "users", "individuals", "women", "men",
    "children", "visits", "referrals", "prescriptions", "diagnoses", "discharges", "readmissions", "infections",
    "hospitalisations", "hospitalizations", "responders", "nonresponders", "dropouts", "withdrawals", "failures",
    "observed", "removed", "entrance", "entered", "lost", "ltfu", "recurrences", "relapses"})
CN_COUNT = re.compile(r"(例数|人数|人次|频数|计数|数量|病例|死亡|发病|患者数|阳性|阴性|存活|删失|在险|随访数|例"
                      r"|(?<![指分系参倍函对岁])数)$")
# Names that say "this is a key or a statistic", whatever numbers it holds.
STAT_TOKENS = frozenset({
    "mean", "avg", "average", "median", "sd", "std", "stddev", "se", "sem", "var", "variance", "iqr", "q1", "q3",
    "pct", "percent", "percentage", "prop", "proportion", "rate", "ratio", "share", "or", "hr", "rr", "irr", "coef",
    "beta", "estimate", "est", "ci", "lower", "upper", "lcl", "ucl", "lci", "uci", "p", "pvalue", "pval", "statistic",
    "stat", "z", "t", "chi2", "min", "max", "minimum", "maximum", "cost", "amount", "value", "score", "weight",
    "height", "bmi", "dose", "los", "duration", "length", "days", "hours", "minutes", "auc", "sens", "spec", "ppv",
    "npv", "loglik", "aic", "bic", "r2", "survival", "surv", "hazard", "cumhaz", "prob", "probability", "odds",
    "weighted", "per", "total_cost", "price", "top1", "top2", "top"})
KEY_TOKENS = frozenset({
    "year", "yr", "years", "month", "months", "week", "weeks", "day", "date", "quarter", "period", "time", "age",
    "code", "id", "rank", "order", "index", "idx", "stage", "grade", "level", "band", "group", "arm", "cluster",
    "site", "region", "zip", "postcode", "category", "chapter", "lag", "df", "dof", "degree", "seq", "row", "line",
    "version", "wave", "cycle", "decile", "quintile", "quartile", "tertile", "centile", "percentile", "strata",
    "stratum", "bin", "bucket", "cohort", "iteration", "fold", "seed", "k", "rows", "columns", "cols", "size",
    "bytes", "kb", "mb", "lines", "page", "pages", "files", "seconds", "step", "epoch", "epochs", "depth"})
CN_NOT_COUNT = re.compile(r"(率|比|比例|占比|百分比|均值|平均|中位|标准差|系数|最小|最大|费用|金额|年龄|年份|年|月|周"
                          r"|日期|时间|编码|代码|分期|分级|评分|得分|指数|分数)")
# Counts of things that are not people (sites, variables, files): the person-count thresholds do not apply.
NOT_PEOPLE = frozenset({"jobs", "splits", "estimators", "folds", "components", "clusters", "neighbors", "neighbours",
                        "layers", "trees", "bins", "threads", "workers", "cores", "iter", "iterations", "permutations",
                        "bootstraps", "boot", "draws", "chains", "imputations", "lags", "knots", "digits", "decimals",
                        "covariates", "predictors", "categories", "levels", "strata", "beds", "rooms", "scanners",
                        "machines", "devices", "sites", "hospitals", "centres", "centers", "regions", "countries",
                        "studies", "trials",
                        "variables", "features", "models", "files", "codes", "wards", "clinics", "datasets",
                        "practices", "facilities", "papers", "tables", "figures", "parameters"})
CN_NOT_PEOPLE = re.compile(r"(医院|中心|地区|省份|研究|变量|模型|文件|科室|机构)数")
MISSINGNESS = re.compile(r"missing|null|^na$|_na$|nan|缺失", re.IGNORECASE)
TOTAL_LABEL = re.compile(r"^(total|totals|all|overall|sum|grand total|all patients|all participants|合计|总计|"
                         r"总数|共计|总体|全部|总和|小计|全体)$", re.IGNORECASE)
SUPPRESSED = re.compile(r"^\s*(?:[<≤＜]\s*=?\s*\d+|\*+|\[?redacted\]?|suppressed|masked|n/?a\*|c|x|-|—|–|<NA>|~)\s*$",
                        re.IGNORECASE)
N_PCT = re.compile(r"^\s*(?P<n>\d[\d,]*|[<≤＜]\s*\d+|\*+|\[REDACTED\]|REDACTED)\s*(?:/\s*(?P<d>\d[\d,]*)\s*)?"
                   r"[(（]\s*(?P<p>\d+(?:\.\d+)?)\s*(?P<pc>%|％)?\s*[)）]\s*$", re.IGNORECASE)
N_PCT_CUE = re.compile(r"[(（]\s*%\s*[)）]|n\s*[(（]\s*%|no\.?\s*[(（]\s*%|例\s*[(（]\s*%|例数\s*[(（]|人数\s*[(（]"
                       r"|n\s*\(\s*percent", re.IGNORECASE)
GROUP_SIZE_ROW = re.compile(r"^(n|N|no\.?|number|例数|人数|样本量|总数)$", re.IGNORECASE)
RANGE_LABEL = re.compile(r"\brange\b|\bmin\b|\bmax\b|minimum|maximum|min[-–]max|范围|最小|最大|极差", re.IGNORECASE)
STAT_ROW_CUE = re.compile(r"mean|median|sd|iqr|range|均值|平均|中位|标准差|±", re.IGNORECASE)
GROUP_N = re.compile(r"[(（\[,\s]\s*[nN]\s*[=＝]\s*(\d[\d,]*)|^[nN]\s*[=＝]\s*(\d[\d,]*)|[(（]\s*(\d+)\s*例\s*[)）]")
MIN_MAX = re.compile(r"(?:^|[_\s.(])(?:min|max|minimum|maximum|p0|p100|q0|q4)(?:$|[_\s.)])(?!_?(?:depth|iter|samples|"
                     r"leaf|features|child|epochs|lag|bin|len))|最小|最大", re.IGNORECASE)
DESCRIBE_LABELS = frozenset({"count", "mean", "std", "min", "25%", "50%", "75%", "max", "null_count"})
ORDER_LABEL = re.compile(r"^(min|max|minimum|maximum|最小值|最大值|最小|最大)$", re.IGNORECASE)
CUMULATIVE = re.compile(r"cum|running|累计|累积", re.IGNORECASE)
AT_RISK = re.compile(r"risk|在险|风险人数|期初", re.IGNORECASE)
SURV_VALUE = re.compile(r"surv|km|kaplan|生存", re.IGNORECASE)
SURV_TIME = re.compile(r"time|day|week|month|year|event_at|timeline|duration|时间|天|月|年|随访", re.IGNORECASE)
STAT_NAME = re.compile(r"mean|median|avg|average|sd|std|iqr|均值|平均|中位|标准差", re.IGNORECASE)
RATE_PER = re.compile(r"per[_\s.]?(\d[\d,]*)\s*(k)?|1/(\d+)(万)?|(‰)", re.IGNORECASE)
DENOMINATOR = re.compile(r"^(denominator|denom|n_total|total_n|population|pop|n_eligible|n_cohort|cohort_size|"
                         r"group_size|分母|总人数|总例数|人口数)$", re.IGNORECASE)
PCT_NAME = re.compile(r"pct|percent|%|proportion|^prop|_prop|占比|百分比|构成比|比例|rate|率|incidence|prevalence|"
                      r"per[_\s]?\d|‰", re.IGNORECASE)


def name_tokens(name: str) -> list[str]:
    return [t for t in _SPLIT.split(name.lower()) if t]


def name_says_count(name: str) -> bool:
    toks = name_tokens(name)
    if any(t in STAT_TOKENS or t in NOT_PEOPLE for t in toks) or CN_NOT_COUNT.search(name) \
            or CN_NOT_PEOPLE.search(name):
        return False
    if toks and (toks[-1] in KEY_TOKENS or toks[-1] == "at"):
        return False  # 'event_date', 'death_year', 'event_at': when, not how many
    if any(t in COUNT_TOKENS for t in toks) or CN_COUNT.search(name.strip()):
        return True
    joined = name.lower().replace(" ", "_")
    return bool(re.match(r"^(n|num|no|number)_|^number_of|_(n|count|cnt)$|^at_risk|at_risk$", joined))


def _name_says_not_count(name: str) -> bool:
    toks = name_tokens(name)
    return (any(t in STAT_TOKENS or t in KEY_TOKENS or t in NOT_PEOPLE for t in toks) or bool(CN_NOT_COUNT.search(name))
            or bool(CN_NOT_PEOPLE.search(name)))


SPACED_THOUSANDS = re.compile(r"[0-9]{1,3}(?:[ \u00a0\u202f\u2009][0-9]{3})+")
ASCII_NUMBER = re.compile(r"[-+]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?",
                          re.ASCII)
# a count written with what it counts, as Chinese tables often do ('7人', '12例') and English ones sometimes
# ('7 patients'): the number is the count, whatever word follows it
COUNT_UNIT = re.compile(r"(?<=[\d零〇一二两三四五六七八九十百千万])\s*(?:人次|例次|人|例|名|位|次|个|户|"
                        r"(?:patients?|cases?|people|persons?|subjects?|participants?|deaths?|events?))\s*$",
                        re.IGNORECASE)
_SIGNS = str.maketrans({"\u2212": "-", "\uff0d": "-", "\uff0b": "+", "\uff0c": ",", "\uff0e": "."})


def _plain_digits(text: str) -> str | None:
    """`text` with what a reader does not see dropped (spaces, control and format characters at its ends,
    format characters inside) and every script's decimal digits written as ASCII; None when something
    else is left that is not ASCII. Python's float() would accept some of these and refuse others
    ('8\x1d' and '٣' it takes, '８\u200b' it does not): numbers are read one way, here, whatever the cell."""
    chars = []
    for c in text.strip(" \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u3000\u200b\ufeff\x00"):
        if c.isascii():
            chars.append(c)
            continue
        cat = unicodedata.category(c)
        if cat in ("Cf", "Cc"):
            continue
        digit = unicodedata.decimal(c, None)
        if digit is not None:
            chars.append(str(digit))
        elif (t := c.translate(_SIGNS)) != c:
            chars.append(t)
        else:
            return None
    return "".join(chars)


# a whole number in Chinese numerals, as a table cell may hold one ('七', '一百二十', '一千零五', '两万三千')
CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千万]{1,16}")
_CN_VALUE = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}


def _cn_section(text: str) -> int | None:
    """Below ten thousand: digits each followed by a smaller unit than the one before, 零 between places
    (一千零五), 十 alone in front (十二), and a last digit one place below the last unit (一百二 = 120)."""
    value, digit, last_unit, zero = 0, None, 10_000, False
    for c in text:
        if c in _CN_VALUE:
            if digit is not None:
                return None  # 一二: two digits in a row
            if _CN_VALUE[c] == 0:
                zero = True
                continue
            digit = _CN_VALUE[c]
        else:
            unit = _CN_UNIT[c]
            if unit >= last_unit or (digit is None and not (unit == 10 and value == 0 and not zero)):
                return None  # 百十, 十十, 百 with no digit
            value, digit, last_unit, zero = value + (digit or 1) * unit, None, unit, False
    if digit is not None:
        value += digit * (last_unit // 10 if 100 <= last_unit < 10_000 and not zero else 1)
    return value


def cn_numeral(text: str) -> float | None:
    """A cell of Chinese numerals as its value (十二 = 12, 一百二十 = 120, 一万二千三百四十五 = 12345), or None
    when the characters do not make a number (一二三, 百, 十十, 万)."""
    if text.count("万") > 1 or text.startswith("万"):
        return None
    high, _, low = text.partition("万") if "万" in text else ("", "", text)
    hi = _cn_section(high) if high else 0
    lo = _cn_section(low) if low else 0
    return None if hi is None or lo is None else float(hi * 10_000 + lo)


def parse_number(value: object) -> float | None:
    """A cell as a number: ints, floats, '1,234', '12.0', full-width or other scripts' digits, with invisible
    characters dropped and a counting word after the number ('7人', '12 例', '3 patients') read as a count;
    None for anything else (never what float() alone happens to accept: '1_000', 'nan', 'infinity', '٣' next
    to a control character)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return None if isinstance(value, float) and not math.isfinite(value) else float(value)
    text = str(value)
    if (unit := COUNT_UNIT.search(text)) is not None:
        text = text[:unit.start()]
    if SPACED_THOUSANDS.fullmatch(text.strip()):
        text = re.sub(r"\s", "", text)  # '1 234' (SI style, also with a no-break or thin space) is 1234
    if CN_NUMERAL.fullmatch(text.strip()):
        return cn_numeral(text.strip())  # None for characters that make no number: not a number either
    if not text.isascii() or not text[-1:].isalnum() or not text[:1].isalnum():
        text = _plain_digits(text) or ""
    text = text.strip()
    if not ASCII_NUMBER.fullmatch(text):
        return None
    n = float(text.replace(",", ""))
    return n if math.isfinite(n) else None


def is_suppressed(value: object) -> bool:
    return value is None or (isinstance(value, str) and (not value.strip() or bool(SUPPRESSED.match(value))))


@dataclass
class Column:
    """One column read as numbers, with suppressed cells ('<10', '*', '[REDACTED]', empty) told apart."""

    name: str
    position: int
    nums: list[float | None]
    suppressed: list[bool]
    raw: list[object]
    # rows (from 0) of cells in a column of numbers that are no number a check can read ('0 7', '7x', 'see
    # note'): counted as unknown, like suppressed cells, so that one odd cell cannot hide the column's counts
    odd: list[int] = field(default_factory=list)

    @property
    def numeric(self) -> bool:
        known = [v for v in self.nums if v is not None]
        return bool(known) and all(v is not None or s for v, s in zip(self.nums, self.suppressed, strict=True))

    @property
    def whole(self) -> bool:
        known = [v for v in self.nums if v is not None]
        return self.numeric and all(v >= 0 and abs(v - round(v)) < 1e-9 for v in known)


def columns(df: pl.DataFrame) -> list[Column]:
    out = []
    for i, name in enumerate(df.columns):
        s = df[name]
        if s.dtype.is_numeric() or s.dtype == pl.Utf8:
            raw = s.to_list()
        elif s.dtype.is_nested() or s.dtype == pl.Binary:
            raw = [None if v is None else str(v) for v in s.to_list()]  # lists, structs: labels, never counts
        else:
            raw = s.cast(pl.Utf8, strict=False).to_list()
        if s.dtype.is_numeric():
            nums = [None if v is None or not math.isfinite(float(v)) else float(v) for v in raw]
            sup = [v is None for v in nums]
        else:
            nums = [parse_number(v) for v in raw]
            sup = [n is None and is_suppressed(v) for n, v in zip(nums, raw, strict=True)]
        odd = _odd_cells(name, i, nums, sup, raw)
        out.append(Column(name, i, nums, [b or r in odd for r, b in enumerate(sup)], raw, odd))
    return out


# Cells that are statistics in their own right ('61.2 (9.8)', '5/120', '3.4 ± 1.2'), or totals: not odd cells
# of a column of counts, but what other rules read.
_STATISTIC_CELL = re.compile(r"[(（/±%％:：=<>≤≥]|\d\s*[-–~]\s*\d")


def _odd_cells(name: str, position: int, nums: list[float | None], sup: list[bool], raw: list[object]) -> list[int]:
    """Rows of a column of numbers whose cell is no number: beside at least two numbers, at most a third of the
    cells in a column that is not the table's first (its labels), and any number of them in a column whose
    name says it counts (so that filling a 'deaths' column with notes cannot hide its counts either)."""
    odd = [r for r, (n, b, v) in enumerate(zip(nums, sup, raw, strict=True))
           if n is None and not b and isinstance(v, str)]
    known = sum(n is not None for n in nums)
    named = name_says_count(name)
    if (not odd or known < 2 or (3 * len(odd) > len(nums) and not named) or (position == 0 and not named)
            or any(_STATISTIC_CELL.search(str(raw[r])) or TOTAL_LABEL.match(str(raw[r]).strip()) for r in odd)):
        return []
    return odd


def unreadable_cells(cols: list[Column], counted: dict[str, str]) -> list[Finding]:
    """An odd cell in a column of counts is shown to a reviewer: '0 7' or '7x' may be a count written so
    that no check reads it (in a column of codes or notes it is just a code or a note)."""
    return [Finding(CHECK, Verdict.REVIEW, f"'{str(c.raw[r])[:40]}' in a column of counts is no number the "
                    "checks can read: say what it is, or write it as a number", rule=SdcRule.UNREADABLE_CELL,
                    location={"row": r + 1, "column": c.name}) for c in cols if c.name in counted for r in c.odd]


def _is_index_run(col: Column) -> bool:
    known = [v for v in col.nums if v is not None]
    return len(known) >= 3 and all(b - a == 1 for a, b in zip(known, known[1:], strict=False))


def _is_key_run(known: set[float]) -> bool:
    """Distinct values 0..k or 1..k: the levels of a key such as ECOG status or parity."""
    ordered = sorted(known)
    return len(ordered) >= 2 and ordered[0] in (0.0, 1.0) and ordered[-1] - ordered[0] == len(ordered) - 1


def _label_column(cols: list[Column]) -> Column | None:
    """The first column of labels (strings that are not numbers): where 'Total' or 'min' rows are named."""
    return next((c for c in cols if not c.numeric and any(isinstance(v, str) and v.strip() for v in c.raw)), None)


def count_columns(df: pl.DataFrame, cols: list[Column] | None = None) -> dict[str, str]:
    """Columns holding counts, each with how it was recognised ('name' or 'content').

    Content: whole non-negative numbers (ints or ints stored as floats or text, suppressed cells allowed)
    in a table that also has a grouping column, unless the name says key or statistic, or the column
    is a 0/1 flag, a year, a running index or a key to the left of a named count.
    """
    cols = cols if cols is not None else columns(df)
    found: dict[str, str] = {}
    for c in cols:
        if c.whole and name_says_count(c.name):
            found[c.name] = "name"
    grouping = any(not c.numeric for c in cols) or any(_name_says_not_count(c.name) and c.numeric for c in cols)
    if any(TOP_COLUMN.match(c.name.strip()) for c in cols):
        return found  # a magnitude table (total, top1, top2 per cell) for the dominance rules: its total is no count
    first_named = min((c.position for c in cols if found.get(c.name) == "name"), default=len(cols))
    for name in _crosstab_cells(cols, found):
        found[name] = "crosstab"
    if not grouping:
        return found
    for c in cols:
        if c.name in found or not c.whole or _name_says_not_count(c.name):
            continue
        known = {v for v in c.nums if v is not None}
        if known <= {0.0, 1.0} or all(1900 <= v <= 2100 for v in known) or _is_index_run(c):
            continue
        if c.position < first_named < len(cols) and (c.position == 0 or _is_key_run(known)):
            continue  # an integer key (stage, parity) before the named count column
        found[c.name] = "content"
    return found


INDEX_NAME = re.compile(r"^(?:|unnamed: ?0|index|row_0|col_0|level_0|rownames|\.\.\.1)$", re.IGNORECASE)
YEAR_HEADER = re.compile(r"^(?:19|20)\d{2}(?:年|[-/ ]\d{1,2}月?)?$"  # 2019, 2019年, 2019-03; 6个月, 12 months
                         r"|^\d{1,3}\s*(?:个?月|年|天|周|日|岁|m|mo|months?|y|yr|years?|d|days?|w|wk|weeks?)$",
                         re.IGNORECASE)


def _level_header(name: str) -> bool:
    """A header naming a level of a variable (Male, 2019, Stage II, 0, 男性) rather than a variable
    (age, year, mean_los, beds, sites): the columns of a cross-tabulation."""
    toks = name_tokens(name)
    if YEAR_HEADER.match(name.strip()) or (toks and all(t.isdigit() for t in toks)):
        return True
    if not toks or any(t in STAT_TOKENS or t in NOT_PEOPLE for t in toks) or PCT_NAME.search(name) \
            or CN_NOT_PEOPLE.search(name) or MIN_MAX.search(name) or CN_NOT_COUNT.search(name):
        return False
    return not (len(toks) == 1 and toks[0] in KEY_TOKENS)


def level_name(name: str) -> bool:
    """A key of a dict of counts naming a category (London, 男, Stage II, 2019), not a setting or statistic."""
    return _level_header(name) and not name_says_count(name)


SETTINGS = frozenset({"params", "parameters", "config", "settings", "options", "hyperparameters", "args"})


def statistic_name(name: str) -> bool:
    """A name that says its values are statistics or settings, not counts (mean_age, los_days, params); a
    grouping name (by_region, age_band) says nothing about the values."""
    toks = name_tokens(name)
    return any(t in STAT_TOKENS for t in toks) or bool(CN_NOT_COUNT.search(name)) or name.strip().lower() in SETTINGS


def _crosstab_cells(cols: list[Column], found: dict[str, str]) -> list[str]:
    """The columns of a cross-tabulation whose cells are unlabelled whole numbers: row labels (a column of
    labels or a printed index) and two or more columns headed by levels of a variable, every cell a
    whole number. Such cells are counts (a trained checker reads pd.crosstab and table() output so)."""
    if any(how == "name" for how in found.values()):
        return []
    labels = [c for c in cols if not c.numeric]
    body = [c for c in cols if c.numeric]
    if not labels and body and INDEX_NAME.match(body[0].name.strip()):
        body = body[1:]
    elif not labels and not all(name_tokens(c.name) and all(t.isdigit() for t in name_tokens(c.name)) for c in body):
        return []  # without row labels, only a printed matrix headed 0, 1, 2 (or years) is a cross-tabulation
    if len(body) < 2 or len(cols[0].raw) < 2 or not all(c.whole and _level_header(c.name) for c in body):
        return []
    if any(all(1900 <= v <= 2100 for v in c.nums if v is not None) for c in body):
        return []  # a column of years is a key, not cells
    return [c.name for c in body if c.name not in found]


def _small(v: float, sdc: DisclosureControl) -> bool:
    limit = sdc.threshold if sdc.mode == "threshold" else sdc.redact_at_or_below + 1
    return 0 < v < limit


def count_cell(v: float, sdc: DisclosureControl, loc: dict, how: str = "", by: SdcRule | None = None,
               ) -> list[Finding]:
    """The threshold, zero and rounding rules for one count (as shown, or recovered from a disguise);
    `by` names the rule that recognised the value as a count, when it was not the column's name."""
    n = int(round(v))
    loc = {**loc, "recognised_by": str(by)} if by else loc
    suffix = f" ({how})" if how else ""
    if n == 0:
        if sdc.zeros_disclosive:
            return [Finding(CHECK, Verdict.BLOCK, f"zero count: class disclosure{suffix}", rule=SdcRule.ZEROS,
                            location=loc)]
        return []
    if sdc.mode == "threshold":
        if n < sdc.threshold:
            return [Finding(CHECK, Verdict.BLOCK, f"count {n} below threshold {sdc.threshold}{suffix}",
                            rule=f"threshold>={sdc.threshold}", location=loc)]
        return []
    if n <= sdc.redact_at_or_below:
        return [Finding(CHECK, Verdict.BLOCK, f"count {n} must be redacted (<= {sdc.redact_at_or_below}){suffix}",
                        rule=f"redact<={sdc.redact_at_or_below}", location=loc)]
    if n % sdc.rounding_base:
        return [Finding(CHECK, Verdict.BLOCK, f"count {n} is not rounded to {sdc.rounding_base}{suffix}",
                        rule=f"round-to-{sdc.rounding_base}", location=loc)]
    return []


def _vectorised_counts(df: pl.DataFrame, counted: dict[str, str], sdc: DisclosureControl) -> list[Finding]:
    """Long tables: the same rules, only on the cells that break them (found by polars, not a Python loop)."""
    out: list[Finding] = []
    for col in counted:
        s = df[col].cast(pl.Float64, strict=False)
        bad = (s == 0) if sdc.zeros_disclosive else pl.Series([False] * df.height)
        if sdc.mode == "threshold":
            bad = bad | ((s > 0) & (s < sdc.threshold))
        else:
            bad = bad | ((s > 0) & ((s <= sdc.redact_at_or_below) | (s % sdc.rounding_base != 0)))
        for row in bad.fill_null(False).arg_true().to_list()[:200]:
            out += count_cell(s[row], sdc, {"row": row + 1, "column": col})
    return out


HOW_COUNTED = {"content": "count column recognised by content", "crosstab": "cell of a cross-tabulation"}
COUNTED_BY = {"content": SdcRule.COUNT_BY_CONTENT, "crosstab": SdcRule.CROSSTAB_CELL}


def counts_by_row_label(cols: list[Column], counted: dict[str, str], sdc: DisclosureControl) -> list[Finding]:
    """Long-format tables (group, measure, value) and transposed ones: a row whose label says it counts
    ('n', 'cases', 'deaths', '例数') holds counts in its numeric cells, whatever the column is called."""
    out: list[Finding] = []
    labels = [c for c in cols if not c.numeric and any(isinstance(v, str) and v.strip() for v in c.raw)]
    targets = [c for c in cols if c.numeric and c.name not in counted and not _statistic_column(c.name)]
    if not labels or not targets:
        return out
    for label in labels:
        for r, v in enumerate(label.raw):
            if not (isinstance(v, str) and name_says_count(v)) or STAT_ROW_CUE.search(v) or PCT_NAME.search(v):
                continue
            for c in targets:
                n = c.nums[r]
                if n is not None and n >= 0 and abs(n - round(n)) < 1e-9:
                    out += count_cell(n, sdc, {"row": r + 1, "column": c.name},
                                      f"the row's '{label.name}' is '{v.strip()}': a count",
                                      SdcRule.COUNT_BY_ROW_LABEL)
    return out


def _statistic_column(name: str) -> bool:
    """A column of statistics or keys (year, p-value, pct), not of the values of a long-format table."""
    toks = name_tokens(name)
    generic = {"value", "values", "val", "estimate", "est", "stat", "statistic", "result", "score"}
    return (any((t in STAT_TOKENS and t not in generic) or t in KEY_TOKENS for t in toks)
            or bool(PCT_NAME.search(name) or MIN_MAX.search(name) or INTERVAL_NAME.search(name)
                    or CN_NOT_COUNT.search(name)))


def small_counts(df: pl.DataFrame, cols: list[Column], counted: dict[str, str],
                 sdc: DisclosureControl) -> list[Finding]:
    if df.height > MAX_CELLWISE_ROWS:
        return _vectorised_counts(df, counted, sdc)
    out: list[Finding] = []
    by_name = {c.name: c for c in cols}
    for name, how in counted.items():
        missingness = bool(MISSINGNESS.search(name))
        for row, v in enumerate(by_name[name].nums, start=1):
            if v is not None and not (missingness and v == 0):
                out += count_cell(v, sdc, {"row": row, "column": name}, HOW_COUNTED.get(how, ""),
                                  COUNTED_BY.get(how))
    return out


def _is_share_of(n: str, p: str, group_n: float | None) -> bool:
    """'3 (1.3)' under 'Cases (n=240)': the bracket is 100·3/240 to its printed precision, so the cell is a
    count and its percentage, though neither the header nor the cell prints a '%'."""
    return bool(group_n) and n[:1].isdigit() and _is_share(float(p), float(n.replace(",", "")), group_n, 100.0, p)


def _unexplained_bracket(m: re.Match[str], row_label: str, group_n: float | None, sdc: DisclosureControl,
                         loc: dict) -> list[Finding]:
    """'3 (4.6)' under 'Cases (n=240)', its row saying no 'mean (SD)': the bracket is no share of the 240, so
    the cell may be a mean and its SD, or a count with a share of some other total (a row percentage). A
    small whole number there is what an output checker asks about before it goes out, so it goes to review."""
    n = m.group("n")
    if not group_n or not n.isdigit() or STAT_ROW_CUE.search(row_label) or not _small(float(n), sdc):
        return []
    return [Finding(CHECK, Verdict.REVIEW, f"'{m.group(0).strip()}' under a header that states n={group_n:g}: "
                    f"the bracket is no share of {group_n:g}, so {n} may be a small count (a share of another "
                    "total) or a mean: the row should say what it shows", rule=SdcRule.UNEXPLAINED_BRACKET,
                    location=loc)]


def n_percent_cells(df: pl.DataFrame, cols: list[Column], sdc: DisclosureControl) -> list[Finding]:
    """'12 (3.4%)', '12（3.4%）', '12/340 (3.5%)': the count is checked; a suppressed count beside its
    percentage is given back by the percentage."""
    out: list[Finding] = []
    label = _label_column(cols)
    header_cue = any(N_PCT_CUE.search(c.name) for c in cols)
    for c in cols:
        if c.numeric or c is label:
            continue
        col_cue = header_cue or bool(N_PCT_CUE.search(c.name))
        stated = GROUP_N.search(c.name)
        group_n = parse_number(next(g for g in stated.groups() if g)) if stated else None
        for row, v in enumerate(c.raw, start=1):
            row_label = str(label.raw[row - 1]) if label is not None and label.raw[row - 1] is not None else ""
            m = N_PCT.match(v) if isinstance(v, str) else None
            if not m:
                if isinstance(v, str) and GROUP_SIZE_ROW.match(row_label.strip()) and parse_number(v) is not None:
                    out += count_cell(parse_number(v), sdc, {"row": row, "column": c.name},  # type: ignore[arg-type]
                                      f"group size in row '{row_label.strip()}'")
                continue
            cued = (m.group("pc") or N_PCT_CUE.search(row_label) or (col_cue and not STAT_ROW_CUE.search(row_label))
                    or (not STAT_ROW_CUE.search(row_label) and _is_share_of(m.group("n"), m.group("p"), group_n)))
            if not cued:
                out += _unexplained_bracket(m, row_label, group_n, sdc, {"row": row, "column": c.name})
                continue
            loc = {"row": row, "column": c.name}
            n = m.group("n")
            if is_suppressed(n):
                out.append(Finding(CHECK, Verdict.BLOCK, f"suppressed count shown with its percentage "
                                   f"({m.group('p')}%): the percentage gives the count back",
                                   rule=SdcRule.PERCENTAGE_REVEALS_SUPPRESSED, location=loc))
                continue
            out += count_cell(float(n.replace(",", "")), sdc, loc, "count in an 'n (%)' cell")
    return out


def _rate_scale(name: str) -> float | None:
    """'rate_per_1000' -> 1000, 'per 100,000' -> 100000, 'per_100k' -> 100000, '(1/10万)' -> 100000, '‰' -> 1000."""
    m = RATE_PER.search(name)
    if not m:
        return None
    if m.group(5):
        return 1000.0
    if m.group(1):
        return float(m.group(1).replace(",", "")) * (1000 if m.group(2) else 1)
    return float(m.group(3)) * (10000 if m.group(4) else 1)


def _denominator(cols: list[Column]) -> Column | None:
    """A denominator column by name; an upper-case 'N' or 'Total' counts as one only beside a percentage."""
    named = next((c for c in cols if DENOMINATOR.match(c.name.strip()) and c.whole), None)
    if named is not None or not any(PCT_NAME.search(c.name) for c in cols):
        return named
    return next((c for c in cols if c.whole and (c.name.strip() == "N" or c.name.strip().lower() in ("total",
                                                                                                   "total_n"))), None)


N_OF_N = re.compile(r"^\s*(\d[\d,]*)\s*/\s*(\d[\d,]*)\s*$")


def n_of_n_cells(cols: list[Column], sdc: DisclosureControl) -> list[Finding]:
    """'5/120' (events out of the group) in a column of such cells: both numbers are counts."""
    out: list[Finding] = []
    for c in cols:
        cells = [(r, N_OF_N.match(v)) for r, v in enumerate(c.raw, start=1) if isinstance(v, str) and v.strip()]
        if len(cells) < 2 or not all(m for _, m in cells):
            continue
        pairs = [(r, float(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))) for r, m in cells if m]
        if not all(a <= b for _, a, b in pairs):
            continue
        for r, a, b in pairs:
            loc = {"row": r, "column": c.name}
            out += count_cell(a, sdc, loc, "numerator of an 'n/N' cell") + count_cell(b, sdc, loc, "denominator of "
                                                                                      "an 'n/N' cell")
    return out


def _percent_of_stated_n(cols: list[Column], counted: dict[str, str], sdc: DisclosureControl) -> list[Finding]:
    """'Female, % (N=340)': a column of percentages whose header gives the denominator."""
    out: list[Finding] = []
    for c in cols:
        m = GROUP_N.search(c.name)
        if not m or c.name in counted or not c.numeric or not PCT_NAME.search(c.name):
            continue
        d = float(next(g for g in m.groups() if g).replace(",", ""))
        for row, p in enumerate(c.nums, start=1):
            if p is not None and abs(p * d / 100 - round(p * d / 100)) <= max(0.5, 0.02 * p * d / 100):
                out += count_cell(p * d / 100, sdc, {"row": row, "column": c.name},
                                  f"{p:g}% of the N={d:g} in the header is about {round(p * d / 100)}")
    return out


# Bounds of a confidence interval, p-values: percentages or not, they are not shares of people.
INTERVAL_NAME = re.compile(r"(?:^|[_\s.%(0-9-])ci(?:$|[_\s.)-]|下限|上限)|conf|置信|可信|lower|upper|下限|上限"
                           r"|p[_\s.-]?val", re.IGNORECASE)


# A percentage of change over time or a difference is not a share of the people counted beside it.
CHANGE_NAME = re.compile(r"growth|change|increase|decrease|diff|delta|trend|变化|增长|下降|增幅|降幅|差", re.IGNORECASE)


def _percent_scale(c: Column) -> float:
    """What a percentage column's values are out of: its stated rate base, 1 for proportions written as
    fractions (every value at most 1 and no '%' or 'pct' in the name), else 100."""
    known = [v for v in c.nums if v is not None]
    if scale := _rate_scale(c.name):
        return scale
    says_percent = re.search(r"%|pct|percent|百分", c.name, re.IGNORECASE)
    return 1.0 if known and max(known) <= 1 and not says_percent else 100.0


def _composition_of(pct: Column, count: Column, scale: float) -> bool:
    """Each percentage is its row's share of the count column's total (with or without a total row): the
    table's own counts, already checked, and no new number."""
    pairs = [(p / scale, n) for p, n in zip(pct.nums, count.nums, strict=True) if p is not None and n is not None]
    if len(pairs) < 2:
        return False
    totals = {sum(n for _, n in pairs), sum(n for _, n in pairs) - max(n for _, n in pairs)}
    return any(t > 0 and all(abs(share - n / t) <= 0.006 for share, n in pairs) for t in totals)


def _percent_of_the_count_beside_it(cols: list[Column], counted: dict[str, str], sdc: DisclosureControl,
                                    ) -> list[Finding]:
    """'patients 200, readmitted 2.0 %': with no column named as the denominator, the one count column of the
    table is what the percentages of its rows are of, and 2 % of 200 is 4 people. Percentages that are the
    count column's own composition, changes over time and interval bounds give back nothing new."""
    count_cols = [c for c in cols if c.name in counted and not PCT_NAME.search(c.name)]
    if len(count_cols) != 1:
        return []
    denom, out = count_cols[0], []
    for c in cols:
        if (c is denom or c.name in counted or not c.numeric or not PCT_NAME.search(c.name) or _rate_scale(c.name)
                or INTERVAL_NAME.search(c.name) or CHANGE_NAME.search(c.name)):
            continue  # a rate per 1000 is of a population the table does not give: its count is the numerator
        scale = _percent_scale(c)
        if _composition_of(c, denom, scale):
            continue
        for row, (p, d, raw) in enumerate(zip(c.nums, denom.nums, c.raw, strict=True), start=1):
            if p is None or d is None or not d or not 0 <= p <= scale:
                continue
            k = round(p * d / scale)
            if _is_share(p, k, d, scale, raw):
                out += count_cell(k, sdc, {"row": row, "column": c.name},
                                  f"{p:g} of the {d:g} in '{denom.name}' on its row is {k}")
    return out


def _is_share(p: float, k: float, d: float, scale: float, raw: object) -> bool:
    """Is `p` (as the cell `raw` shows it) what k of d is, to as many decimals as the cell shows? 2.0 of 200
    is 4 (4/200 = 2.0 %); 12.3 of 22 is nobody's share (3/22 = 13.6 %): an estimate, not a count's share."""
    text = raw if isinstance(raw, str) else repr(raw)
    decimals = min(len(text.strip().rstrip("%").partition(".")[2]), 6)
    return abs(scale * k / d - p) <= 0.5 * 10 ** -decimals + 1e-9


def percentages_with_denominator(cols: list[Column], counted: dict[str, str], sdc: DisclosureControl,
                                 ) -> list[Finding]:
    """A percentage (or rate per N) next to its denominator is the count it was computed from; one with
    no denominator and no counts in its table hides its counts from the check (33.3 % may be 1 of 3)."""
    out = _percent_of_stated_n(cols, counted, sdc)
    denom = _denominator(cols)
    if denom is None:
        if not counted:
            out += [Finding(CHECK, Verdict.REVIEW, f"column '{c.name}': a percentage without its denominator can "
                            "hide a small count", rule=SdcRule.PERCENT_WITHOUT_DENOMINATOR, location={"column": c.name})
                    for c in cols if c.numeric and PCT_NAME.search(c.name) and not _rate_scale(c.name)
                    and not INTERVAL_NAME.search(c.name)]
            return out
        return out + _percent_of_the_count_beside_it(cols, counted, sdc)
    for c in cols:
        if c is denom or c.name in counted or not c.numeric or not PCT_NAME.search(c.name):
            continue
        scale = _percent_scale(c)
        for row, (p, d) in enumerate(zip(c.nums, denom.nums, strict=True), start=1):
            if p is None or d is None:
                continue
            n = p * d / scale
            if abs(n - round(n)) <= max(0.5, 0.02 * n):
                out += count_cell(n, sdc, {"row": row, "column": c.name},
                                  f"{p:g} of denominator {d:g} in '{denom.name}' is about {round(n)}")
    return out


def _total_lines(df: pl.DataFrame, cols: list[Column], counted: dict[str, str]):
    label = _label_column(cols)
    total_row = None
    for c in (c for c in cols if not c.numeric):
        total_row = next((i for i, v in enumerate(c.raw) if isinstance(v, str) and TOTAL_LABEL.match(v.strip())), None)
        if total_row is not None:
            break
    count_cols = [c for c in cols if c.name in counted or (c.whole and any(c.suppressed) and
                                                           not _name_says_not_count(c.name))]
    total_col = next((c for c in count_cols if TOTAL_LABEL.match(c.name.strip()) or
                      re.match(r"^(total|all)[_\s]?(n|count)?$", c.name.strip(), re.I)), None)
    return label, total_row, count_cols, total_col


def secondary_from_totals(df: pl.DataFrame, cols: list[Column], counted: dict[str, str],
                          sdc: DisclosureControl) -> list[Finding]:
    """Suppressed cells that row or column totals give back: any line (a row with a total column, or a
    column with a total row) with exactly one unknown cell is solved, repeatedly, as an attacker would."""
    label, total_row, count_cols, total_col = _total_lines(df, cols, counted)
    if (total_row is None and total_col is None) or len(count_cols) < 1:
        return []
    rows = [r for r in range(df.height) if r != total_row]
    inner = [c for c in count_cols if c is not total_col]
    lines: list[tuple[tuple[int, str], list[tuple[int, str]]]] = []
    if total_col is not None:
        lines += [((r, total_col.name), [(r, c.name) for c in inner]) for r in rows + ([total_row] if total_row
                                                                                    is not None else [])]
    if total_row is not None:
        lines += [((total_row, c.name), [(r, c.name) for r in rows]) for c in count_cols]
    by_name = {c.name: c for c in cols}
    value: dict[tuple[int, str], float | None] = {}
    for c in count_cols:
        for r in range(df.height):
            value[(r, c.name)] = None if c.suppressed[r] else c.nums[r]
    suppressed = {k for k, v in value.items() if v is None}
    additive = all(abs(value[t] - sum(value[p] for p in parts)) < 0.5 for t, parts in lines  # type: ignore[operator]
                   if value[t] is not None and all(value[p] is not None for p in parts) and parts)
    out: list[Finding] = []
    recovered: dict[tuple[int, str], float] = {}
    progress = True
    while progress and suppressed:
        progress = False
        for t, parts in lines:
            cells = [t, *parts]
            unknown = [k for k in cells if value[k] is None]
            if len(unknown) != 1 or not parts:
                continue
            k = unknown[0]
            known_sum = sum(value[p] for p in parts if p != k)  # type: ignore[misc]
            v = known_sum if k == t else value[t] - known_sum  # type: ignore[operator]
            value[k] = v
            recovered[k] = v
            progress = True
    for (r, name), v in sorted(recovered.items(), key=lambda kv: kv[0]):
        raw = by_name[name].raw[r]
        shown = "empty" if raw is None or (isinstance(raw, str) and not raw.strip()) else repr(raw)
        out.append(Finding(CHECK, Verdict.BLOCK if additive else Verdict.REVIEW,
                           f"suppressed cell ({shown}) is given back by the totals: {v:g}"
                           + ("" if additive else " (approximately: the table does not add up exactly)"),
                           rule=SdcRule.SECONDARY_SUPPRESSION, location={"row": r + 1, "column": name}))
    if not recovered and sdc.mode == "threshold":
        out += _hidden_remainders(df, lines, value, sdc)
    return out


def _hidden_remainders(df: pl.DataFrame, lines, value, sdc: DisclosureControl) -> list[Finding]:
    """A total bigger than its shown parts by a small number: an unlisted category of that size."""
    known = [v for v in value.values() if v is not None]
    if known and all(v % 5 == 0 for v in known):
        return []  # rounded tables do not add up exactly by design
    out = []
    for t, parts in lines:
        if value[t] is None or not parts or any(value[p] is None for p in parts):
            continue
        rest = value[t] - sum(value[p] for p in parts)
        if _small(rest, sdc):
            out.append(Finding(CHECK, Verdict.REVIEW, f"the total is {rest:g} more than the cells shown: a category "
                               "this small is left out but recoverable", rule=SdcRule.SECONDARY_TOTAL_MINUS_CELLS,
                               location={"row": t[0] + 1, "column": t[1]}))
    return out


def series_steps(cols: list[Column], counted: dict[str, str], sdc: DisclosureControl) -> list[Finding]:
    """Cumulative counts and numbers at risk disclose each step: a small rise or fall is a small count."""
    out = []
    for c in cols:
        if c.name not in counted or not (CUMULATIVE.search(c.name) or AT_RISK.search(c.name)):
            continue
        known = [(i, v) for i, v in enumerate(c.nums) if v is not None]
        steps = [(i2, v2 - v1) for (_, v1), (i2, v2) in zip(known, known[1:], strict=False)]
        if not steps or not (all(d >= 0 for _, d in steps) or all(d <= 0 for _, d in steps)):
            continue
        for i, d in steps:
            if _small(abs(d), sdc):
                what = "cumulative series" if CUMULATIVE.search(c.name) else "numbers at risk"
                out.append(Finding(CHECK, Verdict.BLOCK, f"{what} change by {abs(d):g} between rows {i} and {i + 1}: "
                                   "a step this small is a small count", rule=SdcRule.SMALL_STEP,
                                   location={"row": i + 1, "column": c.name}))
    return out


def survival_output(cols: list[Column], counted: dict[str, str]) -> list[Finding]:
    """Kaplan-Meier curves and life tables always go to a person (ACRO), even when every count is large."""
    names = [c.name for c in cols]
    has_time = any(SURV_TIME.search(c.name) and c.numeric and not SURV_VALUE.search(c.name) for c in cols)
    at_risk = any(AT_RISK.search(n) for n in names if n in counted)
    surv = any(SURV_VALUE.search(n) for n in names)
    events = any(re.search(r"event|death|censor|死亡|删失", n, re.I) for n in names if n in counted)
    if (has_time and (at_risk or surv)) or (surv and events) or (at_risk and events):
        return [Finding(CHECK, Verdict.REVIEW, "survival table (numbers at risk / events / survival): always "
                        "reviewed; steps must hide fewer than the threshold", rule=SdcRule.SURVIVAL_REVIEW)]
    return []


QUARTERS = re.compile(r"^q[1-4]$", re.IGNORECASE)


def _min_max_column(name: str, names: list[str]) -> bool:
    """A column of minima or maxima; Q4 beside Q1-Q3 and no Q0 is the fourth quarter, not the maximum."""
    if QUARTERS.match(name.strip()) and not any(n.strip().lower() == "q0" for n in names):
        return False
    return bool(MIN_MAX.search(name) or RANGE_LABEL.search(name))


def order_statistics(df: pl.DataFrame, cols: list[Column], counted: dict[str, str],
                     sdc: DisclosureControl) -> list[Finding]:
    """Minimum and maximum are one person's value; any statistic of a tiny group is a few people's."""
    out: list[Finding] = []
    label = _label_column(cols)
    row_labels = [str(v).strip().lower() if v is not None else "" for v in label.raw] if label else []
    group_n = _group_sizes(cols, counted, row_labels)
    for c in cols:
        if _min_max_column(c.name, df.columns) and (c.numeric or any(v is not None for v in c.raw)):
            out.append(Finding(CHECK, Verdict.REVIEW, f"column '{c.name}' holds minima or maxima: single people's "
                               "values", rule=SdcRule.MIN_MAX, location={"column": c.name}))
    described = label is not None and len(DESCRIBE_LABELS & set(row_labels)) >= 3
    for r, lab in enumerate(row_labels):
        if ORDER_LABEL.match(lab) or (RANGE_LABEL.search(lab) and not described):
            out.append(Finding(CHECK, Verdict.REVIEW, f"row '{label.raw[r]}' holds minima or maxima"  # type: ignore[union-attr]
                               + (" (describe() output)" if described else "") + ": single people's values",
                               rule=SdcRule.MIN_MAX, location={"row": r + 1, "column": label.name}))  # type: ignore[union-attr]
    for c in cols:
        n = group_n.get(c.name)
        if n is not None and _small(n, sdc):
            out.append(Finding(CHECK, Verdict.BLOCK, f"statistics in column '{c.name}' describe a group of {n:g}",
                               rule=SdcRule.STATISTIC_OF_SMALL_GROUP, location={"column": c.name}))
    stat_cols = [c for c in cols if STAT_NAME.search(c.name) or MIN_MAX.search(c.name)]
    for cname in counted:
        counts = next(c for c in cols if c.name == cname)
        for s in stat_cols:
            for r, (n, v) in enumerate(zip(counts.nums, s.raw, strict=True), start=1):
                if n is not None and _small(n, sdc) and v is not None and str(v).strip() and not is_suppressed(v):
                    out.append(Finding(CHECK, Verdict.BLOCK, f"'{s.name}' of a group of {n:g} ('{cname}')",
                                       rule=SdcRule.STATISTIC_OF_SMALL_GROUP, location={"row": r, "column": s.name}))
    return out


def _group_sizes(cols: list[Column], counted: dict[str, str], row_labels: list[str]) -> dict[str, float]:
    """Group sizes stated in a header ('Cases (n=6)', '病例组(6例)') or a describe() 'count' row."""
    sizes: dict[str, float] = {}
    for c in cols:
        m = GROUP_N.search(c.name)
        if m:
            sizes[c.name] = float(next(g for g in m.groups() if g).replace(",", ""))
    size_row = next((r for r, lab in enumerate(row_labels) if lab == "count" or GROUP_SIZE_ROW.match(lab)), None)
    if size_row is not None:
        r = size_row
        for c in cols:
            if c.nums[r] is not None and c.name not in counted:
                sizes.setdefault(c.name, c.nums[r])  # type: ignore[arg-type]
            elif c.nums[r] is None and isinstance(c.raw[r], str) and parse_number(c.raw[r].split("(")[0]) is not None:
                sizes.setdefault(c.name, parse_number(c.raw[r].split("(")[0]))  # type: ignore[arg-type]
    return sizes


TOP_COLUMN = re.compile(r"^(?:top|largest|max_contrib(?:ution|utor)?)[_\s-]?(\d+)$", re.IGNORECASE)
CONTRIBUTORS = re.compile(r"^(?:n_?contributors|contributors|n_?units|n_?firms|n_?providers|贡献者数)$", re.IGNORECASE)


def _magnitude_columns(df: pl.DataFrame) -> tuple[str | None, list[str], str | None]:
    """(total, [top1, top2, ...] in rank order, number of contributors) of a magnitude table, by name."""
    total = next((c for c in df.columns if c.strip().lower() == "total"), None)
    ranked = sorted((int(m.group(1)), c) for c in df.columns if (m := TOP_COLUMN.match(c.strip())))
    tops = [c for rank, c in ranked if rank >= 1]
    contributors = next((c for c in df.columns if CONTRIBUTORS.match(c.strip())), None)
    return total, tops, contributors


def _top_n_bounds(tops: list[float], total: float, n: int) -> tuple[float, float]:
    """Least and greatest share of `total` the largest `n` contributors can have, given the largest ones
    shown: each contributor not shown is no larger than the smallest shown and the rest of the total."""
    shown = sum(tops[:n])
    missing = n - min(n, len(tops))
    rest = max(0.0, total - sum(tops))
    upper = shown + min(rest, missing * (tops[-1] if tops else total))
    return shown / total, min(1.0, upper / total)


def _p_bounds(tops: list[float], total: float) -> tuple[float, float]:
    """Least and greatest (total - top1 - top2) / top1; without a top2 column the second contributor may
    hold anything up to min(top1, total - top1)."""
    a = tops[0]
    if len(tops) >= 2:
        r = (total - a - tops[1]) / a
        return r, r
    rest = max(0.0, total - a)
    return (rest - min(a, rest)) / a, rest / a


def dominance(df: pl.DataFrame, sdc: DisclosureControl) -> list[Finding]:
    """(n,k) dominance and the p% rule on magnitude tables that give the total and the largest contributions
    (top1, top2, ... per cell), as defined by ACRO: a cell fails (n,k) when its `n` largest contributors make
    at least `k` of its total, and p% when (total - top1 - top2) / top1 < p. What the shown columns cannot
    settle (n larger than the contributions shown, p% without top2) goes to review; a cell with no more
    contributors than `n` fails (n,k) whatever its values."""
    out: list[Finding] = []
    total, tops, contributors = _magnitude_columns(df)
    if not (total and tops):
        return out
    n, k, p = sdc.dominance_n, sdc.dominance_k, sdc.p_percent
    nk_rule, p_rule = f"dominance n={n} k={k}", f"p%={p}"
    for row, r in enumerate(df.select([total, *tops] + ([contributors] if contributors else [])).iter_rows(), start=1):
        t = parse_number(r[0])
        shown = [parse_number(v) for v in r[1:1 + len(tops)]]
        count = parse_number(r[-1]) if contributors else None
        if t is None or t <= 0 or shown[0] is None:
            continue
        loc = {"row": row, "column": total}
        known = [v for v in shown if v is not None]
        known = known[:next((i for i, v in enumerate(shown) if v is None), len(shown))]  # ranks without a gap
        if min(t, *known) < 0:
            out.append(Finding(CHECK, Verdict.REVIEW, "negative values: dominance unreliable", rule=SdcRule.DOMINANCE,
                               location=loc))
            continue
        low, high = _top_n_bounds(known, t, n)
        if count is not None and 0 < count <= n:
            out.append(Finding(CHECK, Verdict.BLOCK, f"{count:g} contributors: the top {n} make the whole total",
                               rule=nk_rule, location=loc))
        elif low >= k:
            out.append(Finding(CHECK, Verdict.BLOCK, f"top {n} contributors make {low:.0%} of the total",
                               rule=nk_rule, location=loc))
        elif high >= k:
            out.append(Finding(CHECK, Verdict.REVIEW, f"top {n} contributors make between {low:.0%} and {high:.0%} "
                               f"of the total: only the largest {len(known)} are shown", rule=nk_rule, location=loc))
        if known[0] == 0:
            continue
        p_low, p_high = _p_bounds(known, t)
        if p_high < p:
            out.append(Finding(CHECK, Verdict.BLOCK, "the second-largest contributor could estimate the largest "
                               f"within {p:.0%}", rule=p_rule, location=loc))
        elif p_low < p:
            out.append(Finding(CHECK, Verdict.REVIEW, "without the second-largest contribution (top2) the p% rule "
                               "cannot be checked: the second-largest contributor may estimate the largest within "
                               f"{p:.0%}", rule=p_rule, location=loc))
    return out


def group_sizes_in_labels(cols: list[Column], sdc: DisclosureControl) -> list[Finding]:
    """'a (n=3)' in a label cell states the group's size: a count like any other."""
    out: list[Finding] = []
    for c in cols:
        if c.numeric:
            continue
        for row, value in enumerate(c.raw, start=1):
            if isinstance(value, str) and (m := GROUP_N.search(value)):
                n = float(next(g for g in m.groups() if g).replace(",", ""))
                out += count_cell(n, sdc, {"row": row, "column": c.name}, f"group size stated in the label '{value}'")
    return out


def disclosure_control(df: pl.DataFrame, sdc: DisclosureControl) -> list[Finding]:
    """Every table rule on one table."""
    cols = columns(df) if df.height <= MAX_CELLWISE_ROWS else []
    counted = count_columns(df, cols) if cols else {
        c: "name" for c in df.columns if df[c].dtype.is_integer() and name_says_count(c)}
    out = small_counts(df, cols, counted, sdc)
    if cols:
        out += unreadable_cells(cols, counted)
        out += group_sizes_in_labels(cols, sdc)
        out += counts_by_row_label(cols, counted, sdc)
        out += n_percent_cells(df, cols, sdc)
        out += n_of_n_cells(cols, sdc)
        out += percentages_with_denominator(cols, counted, sdc)
        out += secondary_from_totals(df, cols, counted, sdc)
        out += series_steps(cols, counted, sdc)
        out += survival_output(cols, counted)
        out += order_statistics(df, cols, counted, sdc)
    out += dominance(df, sdc)
    return out


def differences(tables: list[tuple[pl.DataFrame, dict]], sdc: DisclosureControl) -> list[Finding]:
    """The same table with and without one category: two tables with the same columns and row labels
    whose counts differ, all in one direction, by a small number somewhere."""
    out: list[Finding] = []
    keyed = []
    for df, loc in tables:
        if df.height > MAX_CELLWISE_ROWS or df.height == 0:
            continue
        cols = columns(df)
        label = _label_column(cols)
        counted = count_columns(df, cols)
        if label is None or not counted:
            continue
        rows = {str(v).strip().lower(): i for i, v in enumerate(label.raw) if v is not None}
        keyed.append((tuple(df.columns), rows, {c.name: c for c in cols if c.name in counted}, loc))
    for i, (names_a, rows_a, counts_a, loc_a) in enumerate(keyed):
        for names_b, rows_b, counts_b, loc_b in keyed[i + 1:]:
            if names_a != names_b:
                continue
            common = [k for k in rows_a if k in rows_b]
            if len(common) < max(1, len(rows_a) // 2):
                continue
            diffs = []
            for name, ca in counts_a.items():
                cb = counts_b.get(name)
                if cb is None:
                    continue
                for k in common:
                    a, b = ca.nums[rows_a[k]], cb.nums[rows_b[k]]
                    if a is not None and b is not None:
                        diffs.append((a - b, k, name))
            if not diffs or not (all(d >= 0 for d, _, _ in diffs) or all(d <= 0 for d, _, _ in diffs)):
                continue
            small = [(d, k, n) for d, k, n in diffs if _small(abs(d), sdc)]
            for d, k, n in small[:20]:
                out.append(Finding(CHECK, Verdict.REVIEW, f"two tables with the same rows and columns differ by "
                                   f"{abs(d):g} in row '{k}', column '{n}': if one is the other with a category "
                                   "left out, the difference is a small count", rule=SdcRule.DIFFERENCING,
                                   location={**loc_b, "row": rows_b[k] + 1, "column": n, "other_table": loc_a}))
    return out


RESIDUAL_DF = re.compile(r"(?:Df Residuals|df_resid|residual (?:degrees of freedom|df)|残差自由度)\s*[:=]?\s*(\d+)"
                         r"|residual (?:standard error|deviance):.{0,40}?\bon\s+(\d+)\s+degrees of freedom"
                         r"|F-statistic:.{0,30}?\bon\s+\d+\s+and\s+(\d+)\s+DF", re.IGNORECASE)
EXTREME_IN_TEXT = re.compile(r"\b(?:oldest|youngest|heaviest|lightest|longest|shortest)\b[^.\n]{0,40}?\d"
                             r"|\b(?:max(?:imum)?|min(?:imum)?)\s+(?:age|follow-up|follow up|length of stay|los|weight|"
                             r"height|bmi|value|dose|cost)\b[^.\n]{0,30}?\d"
                             r"|(?:年龄最大|年龄最小|最大年龄|最小年龄|最年长|最年轻|最长随访|最短随访)[^。\n]{0,20}?\d",
                             re.IGNORECASE)
_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)"
PROSE_COUNT = re.compile(rf"(?<![\w.,])(?:[nN]\s*[=＝]\s*{_NUM}|{_NUM}\s+(?:patients?|cases?|deaths?|people|"
                         r"participants|subjects|individuals|women|men|children|persons|respondents)\b)"
                         r"|(?<![第\d.])(\d+)\s*(?:例|名患者|名病人|位患者|人死亡|人次|名(?=死亡|参与者|受试者|[，。,.;；、\s]|$))")
# Counts written as words: 'three patients', 'two HIV deaths', 三名患者, 两例.
_PEOPLE = (r"(?:patients?|cases?|deaths?|people|participants|subjects|individuals|women|men|children|persons|"
           r"respondents|survivors|admissions|births)")
WORD_NUMBERS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
WORD_COUNT = re.compile(rf"\b({'|'.join(WORD_NUMBERS)})\s+(?:[\w-]+\s+)?{_PEOPLE}\b", re.IGNORECASE)
CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_WORD_COUNT = re.compile(r"(?<![第一二两三四五六七八九十百千万\d])([一二两三四五六七八九十]{1,3})\s*"
                           r"(?:名|例|位(?!数)|人(?=死亡|患病|感染))")
# A percentage of people with no denominator in sight: '33.3% died' may be one of three.
PROSE_PERCENT = re.compile(r"(?<![A-Za-z0-9_.])(\d{1,3}(?:\.\d+)?)\s*[%％](?!\s*(?:CI|confidence|置信|可信))",
                           re.IGNORECASE)
PERCENT_OF_PEOPLE = re.compile(rf"{_PEOPLE}|died|survived|患者|病人|死亡|病例|人", re.IGNORECASE)
STATED_DENOMINATOR = re.compile(r"\b[nN]\s*[=＝]\s*\d|\bof\s+\d|\bout of\s+\d|\d\s*/\s*\d|\d[\d,]*\s+"
                                r"(?:patients|people|participants|cases|subjects)|\d+\s*(?:例|名|人)|[(（]\s*\d+\s*[)）]",
                                re.IGNORECASE)


def _cn_number(text: str) -> int:
    """一 … 九十九 as an integer (十二 = 12, 二十 = 20, 十 = 10)."""
    if "十" not in text:
        return sum(CN_DIGITS[c] * 10 ** i for i, c in enumerate(reversed(text)))
    tens, _, ones = text.partition("十")
    return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones[:1], 0) if ones else 0)


def _word_counts(text: str) -> Iterable[tuple[int, re.Match[str]]]:
    for m in WORD_COUNT.finditer(text):
        yield WORD_NUMBERS[m.group(1).lower()], m
    for m in CN_WORD_COUNT.finditer(text):
        yield _cn_number(m.group(1)), m


def percents_without_denominator(text: str) -> list[re.Match[str]]:
    """Percentages of people in a line that states no denominator and no count."""
    if "%" not in text and "％" not in text or STATED_DENOMINATOR.search(text) or not PERCENT_OF_PEOPLE.search(text):
        return []
    return list(PROSE_PERCENT.finditer(text))


def residual_df(segments: Iterable[Segment], sdc: DisclosureControl) -> list[Finding]:
    from enclave.pii.prefilter import loosened

    out = []
    for seg in _worth_reading(segments, loosened(RESIDUAL_DF)):
        for m in RESIDUAL_DF.finditer(seg.text):
            df_resid = next(g for g in m.groups() if g)
            if int(df_resid) < sdc.min_residual_df:
                out.append(Finding(CHECK, Verdict.BLOCK, f"regression has {df_resid} residual degrees of freedom",
                                   rule=f"residual_df>={sdc.min_residual_df}", location=seg.location))
    return out


def _prose_gate() -> str:
    """What every pattern `counts_in_prose` reads looks for, loosened for polars (a superset of each; add a
    pattern here when `counts_in_prose` reads a new one): a line none of them matches has nothing to report."""
    from enclave.pii.prefilter import loosened

    return "|".join([*(loosened(rx) for rx in (EXTREME_IN_TEXT, PROSE_COUNT, WORD_COUNT, CN_WORD_COUNT)), "[%％]"])


def _worth_reading(segments: Iterable[Segment], gate: str) -> list[Segment]:
    """The segments `gate` picks, in order: one polars pass instead of regexes per line in Python."""
    segments = list(segments)
    if not segments:
        return []
    text = pl.Series([s.text for s in segments], dtype=pl.Utf8).str.replace_all(r"[\x1c-\x1f]", " ")  # Python's \s
    return [s for s, keep in zip(segments, text.str.contains(gate).to_list(), strict=True) if keep]


def counts_in_prose(segments: Iterable[Segment], sdc: DisclosureControl) -> list[Finding]:
    """'n = 4', '3 patients died', '死亡3例' in running text: small counts a reader sees at once."""
    out = []
    for seg in _worth_reading(segments, _prose_gate()):
        if seg.location.get("part") == "source":
            continue  # code, not output
        for m in EXTREME_IN_TEXT.finditer(seg.text):
            out.append(Finding(CHECK, Verdict.REVIEW, f"an extreme value in text ('{m.group().strip()}'): one "
                               "person's value", rule=SdcRule.MIN_MAX, location={**seg.location, "offset": m.start()}))
        for m in PROSE_COUNT.finditer(seg.text):
            n = int(next(g for g in m.groups() if g).replace(",", ""))
            if _small(n, sdc):
                out.append(Finding(CHECK, Verdict.REVIEW, f"small count in text: '{m.group().strip()}'",
                                   rule=SdcRule.COUNT_IN_TEXT, location={**seg.location, "offset": m.start()}))
        for n, m in _word_counts(seg.text):
            if _small(n, sdc):
                out.append(Finding(CHECK, Verdict.REVIEW, f"small count written as words in text: '{m.group()}'",
                                   rule=SdcRule.COUNT_IN_TEXT, location={**seg.location, "offset": m.start()}))
        for m in percents_without_denominator(seg.text):
            out.append(Finding(CHECK, Verdict.REVIEW, f"'{m.group()}' in text: a percentage without its denominator "
                               "can hide a small count", rule=SdcRule.PERCENT_WITHOUT_DENOMINATOR,
                               location={**seg.location, "offset": m.start()}))
    return out


SURV_CHART = re.compile(r"at risk|survival probability|kaplan|生存率|生存曲线|在险", re.IGNORECASE)
CHART_COUNT_CUE = re.compile(r"\(n\)|\bn\b|count|number|cases|deaths|patients|admissions|events|people"
                             r"|例数|人数|病例|死亡", re.IGNORECASE)


CHART_KEY_VALUE = re.compile(r"(?:\bcount|\bn\b|\bcases|\bdeaths|\bpatients|\bnumber|\bevents|例数|人数|病例数|死亡数)"
                             r"\s*[=:：]\s*(\d+)(?![\d.])", re.IGNORECASE)


def counts_in_chart(texts: list[str], sdc: DisclosureControl) -> list[Finding]:
    """A chart of counts annotated with its values: small value labels are small counts. Tick labels
    (runs of consecutive or evenly spaced numbers, zero-padded months) are not values."""
    out = []
    if any(SURV_CHART.search(t) for t in texts):
        out.append(Finding(CHECK, Verdict.REVIEW, "survival curve: always reviewed; numbers at risk and steps must "
                           "hide fewer than the threshold", rule=SdcRule.SURVIVAL_REVIEW))
    if not any(CHART_COUNT_CUE.search(t) for t in texts if not t.strip().isdigit()):
        return out
    for t in texts:  # 'count=3' in a bar's <title> or a label: a value the chart states, whatever the axis
        for m in CHART_KEY_VALUE.finditer(t):
            if _small(int(m.group(1)), sdc):
                out.append(Finding(CHECK, Verdict.REVIEW, f"chart states a count of {m.group(1)} ('{m.group()}'): "
                                   "a small count", rule=SdcRule.COUNT_IN_CHART, location={"label": t[:80]}))
    values = [int(n) for t in texts if t.strip().isdecimal() and not (len(t.strip()) > 1 and t.strip().startswith("0"))
              and (n := parse_number(t)) is not None]
    steps = {b - a for a, b in zip(values, values[1:], strict=False)}
    if len(values) >= 3 and len(steps) == 1:
        return out  # an axis
    for v in values:
        if _small(v, sdc):
            out.append(Finding(CHECK, Verdict.REVIEW, f"chart labels a value of {v}: a small count",
                               rule=SdcRule.COUNT_IN_CHART, location={"label": str(v)}))
    return out
