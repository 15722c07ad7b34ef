"""Vectorised pre-filters: which cells of a text column each part of the recognisers could find anything in.

A scan reads every cell, and most cells hold nothing; so polars (Rust regexes over the whole column)
decides, per cell and per part of `engine.quick`, whether that part could find anything, and Python
reads only the cells a filter picked, with only the parts that picked them. Every filter is a superset
of its part, never a guess:

- identifiers (`find_all`): each recogniser's own pattern with its look-arounds taken out (polars'
  engine has none; without them a pattern matches wherever it did, and more) and its word boundaries
  made ASCII ones (each sits next to an ASCII letter or digit of the pattern, and folded text has no
  look-alikes: wherever Python sees a boundary there, so does the ASCII test),
  run over the cells folded as `normalize.fold` folds them (each character that fold changes, among
  those in the column, replaced by what fold makes of it); cells with character codes (`&#49;`) are
  always read; digits split by separators and spelled digits have filters of their own;
- Chinese names: a name lies inside one run of Chinese characters and is decided there, so the
  distinct runs of the column are read once each (`names.run_names`, cached) and a cell is picked when
  one of its runs holds a name;
- English and pinyin names: a name is two or more capitalised words in a row; the distinct chains of
  capitalised words are read once each, and a cell is picked when a chain of it holds a name (what
  lies outside a chain can only reject a name: an eponym's 's, "in May", "Hospital" is in the chain);
  "name: John Smith" after a label has its own filter;
- presidio's phone, e-mail and SSN recognisers: their own gates (`@`, `SSN_GATE`), on text without
  Chinese characters (they are English recognisers: `engine.analyze` skips them there); for the phone
  recogniser, the windows `engine._may_hold_phone` would ask libphonenumber about are cut out of every
  cell by polars and each distinct window is asked once (`phone_cells`): a time stamp on every line of a
  log then costs one question per hour, not one Python call per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import polars as pl

from enclave.pii import names
from enclave.pii.engine import (
    CHUNK,
    CJK,
    PHONE_FILTER,
    PHONE_GATE,
    PHONE_LEAD,
    PHONE_LEAD_MAX,
    PHONE_NATIONAL_MIN,
    PHONE_TAIL,
    SSN_GATE,
    Part,
    _phone_in,
)
from enclave.pii.normalize import _ESCAPES, _SPELLED, _fold_char
from enclave.pii.recognizers import LABEL_SEPARATOR, PROVINCE_ABBR, RECOGNIZERS, Recognizer

_LOOKAROUND = re.compile(r"\(\?<?[=!](?:\\.|\[(?:\\.|[^\]\\])*\]|[^()\[\]\\])*\)")
# The digit recognisers (digits=True) also read the text with split digits joined; the shortest of
# them is a mobile number (11 digits); a separator is one character between two digits. Every other
# recogniser needs a letter, a label, a separator or a bracket: a bare integer shorter than that is safe.
SPLIT_MIN_DIGITS = DIGIT_ID_MIN = 11
SPLIT_DIGITS = rf"\d(?:[ \u00a0\-‐‑–—]?\d){{{SPLIT_MIN_DIGITS - 1},}}"
CJK_RUN = r"[\u4e00-\u9fff]{2,}"  # what names.chinese_names reads, run by run
_T = r"[A-ZÀ-ÞĀ-Ž][A-Za-zÀ-ÖØ-öø-ɏ\u0300-\u036f'’.-]*"  # a capitalised word (English, pinyin, initials)
CAPITAL_CHAIN = rf"{_T}(?:\s+{_T})+"
_PYTHON_ONLY_SPACE = r"[\x1c-\x1f]"  # Python's \s matches these, Rust's does not: made spaces first
_DOTTED_I = "[İı]"  # Python's case-insensitive i matches them, Rust's does not: made i first


def replaced(text: pl.Series, pattern: str, value: str) -> pl.Series:
    """`text.str.replace_all(pattern, value)`, the column itself where no cell matches: a replacement writes a
    new column of every cell, a test that finds nothing only reads it (most columns hold none of these)."""
    return text.str.replace_all(pattern, value) if text.str.contains(pattern).any() else text


def loosened(rx: re.Pattern[str]) -> str:
    """`rx` for polars: look-arounds removed, word boundaries ASCII, so it matches wherever `rx` does."""
    src = _LOOKAROUND.sub("", rx.pattern).replace(r"\b", r"(?-u:\b)")
    return f"(?i:{src})" if rx.flags & re.IGNORECASE else f"(?:{src})"


def spelled_filter() -> str:
    """`normalize._SPELLED` for runs that spell at least `SPLIT_MIN_DIGITS` digits: shorter runs (dates,
    "one or two") make no digit identifier once written as digits (each run is written as its digits
    and a space, so it joins nothing around it)."""
    src = loosened(_SPELLED)
    if src.count("{6,}") != 2:
        raise ValueError("normalize._SPELLED changed: update prefilter.spelled_filter")
    chinese, english, rest = src.split("{6,}")  # (digit, separators){6,} digit | (word or digit){6,}
    return f"{chinese}{{{SPLIT_MIN_DIGITS - 1},}}{english}{{{SPLIT_MIN_DIGITS},}}{rest}"


_DIGIT_CLASS = re.compile(r"(?<!\\)((?:\\\\)*)\\d")  # a \d token (not an escaped backslash before a d)


def on_folded(pattern: str) -> str:
    r"""A filter for text folded as `folded` folds it: `\d` as `[0-9]`. Folding writes every decimal digit
    Python's `\d` matches (Unicode category Nd, by the same `unicodedata`) as its ASCII digit, so on
    folded text the two match alike; polars builds Unicode `\d{17}` into an automaton many times the
    size (a filter built ten times faster, digit-dense text read two to ten times faster)."""
    return _DIGIT_CLASS.sub(r"\1[0-9]", pattern)


RECOGNIZER_FILTERS = [on_folded(loosened(r.pattern)) for r in RECOGNIZERS]
VARIANT_FILTER = on_folded(f"{SPLIT_DIGITS}|{spelled_filter()}")  # texts the digit recognisers also read
DIGIT_BITS = sum(1 << i for i, r in enumerate(RECOGNIZERS) if r.digits)
ALL_BITS = (1 << len(RECOGNIZERS)) - 1
ID_FILTER = "|".join([*RECOGNIZER_FILTERS, VARIANT_FILTER])
PRESIDIO_FILTER = "|".join([PHONE_FILTER, "@", loosened(SSN_GATE)])
MAIL_OR_SSN = "|".join(["@", loosened(SSN_GATE)])


def _label_part(pattern: str) -> str:
    """The label a labelled recogniser's filter starts with (`recognizers._label`: label, separator, value)."""
    head, sep, _value = pattern.partition(LABEL_SEPARATOR)
    if not sep:
        raise ValueError(f"not a labelled recogniser's filter: {pattern[:60]}")
    return head + ")"


