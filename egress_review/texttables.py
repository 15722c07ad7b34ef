"""Tables printed into text, parsed back into DataFrames so they get the same checks as a CSV.

A table leaves as text as easily as as a file: `print(df)`, `df.head()`, `df.describe()` and
`value_counts()` in notebook outputs and logs (pandas' whitespace-aligned style with its index, polars'
box-drawing style with its shape line, R's data frames and survival summaries), Markdown pipe tables
and HTML tables. Each is read back with the row labels it was printed with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import polars as pl

from egress_review import sdc
from egress_review.filetypes import decode_text
from egress_review.sdc import is_suppressed, name_says_count, parse_number

NULLS = frozenset({"", "nan", "NaN", "None", "<NA>", "null", "NaT", "NA"})
RULE_LINE = re.compile(r"^\s*[=\-~_+*#]{3,}[\s=\-~_+*#]*$")
SERIES_END = re.compile(r"^(?:Name: (?P<name>.*?), )?(?:Length: \d+, )?dtype: \w+\s*$")
SHAPE_END = re.compile(r"^\s*\[\d+ rows x \d+ columns\]\s*$")
MAX_LINES = 2000


@dataclass
class TextTable:
    df: pl.DataFrame
    location: dict[str, Any]
    index: list[str] | None = None
    kind: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = n.strip() or f"column_{i + 1}"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
        out.append(n)
    return out


def frame(header: list[str], rows: list[list[str]]) -> pl.DataFrame | None:
    """Cells as text to typed columns: whole numbers become ints, numbers floats, the rest strings."""
    width = len(header)
    rows = [(r + [""] * width)[:width] for r in rows]
    if width < 2 or not rows:
        return None
    data: dict[str, pl.Series] = {}
    for name, j in zip(_unique(header), range(width), strict=True):
        cells = [None if r[j].strip() in NULLS else r[j].strip().strip('"') for r in rows]
        nums = [parse_number(c) for c in cells]
        if all(n is not None or c is None for n, c in zip(nums, cells, strict=True)) and any(nums):
            whole = all(n is None or n == int(n) for n in nums)
            data[name] = pl.Series(name, [None if n is None else (int(n) if whole else n) for n in nums],
                                   dtype=pl.Int64 if whole else pl.Float64)
        else:
            data[name] = pl.Series(name, cells, dtype=pl.Utf8)
    return pl.DataFrame(data)


def labelled(df: pl.DataFrame | None, index: list[str] | None, name: str = "") -> pl.DataFrame | None:
    """Row labels that are not a plain 0, 1, 2... index (describe()'s count/mean/min, groupby keys) are data:
    they become the first column, where the table checks look for 'Total' and 'min' rows."""
    if df is None or not index or all(v.strip().isdigit() for v in index):
        return df
    column = name or "index"
    while column in df.columns:
        column = f"{column}_"
    return df.insert_column(0, pl.Series(column, [v.strip() or None for v in index], dtype=pl.Utf8))


# --- HTML ---------------------------------------------------------------------------------------------------

class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, bool]]]] = []
        self._depth = 0
        self._row: list[tuple[str, bool]] | None = None
        self._cell: list[str] | None = None
        self._th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self.tables.append([])
        elif self._depth == 1 and tag == "tr":
            self._row = []
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None:
            self._cell, self._th = [], tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth = max(0, self._depth - 1)
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append((" ".join("".join(self._cell).split()), self._th))
            self._cell = None
        elif self._depth == 1 and tag == "tr" and self._row is not None:
            if self._row:
                self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str, base: dict[str, Any]) -> Iterator[TextTable]:
    p = _Tables()
    try:
        p.feed(text)
        p.close()
    except Exception:  # malformed markup: what was read so far is still checked
        pass
    for t, rows in enumerate(p.tables):
        head = [r for r in rows if all(th for _, th in r)]
        body = [r for r in rows if not all(th for _, th in r)]
        if not head or not body:
            head, body = rows[:1], rows[1:]
        width = max(len(r) for r in rows)
        header = [""] * width
        for r in head:
            for j, (cell, _) in enumerate(r):
                if cell and j < width:
                    header[j] = f"{header[j]} {cell}".strip() if header[j] and header[j] != cell else cell
        indexed = not header[0] or all(r[0][1] for r in body)
        index = [r[0][0] for r in body] if indexed else None
        df = frame(header[1:] if indexed else header, [[c for c, _ in (r[1:] if indexed else r)] for r in body])
        df = labelled(df, index, header[0])
        if df is not None:
            yield TextTable(df, {**base, "table": t + 1}, index, "html")


# --- Markdown and polars ------------------------------------------------------------------------------------

def _pipe_cells(line: str) -> list[str]:
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") else s
    return [c.strip() for c in re.split(r"(?<!\\)\|", s)]


def markdown_tables(lines: list[str], base: dict[str, Any]) -> Iterator[TextTable]:
    i = 0
    while i + 1 < len(lines):
        if "|" in lines[i] and re.match(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$", lines[i + 1]):
            header = _pipe_cells(lines[i])
            j = i + 2
            rows = []
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                rows.append(_pipe_cells(lines[j]))
                j += 1
            indexed = not header[0]
            index = [r[0] for r in rows] if indexed else None
            df = labelled(frame(header[1:] if indexed else header, [r[1:] if indexed else r for r in rows]), index)
            if df is not None:
                yield TextTable(df, {**base, "line": i + 1}, index, "markdown")
            i = j
        else:
            i += 1


def polars_tables(lines: list[str], base: dict[str, Any]) -> Iterator[TextTable]:
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("┌"):
            i += 1
            continue
        start, head, rows, in_body = i, [], [], False
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith("└"):
            line = lines[i].strip()
            if line.startswith("╞") or line.startswith("├"):
                in_body = True
            elif line.startswith("│"):
                cells = [c.strip() for c in line.strip("│").split("┆")]
                (rows if in_body else head).append(cells)
            i += 1
        i += 1
        if not head:
            continue
        header = head[0]
        rows = [r for r in rows if not all(c in ("…", "...", "") for c in r)]
        df = frame(header, rows)
        if df is not None:
            yield TextTable(df, {**base, "line": start + 1}, None, "polars")


STATA_RULE = re.compile(r"^\s*-+\+[-+]*\s*$")


def stata_tables(lines: list[str], base: dict[str, Any]) -> Iterator[TextTable]:
    """Stata's `tabulate`: labels left of a '|', values right of it, '-----+-----' rules."""
    i = 0
    while i + 1 < len(lines):
        if "|" in lines[i] and STATA_RULE.match(lines[i + 1]):
            left, _, right = lines[i].partition("|")
            header = [left.strip(), *right.split()]
            rows, j = [], i + 2
            while j < len(lines) and lines[j].strip() and ("|" in lines[j] or STATA_RULE.match(lines[j])):
                if "|" in lines[j]:
                    label, _, values = lines[j].partition("|")
                    rows.append([label.strip(), *values.split()])
                j += 1
            df = frame(header, rows)
            if df is not None:
                yield TextTable(df, {**base, "line": i + 1}, None, "stata")
            i = j
        else:
            i += 1


# --- whitespace-aligned (pandas, R) -------------------------------------------------------------------------

_INK = re.compile(r"\S")


def _spans(block: list[str]) -> list[tuple[int, int]]:
    """Runs of character positions that hold ink on some line: the columns of an aligned print.

    Each line becomes a bit mask (ink = 1) so the union over lines is one integer OR, not a loop per character."""
    mask = 0
    for line in block:
        bits = _INK.sub("1", line).replace(" ", "0")
        if "1" in bits:
            mask |= int(bits[::-1], 2)
    return [(m.start(), m.end()) for m in re.finditer(r"1+", bin(mask)[2:][::-1])]


def _header_ok(cells: list[str]) -> bool:
    """A header names columns: numbers in it must be years (a crosstab by year), not a log line's values."""
    named = [c for c in cells if c]
    if len(named) < 2 and not (len(named) == 1 and not cells[0]):
        return False
    return all(parse_number(c) is None or (c.isdecimal() and 1900 <= int(c) <= 2100) or c.isdecimal() and len(c) <= 2
               for c in named)


KEY_VALUE = re.compile(r"\S:\s{2,}\S|\S:\s*$")


def _aligned(block: list[str], base: dict[str, Any]) -> TextTable | None:
    if not _header_ok([c for c in block[0].split() if c] or [""]) and block[0][:1] != " ":
        return None  # the first line holds values, not names: a log line, not a header (cheap, before the spans)
    if len(block) > 2 and len(block[1].split()) >= 3 and (len(block[0].split()) == 1 or (
            "  " not in block[0].strip() and block[1][:1] == " " and parse_number(block[2].split()[0]) is None)):
        return None  # a caption or stratum line ('arm=A' over an R survfit summary, 'Number at risk' over a
        # risk table's indented header of times): the header is below it
    if sum(1 for x in block if KEY_VALUE.search(x)) >= 0.5 * len(block):
        return None  # "No. Observations:   2050   AIC: 8812": a key-value layout, not a table
    spans = _spans(block)
    if len(spans) < 2:
        return None
    grid = [[x[s:e].strip() for s, e in spans] for x in block]
    header, rows = grid[0], grid[1:]
    if len(rows) >= 2 and rows[0][0] and not any(rows[0][1:]):
        index_name, rows = rows[0][0], rows[1:]  # pandas prints the index name on its own line
    else:
        index_name = ""
    merged_header, merged_rows = [], [[] for _ in rows]
    pending = ""
    for j in range(len(spans)):
        if j > 0 and not any(r[j] for r in rows):
            pending = f"{pending} {header[j]}".strip()
            continue
        merged_header.append(f"{pending} {header[j]}".strip())
        pending = ""
        for r, out in zip(rows, merged_rows, strict=True):
            out.append(r[j])
    header, rows = merged_header, merged_rows
    if len(header) < 2 or len(rows) < 2 or not _header_ok(header):
        return None
    rows = [r for r in rows if not all(c in ("...", "…", "") for c in r)]
    if sum(1 for r in rows if sum(1 for c in r if c) >= 2) < 0.8 * max(1, len(rows)):
        return None
    numeric = [j for j in range(1, len(header)) if
               sum(1 for r in rows if parse_number(r[j]) is not None or is_suppressed(r[j])) >= 0.8 * len(rows)
               and any(parse_number(r[j]) is not None for r in rows)]
    if not numeric:
        return None
    indexed = not header[0]
    if indexed:
        index = [r[0] for r in rows]
        df = labelled(frame(header[1:], [r[1:] for r in rows]), index, index_name)
    else:
        df, index = frame(header, rows), None
    if df is None:
        return None
    return TextTable(df, base, index, "printed", {"index_name": index_name} if index_name else {})


def _series(block: list[str], name: str | None, base: dict[str, Any]) -> TextTable | None:
    """`value_counts()` / `groupby().size()`: label and value per line, the index name on top."""
    pairs = [re.match(r"^(.*\S)\s{2,}(\S+)\s*$", x) or re.match(r"^(\S+)\s+(\S+)\s*$", x) for x in block]
    head = ""
    if pairs and pairs[0] is None and len(block[0].split()) == 1:
        head, pairs = block[0].strip(), pairs[1:]
    if len(pairs) < 2 or any(p is None for p in pairs):
        return None
    df = frame([head or "index", name or "series_values"], [[p.group(1), p.group(2)] for p in pairs if p])
    return TextTable(df, base, None, "series") if df is not None else None


def printed_tables(lines: list[str], base: dict[str, Any]) -> Iterator[TextTable]:
    block: list[str] = []
    start = 0
    for n, line in enumerate([*lines, ""], start=1):
        end_series = SERIES_END.match(line)
        boundary = (not line.strip() or RULE_LINE.match(line) or SHAPE_END.match(line) or end_series
                    or line.lstrip().startswith(("┌", "│", "└", "╞", "|", "shape:")))
        if not boundary:
            if not block:
                start = n
            block.append(line.rstrip().expandtabs())
            continue
        if 3 <= len(block) <= MAX_LINES and any(ch.isdigit() for ch in block[-1]):
            loc = {**base, "line": start}
            table = _series(block, end_series.group("name"), loc) if end_series else None
            for skip in range(0, 0 if end_series else min(3, len(block) - 2)):
                table = _aligned(block[skip:], {**loc, "line": start + skip})  # a caption line above the table
                if table is not None:
                    break
            if table is not None:
                yield table
        block = []


def text_tables(text: str, base: dict[str, Any]) -> Iterator[TextTable]:
    lines = text.splitlines()
    yield from markdown_tables(lines, base)
    yield from polars_tables(lines, base)
    yield from stata_tables(lines, base)
    yield from printed_tables(lines, base)
    if "<table" in text.lower():
        yield from html_tables(text, base)


class _SvgText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._open = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open += tag in ("text", "tspan", "title", "desc")

    def handle_endtag(self, tag: str) -> None:
        self._open -= tag in ("text", "tspan", "title", "desc") and self._open > 0

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.texts.append(data.strip())


def svg_texts(data: bytes) -> list[str]:
    """The words and numbers a chart shows (titles, labels, value annotations), not its coordinates."""
    text = decode_text(data)
    if text is None:
        return []
    p = _SvgText()
    try:
        p.feed(text)
        p.close()
    except Exception:  # malformed markup: what was read so far is still checked
        pass
    return p.texts


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_tables(nb: dict[str, Any]) -> Iterator[TextTable]:
    for i, cell in enumerate(nb.get("cells", []) if isinstance(nb, dict) else []):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "markdown":
            yield from text_tables(_joined(cell.get("source", "")), {"cell": i, "part": "markdown"})
        for j, out in enumerate(cell.get("outputs", []) or []):
            if not isinstance(out, dict):
                continue
            loc = {"cell": i, "output": j}
            if "text" in out:
                yield from text_tables(_joined(out["text"]), {**loc, "part": "stream"})
            data = out.get("data") or {}
            if not isinstance(data, dict):
                continue
            if "text/html" in data:
                yield from html_tables(_joined(data["text/html"]), {**loc, "part": "text/html"})
            elif "text/plain" in data:  # the same frame as its HTML: read once
                yield from text_tables(_joined(data["text/plain"]), {**loc, "part": "text/plain"})
            if "text/markdown" in data:
                yield from text_tables(_joined(data["text/markdown"]), {**loc, "part": "text/markdown"})


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


JSON_COUNTS = {"path": "", "recognised_by": "count-in-json"}


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer()


def _count_value(v: Any) -> int | None:
    """A JSON value as a count: a whole number, or a string holding one ("07", "12", "０７": JSON allows no
    leading zero, so a two-digit count is often written as text); None for anything else."""
    if _whole(v):
        return int(v)
    if isinstance(v, str):
        n = sdc.parse_number(v)
        if n is not None and n.is_integer() and "," not in v:
            return int(n)
    return None


def _json_table(df: pl.DataFrame | None, path: str, counts: bool = False) -> Iterator[TextTable]:
    if df is not None and df.height:
        yield TextTable(df, {**JSON_COUNTS, "path": path} if counts else {"path": path}, None, "json")


def _json_counts(key: str, obj: dict[str, Any], path: str) -> Iterator[TextTable]:
    """A dict of whole numbers keyed by categories ({"London": 3, "North": 45}, value_counts().to_dict()) is a
    frequency table; so is any dict of whole numbers under a key that says it counts ({"cases": {...}})."""
    items = [(str(k), _count_value(v)) for k, v in obj.items()]
    if len(items) < 2 or not all(v is not None and v >= 0 for _, v in items):
        return
    parent_counts = name_says_count(key)
    if not parent_counts and (sdc.statistic_name(key) or not all(sdc.level_name(k) for k, _ in items)):
        return
    yield from _json_table(pl.DataFrame({"category": [k for k, _ in items], "n": [v for _, v in items]}), path,
                           counts=True)


def _json_matrix(key: str, obj: Any, path: str) -> Iterator[TextTable]:
    """pandas' to_json(orient='split') ({"columns", "index", "data"}), a list of equal rows of whole numbers
    (a confusion matrix, a crosstab's values) and a dict of dicts (orient='columns'/'index'): the cells
    of a cross-tabulation."""
    if isinstance(obj, dict) and isinstance(obj.get("data"), list) and isinstance(obj.get("columns"), list):
        rows = obj["data"]
        header = [str(c) for c in obj["columns"]]
        if rows and all(isinstance(r, list) and len(r) == len(header) and all(_scalar(x) for x in r) for r in rows):
            index = obj.get("index") if isinstance(obj.get("index"), list) and len(obj["index"]) == len(rows) else None
            labels = [f"row {i + 1}" if v is None else str(v) for i, v in enumerate(index or [None] * len(rows))]
            table = frame(["index", *header], [[lab, *("" if x is None else str(x) for x in r)]
                                               for lab, r in zip(labels, rows, strict=True)])
            yield from _json_table(table, path)
        return
    if isinstance(obj, list) and len(obj) >= 2 and all(isinstance(r, list) and len(r) == 2 and isinstance(r[0], str)
                                                       and _count_value(r[1]) is not None for r in obj):
        yield from _json_counts(key, {r[0]: r[1] for r in obj}, path)  # [["London", 3], ...]: most_common() pairs
        return
    if isinstance(obj, list) and len(obj) >= 2 and all(isinstance(r, list) and r for r in obj):
        width = len(obj[0])
        if width >= 2 and all(len(r) == width and all(_whole(x) for x in r) for r in obj) and \
                (name_says_count(key) or not sdc.statistic_name(key)):
            header = ["index", *(str(j) for j in range(width))]
            yield from _json_table(frame(header, [[f"row {i + 1}", *(str(int(x)) for x in r)]
                                                  for i, r in enumerate(obj)]), path)
        return
    if isinstance(obj, dict) and len(obj) >= 2 and all(isinstance(v, dict) and v for v in obj.values()):
        inner = [list(v) for v in obj.values()]
        if all(keys == inner[0] for keys in inner) and all(_scalar(x) for v in obj.values() for x in v.values()):
            header = ["index", *(str(k) for k in obj)]
            rows = [[str(r), *("" if v.get(r) is None else str(v.get(r)) for v in obj.values())] for r in inner[0]]
            yield from _json_table(frame(header, rows), path)


def json_tables(obj: Any, path: str, depth: int = 0, key: str = "") -> Iterator[TextTable]:
    """Tables a JSON summary carries: lists of flat records, columns as equal-length lists (one list alone
    when its key says it counts), dicts of counts, split-oriented frames, matrices, and the counts of a
    flat object ({"n_deaths": 3}) as a one-row table."""
    if depth > 6:
        return
    matrix = list(_json_matrix(key, obj, path))
    yield from matrix
    if matrix and isinstance(obj, dict) and "data" in obj:
        return  # a split-oriented frame: its lists are the table's parts, not columns
    if isinstance(obj, list):
        rows = [r for r in obj if isinstance(r, dict) and r and all(_scalar(v) for v in r.values())]
        if rows and len(rows) == len(obj):
            try:
                df = pl.from_dicts([{str(k): (None if v is None else str(v)) for k, v in r.items()} for r in rows])
            except Exception:  # records of differing shapes are still checked as text
                df = None
            if df is not None:
                header = df.columns
                table = frame(header, [[r.get(h) or "" for h in header] for r in df.to_dicts()])
                if table is not None:
                    yield TextTable(table, {"path": path}, None, "json")
            return
        for i, v in enumerate(obj[:1000]):
            yield from json_tables(v, f"{path}[{i}]", depth + 1, key)
    elif isinstance(obj, dict):
        lists = {str(k): v for k, v in obj.items() if isinstance(v, list) and v and all(_scalar(x) for x in v)}
        if len(lists) >= 2 and len({len(v) for v in lists.values()}) == 1:
            header = list(lists)
            rows = [["" if lists[h][i] is None else str(lists[h][i]) for h in header]
                    for i in range(len(lists[header[0]]))]
            table = frame(header, rows)
            if table is not None:
                yield TextTable(table, {"path": path}, None, "json")
        else:
            for k, v in lists.items():
                counted = [_count_value(x) for x in v]
                if name_says_count(k) and all(x is not None and x >= 0 for x in counted):
                    yield from _json_table(pl.DataFrame({k: counted}), f"{path}.{k}", counts=True)
        yield from _json_counts(key, obj, path)
        counts = {str(k): n for k, v in obj.items() if not isinstance(v, float) and (n := _count_value(v)) is not None
                  and name_says_count(str(k))}
        if counts:
            yield TextTable(pl.DataFrame({k: [v] for k, v in counts.items()}), {"path": path}, None, "json")
        for k, v in obj.items():
            if isinstance(v, dict | list):
                yield from json_tables(v, f"{path}.{k}", depth + 1, str(k))


def find_tables(data: bytes, ftype: str) -> list[TextTable]:
    """Every table in a text-like file; never raises on broken input (it is then simply not a table)."""
    text = decode_text(data) if ftype in ("txt", "md", "html", "ipynb", "json") else None
    if text is None:
        return []
    try:
        if ftype == "ipynb":
            return list(notebook_tables(json.loads(text)))
        if ftype == "html":
            return list(html_tables(text, {}))
        if ftype == "json":
            return list(json_tables(json.loads(text), "$"))
        return list(text_tables(text, {}))
    except (ValueError, RecursionError, TypeError, AttributeError):
        return []
