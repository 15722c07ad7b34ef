"""Shows a reviewed file to a reviewer without ever running anything from it.

Everything is escaped text or a table of escaped cells; HTML, SVG and notebook HTML outputs are
shown as source, never rendered. Only raster images are displayed, as images. The pages carry a
Content-Security-Policy with no script source at all, so even a mistake here cannot run code.
"""

from __future__ import annotations

import base64
import difflib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any

import polars as pl

from egress_review.extract import read_table
from egress_review.filetypes import decode_text
from egress_review.rebuild import Refused, sheet_frames

MAX_ROWS = 500
MAX_LINES = 5000
# Said on the page whenever it shows less than the whole file (the checks always read all of it).
PART = ("ONLY PART OF THIS FILE IS SHOWN: the first {shown} of {total} {what}. The automated checks read all of "
        "it; the rest is released too if the request is approved.")
FORMULA = re.compile(r"^[=+\-@]\s*[A-Za-z_(]")


@dataclass
class Rendered:
    kind: str  # table | lines | notebook | image | none
    html: str
    notes: list[str] = field(default_factory=list)


def _hits(findings: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        loc = f.get("location") or {}
        if key in loc:
            out[loc[key]].append(f)
    return out


def _mark(text: str, found: list[dict[str, Any]]) -> str:
    if not found:
        return escape(text)
    worst = "block" if any(f["verdict"] == "block" for f in found) else "review"
    title = escape("; ".join(f"{f['check']}: {f['detail']}" for f in found))
    return f'<mark class="hit {worst}" title="{title}">{escape(text)}</mark>'


def _sheets(data: bytes, findings: list[dict[str, Any]], rows: int = MAX_ROWS) -> Rendered:
    """A workbook sheet by sheet, each with its own findings: rows are numbered per sheet."""
    try:
        sheets = sheet_frames(data)
    except Refused:
        return Rendered("none", "", ["table could not be read"])
    html, notes = [], []
    for name, df in sheets:
        mine = [f for f in findings if (f.get("location") or {}).get("sheet", name) == name]
        shown = _frame(df, mine, rows)
        html.append(f'<h4 class="sheet">{escape(name)}</h4>{shown.html}')
        notes += [f"sheet {name}: {n}" for n in shown.notes]
    return Rendered("table", "".join(html), notes)


def _table(data: bytes, ftype: str, findings: list[dict[str, Any]], rows: int = MAX_ROWS) -> Rendered:
    if ftype == "xlsx":
        return _sheets(data, findings, rows)
    df = read_table(data, ftype)
    if df is None:
        return Rendered("none", "", ["table could not be read"])
    return _frame(df, findings, rows)


def _frame(df: pl.DataFrame, findings: list[dict[str, Any]], max_rows: int = MAX_ROWS) -> Rendered:
    cells: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    rows_hit: dict[int, list[dict[str, Any]]] = defaultdict(list)
    cols_hit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        loc = f.get("location") or {}
        if "row" in loc and "column" in loc:
            cells[(loc["row"], loc["column"])].append(f)
        elif "row" in loc:
            rows_hit[loc["row"]].append(f)
        elif "column" in loc:
            cols_hit[loc["column"]].append(f)
    head = "".join(f"<th>{_mark(c, cols_hit.get(c, []))}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.head(max_rows).iter_rows(), start=1):
        tds = []
        for col, value in zip(df.columns, row, strict=True):
            text = "" if value is None else str(value)
            cls = ' class="formula"' if FORMULA.match(text) else ""
            tds.append(f"<td{cls}>{_mark(text, cells.get((i, col), []))}</td>")
        row_cls = ' class="hit-row"' if i in rows_hit else ""
        body.append(f'<tr{row_cls}><th class="rn">{i}</th>{"".join(tds)}</tr>')
    notes = [PART.format(shown=max_rows, total=df.height, what="rows")] if df.height > max_rows else []
    html = (f'<table class="data"><thead><tr><th class="rn">#</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')
    return Rendered("table", html, notes)


def _lines(text: str, findings: list[dict[str, Any]], max_lines: int = MAX_LINES) -> Rendered:
    hits = _hits(findings, "line")
    rows = []
    lines = text.splitlines()
    for n, line in enumerate(lines[:max_lines], start=1):
        rows.append(f'<tr><th class="rn">{n}</th><td><pre>{_mark(line, hits.get(n, []))}</pre></td></tr>')
    notes = [PART.format(shown=max_lines, total=len(lines), what="lines")] if len(lines) > max_lines else []
    return Rendered("lines", f'<table class="source">{"".join(rows)}</table>', notes)


def _notebook(text: str, findings: list[dict[str, Any]]) -> Rendered:
    hits = _hits(findings, "cell")
    try:
        nb = json.loads(text)
    except ValueError:
        return _lines(text, findings)
    parts = []
    for i, cell in enumerate(nb.get("cells", [])):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        parts.append(f'<section class="cell"><h4>[{i}] {escape(str(cell.get("cell_type", "")))}</h4>'
                     f"<pre>{_mark(src, [f for f in hits.get(i, []) if f['location'].get('part') == 'source'])}"
                     "</pre>")
        for j, out in enumerate(cell.get("outputs", []) or []):
            found = [f for f in hits.get(i, []) if f["location"].get("output") == j]
            if "text" in out:
                t = out["text"]
                parts.append(f'<pre class="out">{_mark("".join(t) if isinstance(t, list) else str(t), found)}</pre>')
            if out.get("output_type") == "error":
                error = f"{out.get('ename', '')}: {out.get('evalue', '')}"
                parts.append(f'<p class="mime">error (traceback frames are not kept)</p>'
                             f'<pre class="out">{_mark(error, found)}</pre>')
            for mime, value in (out.get("data") or {}).items():
                v = "".join(value) if isinstance(value, list) else value
                if mime in ("image/png", "image/jpeg") and isinstance(v, str):
                    clean = re.sub(r"[^A-Za-z0-9+/=]", "", v)
                    parts.append(f'<img class="out" alt="output {i}.{j}" src="data:{mime};base64,{clean}">')
                else:
                    shown = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, indent=1)
                    parts.append(f'<p class="mime">{escape(mime)} (shown as source)</p>'
                                 f'<pre class="out">{_mark(shown, found)}</pre>')
        parts.append("</section>")
    return Rendered("notebook", "".join(parts))


def render(data: bytes, scan: dict[str, Any], image_url: str, rows: int = MAX_ROWS,
           lines: int = MAX_LINES) -> Rendered:
    """The stored (rebuilt) form, with what the rebuild dropped said first; `rows`/`lines` shorten it
    (the decision page shows the beginning of every file beside its controls, and says it is the beginning)."""
    shown = _render(data, scan, image_url, rows, lines)
    rebuilt = scan.get("rebuilt") or []
    if rebuilt:
        shown.notes.insert(0, "Rebuilt before checking (this is the form that is released): " + "; ".join(rebuilt))
    return shown


def _render(data: bytes, scan: dict[str, Any], image_url: str, rows: int = MAX_ROWS,
            lines: int = MAX_LINES) -> Rendered:
    ftype = scan.get("type") or "binary"
    findings = scan.get("findings", [])
    if not data and scan.get("verdict") == "block":
        return Rendered("none", "", ["The file was refused and nothing of it is kept: see the findings"])
    if ftype in ("csv", "tsv", "parquet", "xlsx"):
        return _table(data, ftype, findings, rows)
    if ftype in ("png", "jpg"):
        return Rendered("image", f'<img class="reviewed" alt="reviewed image" src="{escape(image_url)}">')
    text = decode_text(data) if ftype in ("txt", "md", "json", "html", "svg", "ipynb") else None
    if text is None:
        note = {"pickle": "a pickled object: never opened here; see the findings",
                "zip": "an archive: each member's findings are listed below"}.get(
            ftype, "binary content: it cannot be shown; see the findings")
        return Rendered("none", "", [note])
    if ftype == "ipynb":
        return _notebook(text, findings)
    rendered = _lines(text, findings, lines)
    if ftype in ("html", "svg"):
        rendered.notes.append(f"{ftype.upper()} is shown as source and never rendered")
    return rendered


def image_bytes(data: bytes, ftype: str) -> tuple[bytes, str] | None:
    """Only real raster images are served as images (the type comes from the content, not the name)."""
    if ftype == "png" and data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data, "image/png"
    if ftype == "jpg" and data.startswith(b"\xff\xd8\xff"):
        return data, "image/jpeg"
    return None


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# A changed file's line diff is shown when both versions are text of at most this size.
DIFF_MAX_BYTES = 64 * 1024
DIFF_MAX_LINES = 200


def text_diff(before: bytes, after: bytes) -> list[tuple[str, str]] | None:
    """A unified diff of two small text files as (kind, line) pairs, kind `add`, `del`, `hunk` or `same`.

    None when either is binary or larger than `DIFF_MAX_BYTES`: a reviewer opens those files instead.
    The lines are text to be escaped by the page; at most `DIFF_MAX_LINES` are given, then a `more` line.
    """
    if len(before) > DIFF_MAX_BYTES or len(after) > DIFF_MAX_BYTES:
        return None
    old, new = decode_text(before), decode_text(after)
    if old is None or new is None:
        return None
    out: list[tuple[str, str]] = []
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=2)
    for line in list(lines)[2:]:  # the two header lines name no line of the file
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        if len(out) >= DIFF_MAX_LINES:
            out.append(("more", ""))
            break
        out.append((kind, line))
    return out