_SIX_DIGITS = r"\d{6}"
# Per recogniser, a cheap pattern every text its filter matches also matches (what the filter cannot match
# without): six digits in a row, its label, a character or word it needs. Prose is mostly free of them,
# and polars reads a handful of literals and short classes many times faster than the filters' alternation.
_ANCHORS = {
    **dict.fromkeys(["cn-residence-permit", "cn-resident-id", "cn-resident-id-15", "cn-foreign-permanent-id",
                     "cn-foreign-permanent-id-old", "hk-id", "mo-id", "tw-id", "cn-phone", "cn-mobile-unlisted",
                     "cn-landline", "bank-card-luhn", "cn-passport", "hk-mo-home-return-permit"], _SIX_DIGITS),
    "cn-phone-separated": r"\d{3}[./_xX]\d{4}|[(（]1[3-9]\d[)）]",
    "cn-resident-id-separated": r"\d[.,/_;|]\d[.,/_;|]\d|\d\r?\n\d",
    "email": "@", "wechat-id": "wxid_",
    "cn-licence-plate": rf"[{PROVINCE_ABBR}][A-HJ-NP-Z]",
    "address-cn": "[省市]|自治[区區]", "address-cn-district": "[区區县縣]",
    "address-hk-mo": "香港|九龍|九龙|新界|港島|港岛|澳門|澳门|氹仔|路環|路环",
    # the capitalised word before the street type (its last name word): "seen at St Thomas'" is not read
    "address-en": r"[A-Z][a-z]+ (?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd)(?-u:\b)",
    "address-en-lowercase": r" (?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|close|crescent)"
                            r"(?-u:\b)\.?,",
}


def anchor_of(recognizer: Recognizer, pattern: str) -> str:
    """`_ANCHORS`' pattern for a recogniser, its label for a labelled one, else its whole filter."""
    if recognizer.name in _ANCHORS:
        return _ANCHORS[recognizer.name]
    if LABEL_SEPARATOR in pattern:
        return _label_part(pattern)
    return pattern


# texts no identifier filter can match do not match this: prose is read with the filters only where it does
ID_GATE = on_folded("|".join(dict.fromkeys([*(anchor_of(r, f) for r, f in zip(RECOGNIZERS, RECOGNIZER_FILTERS,
                                                                                strict=True)), VARIANT_FILTER])))
# `engine._may_hold_phone` reads each run of digits (`PHONE_GATE`, found left to right as polars finds
# them) in a window: one character, up to PHONE_LEAD_MAX lead characters, the run, PHONE_TAIL characters.
_RUN = PHONE_GATE.pattern
PHONE_HEAD = rf"(?s:.?){PHONE_LEAD.pattern}{{0,{PHONE_LEAD_MAX}}}{_RUN}"  # one per run, leftmost as Python's
PHONE_RUN_TAIL = rf"{_RUN}(?s:.{{0,{PHONE_TAIL}}})"
# Cells whose windows polars' non-overlapping matches could cut differently from Python's scan, read whole:
# lead characters alone between two runs (Python's window then starts inside the run before: five or
# more of them, or a "+", since up to four punctuation characters join the runs), a run starting within
# a tail, and a run followed by a letter (an extension word: Python reads the whole chunk).
_LEADS = PHONE_LEAD.pattern
_LEAD_GAP = rf"(?:{_LEADS}{{5,{PHONE_LEAD_MAX}}}|{_LEADS}{{0,{PHONE_LEAD_MAX}}}[+＋]{_LEADS}{{0,{PHONE_LEAD_MAX}}})"
PHONE_UNSURE = "|".join([rf"\d{_LEAD_GAP}{_RUN}",
                         rf"{_RUN}(?s:.{{1,{PHONE_TAIL - 1}}}){_RUN}", rf"{_RUN}\p{{L}}"])
LABEL_FILTER = loosened(names.EN_LABEL)


def folded(text: pl.Series) -> pl.Series:
    """The column as `normalize.fold` reads each cell (character codes aside: those cells are always read)."""
    text = replaced(text, _PYTHON_ONLY_SPACE, " ")
    other = r"[^\x00-\x7f\u4e00-\u9fff]"
    others = text.filter(text.str.contains(other)).str.extract_all(other).explode().drop_nulls().unique().to_list()
    changed = {c: f for c in others if (f := _fold_char(c)) != c}
    text = text.str.replace_many(list(changed), list(changed.values())) if changed else text
    return replaced(text, _DOTTED_I, "i")


def recognizer_bits(folded_text: pl.Series, raw: pl.Series) -> pl.Series:
    """Per cell, a bit per recogniser (`RECOGNIZERS` order) whose filter matches it (no bit: no identifier
    recogniser can find anything in the cell). Digit recognisers also read split and spelled digits; character codes
    are decoded by `fold` itself, so those cells get every recogniser."""
    bits = pl.repeat(0, len(folded_text), dtype=pl.Int64, eager=True)
    for i, pattern in enumerate(RECOGNIZER_FILTERS):
        bits = bits | (folded_text.str.contains(pattern).cast(pl.Int64) * (1 << i))
    bits = bits | (folded_text.str.contains(VARIANT_FILTER).cast(pl.Int64) * DIGIT_BITS)
    return bits | (raw.str.contains(_ESCAPES.pattern).cast(pl.Int64) * ALL_BITS)


@lru_cache(maxsize=4096)
def recognizers_of(bits: int) -> tuple[Recognizer, ...]:
    return tuple(r for i, r in enumerate(RECOGNIZERS) if bits >> i & 1)


def rows_with(text: pl.Series, pattern: str, keep: Callable[[str], bool],
              prepare: Callable[[list[str]], None] | None = None) -> pl.Series:
    """Per cell: does a piece `pattern` extracts from it pass `keep` (asked once per distinct piece;
    `prepare` gets all distinct pieces first)."""
    index = pl.int_range(0, len(text), eager=True)
    pieces = pl.DataFrame({"row": index, "piece": text.str.extract_all(pattern)}).explode("piece")
    pieces = pieces.filter(pl.col("piece").is_not_null())
    distinct = pieces["piece"].unique().to_list()
    if prepare is not None:
        prepare(distinct)
    good = [p for p in distinct if keep(p)]
    if not good:
        return pl.repeat(False, len(text), eager=True)
    rows = pieces.filter(pl.col("piece").is_in(pl.Series(good, dtype=pl.Utf8).implode()))["row"].unique()
    return index.is_in(rows.implode())


def phone_cells(text: pl.Series) -> pl.Series:
    """Per cell: could `engine._may_hold_phone` say yes (a superset: never no where it says yes)?

    Python scans a cell run by run and asks libphonenumber about each run's window (`_phone_in`,
    cached); here polars cuts every window out of every cell at once (the head: character, leads and
    run; the run and its tail), so libphonenumber is asked once per distinct window and no Python runs
    per cell. Cells longer than a chunk (`engine.CHUNK`: Python's windows stop at chunk edges) and cells
    where the two cuttings might disagree (`PHONE_UNSURE`) are picked as the plain filter picks them.
    """
    text = text.fill_null("")
    index = pl.int_range(0, len(text), eager=True)
    runs = text.str.contains(_RUN)
    long = text.str.len_chars() > CHUNK
    sure = runs & ~long & ~text.str.contains(PHONE_UNSURE)
    keep = (runs & ~sure & text.str.contains(PHONE_FILTER)).fill_null(False)
    cells = pl.DataFrame({"row": index, "t": text}).filter(sure).select(
        "row", head=pl.col("t").str.extract_all(PHONE_HEAD), run=pl.col("t").str.extract_all(_RUN),
        tail=pl.col("t").str.extract_all(PHONE_RUN_TAIL))
    aligned = (pl.col("head").list.len() == pl.col("run").list.len()) & (
        pl.col("run").list.len() == pl.col("tail").list.len())
    odd = cells.filter(~aligned)["row"]
    pieces = cells.filter(aligned).explode("head", "run", "tail").drop_nulls()
    tail = pl.col("tail").str.slice(pl.col("run").str.len_chars())
    before_run = pl.col("head").str.slice(0, pl.col("head").str.len_chars() - pl.col("run").str.len_chars())
    windows = pieces.filter(
        (pl.col("run").str.count_matches(r"\d") >= PHONE_NATIONAL_MIN) | before_run.str.contains("[+＋]")).select(
        "row", window=pl.col("head") + pl.when(tail.str.contains(r"^:[0-5]\d$")).then(pl.lit(":00")).otherwise(tail))
    asked = windows["window"].unique().to_list()
    good = [w for w in asked if _phone_in(w)]
    found = windows.filter(pl.col("window").is_in(pl.Series(good, dtype=pl.Utf8).implode()))["row"] if good else odd[:0]
    return keep | index.is_in(pl.concat([odd, found]).implode())


def _chinese_names_in(run: str) -> bool:
    return bool(names.run_names(run))


def _latin_names_in(chain: str) -> bool:
    return bool(names.latin_names(chain))


def presidio_part(text: pl.Series, presidio: pl.Series) -> pl.Series:
    """Per cell: could presidio's phone, e-mail or SSN recogniser find anything in it (`engine.analyze`
    reads them on chunks without Chinese characters)? Only the cells marked `presidio` are read at all."""
    index = pl.int_range(0, len(text), eager=True)
    marked = pl.DataFrame({"row": index, "t": text}).filter(presidio.fill_null(False))
    t = marked["t"]
    english = marked.filter(~(t.str.contains(CJK.pattern) & (t.str.len_chars() <= CHUNK)))
    mail_or_ssn = english["t"].str.contains(MAIL_OR_SSN)
    asked = english.filter(~mail_or_ssn & english["t"].str.contains(PHONE_FILTER))
    phone = asked["row"].filter(phone_cells(asked["t"]))
    return index.is_in(pl.concat([english["row"].filter(mail_or_ssn), phone]).implode())


def identifier_bits(folded_text: pl.Series, raw: pl.Series, dense: pl.Series) -> pl.Series:
    """`recognizer_bits` per cell: `dense` cells (digit-dense: log lines, identifiers) through one pass per
    recogniser's filter, the others (prose) through the filters' alternation first, where polars' engine is
    twice as fast as one by one and on digit-dense text three to ten times slower; only the cells it picks
    get a pass per filter. Prose meets the alternation only where `ID_GATE` (a superset) matches. Same bits
    either way."""
    index = pl.int_range(0, len(raw), eager=True)
    frame = pl.DataFrame({"row": index, "f": folded_text, "t": raw})
    prose = frame.filter(~dense)
    prose = prose.filter(prose["f"].str.contains(ID_GATE) | prose["t"].str.contains(_ESCAPES.pattern))
    prose = prose.filter(prose["f"].str.contains(ID_FILTER) | prose["t"].str.contains(_ESCAPES.pattern))
    read = pl.concat([frame.filter(dense), prose])
    bits = pl.repeat(0, len(raw), dtype=pl.Int64, eager=True)
    return bits.scatter(read["row"], recognizer_bits(read["f"], read["t"])) if read.height else bits


def candidates(text: pl.Series, presidio: pl.Series | None = None,
               digit_dense: bool | pl.Series = False) -> pl.DataFrame:
    """The cells any recogniser could find something in: `row`, `value`, `parts` (the `Part` flags, as an
    integer) and `bits` (the identifier recognisers to run, see `recognizers_of`).

    `presidio` marks the cells that go to presidio's recognisers too (free text); None for no cell.
    `digit_dense` marks (all, or per cell) the text full of digits (lines of a log, identifier values),
    whose identifier filters run one by one (`identifier_bits`).
    """
    text = text.fill_null("")
    raw = replaced(text, _PYTHON_ONLY_SPACE, " ")
    folded_text = folded(text)
    dense = digit_dense if isinstance(digit_dense, pl.Series) else pl.repeat(digit_dense, len(text), eager=True)
    all_bits = identifier_bits(folded_text, text, dense.fill_null(True))
    ids = all_bits != 0
    chinese = rows_with(raw, CJK_RUN, _chinese_names_in, prepare=names.prepare_runs)
    latin = rows_with(raw, CAPITAL_CHAIN, _latin_names_in) | replaced(raw, _DOTTED_I, "i").str.contains(
        LABEL_FILTER)
    flags = (ids.cast(pl.Int64) * Part.IDS.value + chinese.cast(pl.Int64) * Part.CHINESE_NAMES.value
             + latin.cast(pl.Int64) * Part.LATIN_NAMES.value)
    if presidio is not None:
        flags = flags + presidio_part(text, presidio).cast(pl.Int64) * Part.PRESIDIO.value
    picked = pl.DataFrame({"row": pl.int_range(0, len(text), eager=True), "value": text, "parts": flags,
                           "bits": all_bits}).filter(pl.col("parts") > 0)
    return picked.select("row", "value", "parts", "bits")
