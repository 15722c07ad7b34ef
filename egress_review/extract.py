"""Everything readable in an output file, with where it was: text segments and tables.

Values hide in notebook outputs, HTML attributes, JSON, image metadata and encoded blobs; each is
pulled out as text with a location a reviewer can find again.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import polars as pl

from egress_review.filetypes import decode_text, plain_utf8


@dataclass
class Segment:
    text: str
    location: dict[str, Any]


PLAIN_ATTRIBUTE = re.compile(r"[a-z:_-]+")
# Attributes that say how an element looks or where it links (colours, fonts, geometry): their words are not
# read together with the element's other attributes; every attribute is still read on its own.
PRESENTATION = frozenset(re.findall(r"[\w:-]+", """fill stroke color stop-color flood-color lighting-color
    font-family font-weight font-style font-variant font-stretch font-size text-anchor dominant-baseline
    alignment-baseline text-decoration writing-mode direction visibility display overflow cursor style class
    transform d points viewbox preserveaspectratio xmlns xmlns:xlink xmlns:svg version href xlink:href src rel
    target type clip-path mask filter marker-start marker-mid marker-end stroke-linecap stroke-linejoin
    fill-rule clip-rule shape-rendering text-rendering image-rendering color-interpolation vector-effect
    pointer-events lang xml:lang xml:space role"""))
WORDED = re.compile(r"[^\W\d_]")  # a letter or a character of any script
CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
# An identifier written one character at a time: one digit per line, per cell of a row or a column, per JSON
# list item, per SVG element's attribute or text. Such runs are also read joined, as one text.
ONE_DIGIT = re.compile(r"^\s*[|,;\"'`]*\s*([0-9Xx])\s*[|,;\"'`]*\s*$")
TOKEN_SPLIT = re.compile(r"[\s|,;\"'`]+")
MIN_DIGIT_RUN = 11  # the shortest digit identifier the recognisers know: a mobile number


def single_digits(text: str) -> str | None:
    """'1 | 3 | 8 | …', '1, 3, 8, …', '1 3 8 …': a text whose every token is one digit, joined; else None."""
    tokens = [t for t in TOKEN_SPLIT.split(text) if t]
    if len(tokens) >= MIN_DIGIT_RUN and all(len(t) == 1 and (t.isdecimal() or t in "Xx") for t in tokens):
        return "".join(tokens)
    return None


def digit_runs(items: list[tuple[str, Any]]) -> Iterator[tuple[str, Any, Any]]:
    """Runs of consecutive items (text, where) that are each one digit: (joined digits, first, last)."""
    run: list[tuple[str, Any]] = []
    for text, where in [*items, ("", None)]:
        m = ONE_DIGIT.match(text) if text is not None and len(text) <= 12 else None
        if m:
            run.append((m.group(1), where))
            continue
        if len(run) >= MIN_DIGIT_RUN:
            yield "".join(d for d, _ in run), run[0][1], run[-1][1]
        run = []


# Elements that start a new line of text on the page; everything else (span, b, a, tspan...) runs on, so
# `<span>1</span><span>3</span>…` reads as one number: the text of each block is also one segment, joined.
BLOCK_TAGS = frozenset(re.findall(r"\w+", """address article aside blockquote body br dd div dl dt figcaption figure
    footer form h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section table tbody td tfoot th thead tr ul
    svg g text title desc metadata foreignobject"""))


def _joined_words(values: list[str]) -> str:
    """Attribute values as one text: a space between them, none between two Chinese characters (张 | 伟)."""
    out = values[0]
    for v in values[1:]:
        out += ("" if CJK_CHAR.match(out[-1]) and CJK_CHAR.match(v[0]) else " ") + v
    return out


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[str, int]] = []
        self.block: list[str] = []  # text pieces of the current block, in order
        self.block_line = 1
        self.sequences: dict[str, list[tuple[str, int]]] = {}  # per attribute name (and "#text"): values in order

    def _sequence(self, key: str, value: str) -> None:
        if len(self.sequences) < 256:
            self.sequences.setdefault(key, []).append((value, self.getpos()[0]))

    def _flush(self) -> None:
        """The current block's text, joined, when it came in more than one piece (white space between pieces
        is shown as a space: `<tspan>Zhang</tspan> <tspan>Wei</tspan>` reads "Zhang Wei")."""
        while self.block and self.block[-1] == " ":  # the space after the last piece (no text data is one space)
            self.block.pop()
        if sum(1 for piece in self.block if piece != " ") > 1:
            self.parts.append(("".join(self.block), self.block_line))
        self.block = []

    def handle_data(self, data: str) -> None:
        if not data.strip():
            if self.block:
                self.block.append(" ")
            return
        self._sequence("#text", data)
        self.parts.append((data, self.getpos()[0]))
        if not self.block:
            self.block_line = self.getpos()[0]
        self.block.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self._flush()

    def close(self) -> None:
        super().close()
        self._flush()
        for values in self.sequences.values():  # <rect x="1"/><rect x="3"/>…, <text>1</text><text>3</text>…
            for joined, first, _last in digit_runs(values):
                self.parts.append((joined, first))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self._flush()
        for name, value in attrs:
            if value and value.strip():
                self._sequence(name, value)
                self.parts.append((value, self.getpos()[0]))
                if (joined := single_digits(value)) is not None:  # path data or points one digit at a time
                    self.parts.append((joined, self.getpos()[0]))
            if not PLAIN_ATTRIBUTE.fullmatch(name):  # a made-up attribute name is text the document keeps
                self.parts.append((name, self.getpos()[0]))
        # text spread over several attributes of one element (data-first="Zhang" data-last="Wei"): read joined
        worded = [v for name, v in attrs if v and name.lower() not in PRESENTATION and WORDED.search(v)]
        if len(worded) > 1:
            self.parts.append((_joined_words(worded), self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    # Comments, declarations (<!DOCTYPE ..., <!ENTITY ...>), CDATA and processing instructions are
    # not shown by a browser but leave with the file: they are read like any text.
    def handle_comment(self, data: str) -> None:
        if data.strip():
            self.parts.append((data, self.getpos()[0]))

    def handle_decl(self, decl: str) -> None:
        self.handle_data(decl)

    def unknown_decl(self, data: str) -> None:
        self.handle_data(data)

    def handle_pi(self, data: str) -> None:
        self.handle_data(data)


def html_segments(text: str, base: dict[str, Any]) -> Iterator[Segment]:
    p = _HTMLText()
    p.feed(text)
    p.close()  # an unterminated comment or tag at the end is flushed as text, not dropped
    for data, line in p.parts:
        yield Segment(data, {**base, "line": line})


def _json_strings(obj: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _json_strings(v, f"{path}.{k}")
            yield str(k), f"{path} (key)"
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _json_strings(v, f"{path}[{i}]")
        items = [(str(v), i) for i, v in enumerate(obj) if isinstance(v, str | int) and not isinstance(v, bool)]
        for joined, first, last in digit_runs(items):  # [1, 3, 8, …]: one digit per item
            yield joined, f"{path}[{first}:{last + 1}] (joined)"
        if len(items) >= 6 and len(items) == len(obj) and all(isinstance(v, int) for v in obj):
            yield ", ".join(t for t, _ in items), f"{path} (joined)"  # character codes: [49, 51, 56, …]
    elif obj is not None:
        yield str(obj), path


def png_text(data: bytes) -> Iterator[Segment]:
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        kind = ctype.decode("latin-1")
        try:
            if kind == "tEXt":
                key, _, val = body.partition(b"\x00")
                yield Segment(val.decode("latin-1"), {"chunk": kind, "key": key.decode("latin-1")})
            elif kind == "zTXt":
                key, _, rest = body.partition(b"\x00")
                yield Segment(_inflate(rest[1:]).decode("latin-1"), {"chunk": kind, "key": key.decode()})
            elif kind == "iTXt":
                key, _, rest = body.partition(b"\x00")
                flag, rest = rest[0], rest[2:]
                _lang, _, rest = rest.partition(b"\x00")
                _tkey, _, val = rest.partition(b"\x00")
                text = _inflate(val) if flag else val
                yield Segment(text.decode("utf-8", "replace"), {"chunk": kind, "key": key.decode()})
            elif kind == "eXIf":
                yield from _printable(body, {"chunk": kind})
        except (zlib.error, IndexError, UnicodeDecodeError):
            yield Segment("", {"chunk": kind, "unreadable": True})
        pos += 12 + length


MAX_INFLATED = 1 << 20  # a compressed text chunk is read up to this many bytes: no decompression bomb


def _inflate(raw: bytes) -> bytes:
    return zlib.decompressobj().decompress(raw, MAX_INFLATED)


MAX_TRAILER = 4 << 20  # bytes after an image's end marker read as text


def _image_end(data: bytes, ftype: str) -> int:
    """Where the image ends (after PNG's IEND chunk or JPEG's last EOI marker); len(data) if it has no end."""
    if ftype == "jpg":
        end = data.rfind(b"\xff\xd9")
        return len(data) if end < 0 else end + 2
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        pos += 12 + length
        if ctype == b"IEND":
            return min(pos, len(data))
    return len(data)


def image_trailer(data: bytes, ftype: str) -> Iterator[Segment]:
    """The bytes after an image's end marker, read as text: viewers ignore them, so they hide text well."""
    tail = data[_image_end(data, ftype):][:MAX_TRAILER]
    if tail:
        yield from _printable(tail, {"part": "bytes after the end of the image"})


def _printable(data: bytes, loc: dict[str, Any]) -> Iterator[Segment]:
    for m in re.finditer(rb"[\x20-\x7e]{4,}", data):
        yield Segment(m.group().decode("ascii"), {**loc, "offset": m.start()})
    for enc in ("utf-16-le", "utf-8"):
        text = data.decode(enc, "ignore")
        for m in re.finditer(r"[\u4e00-\u9fff\w@.+-]{4,}", text):
            if not m.group().isascii():
                yield Segment(m.group(), {**loc, "encoding": enc})


def jpeg_text(data: bytes) -> Iterator[Segment]:
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: metadata is over
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xFE or 0xE0 <= marker <= 0xEF:
            yield from _printable(body, {"segment": f"APP{marker - 0xE0}" if marker != 0xFE else "COM"})
        pos += 2 + length


def notebook_segments(nb: dict[str, Any]) -> Iterator[Segment]:
    for i, cell in enumerate(nb.get("cells", [])):
        src = cell.get("source", "")
        yield Segment("".join(src) if isinstance(src, list) else str(src), {"cell": i, "part": "source"})
        for j, out in enumerate(cell.get("outputs", []) or []):
            loc = {"cell": i, "output": j}
            if "text" in out:
                t = out["text"]
                yield Segment("".join(t) if isinstance(t, list) else str(t), {**loc, "part": "stream"})
            if out.get("output_type") == "error":
                yield Segment(f"{out.get('ename', '')}: {out.get('evalue', '')}", {**loc, "part": "error"})
            for mime, value in (out.get("data") or {}).items():
                v = "".join(value) if isinstance(value, list) else value
                if mime == "text/html":
                    yield from html_segments(str(v), {**loc, "part": mime})
                elif mime in ("image/png", "image/jpeg"):
                    try:
                        raw = base64.b64decode(str(v))
                    except binascii.Error:
                        continue
                    inner = png_text(raw) if mime == "image/png" else jpeg_text(raw)
                    for seg in inner:
                        yield Segment(seg.text, {**loc, "part": mime, **seg.location})
                elif isinstance(v, str):
                    yield Segment(v, {**loc, "part": mime})
                else:
                    for s, path in _json_strings(v, "$"):
                        yield Segment(s, {**loc, "part": mime, "path": path})


def text_segments(data: bytes, ftype: str) -> Iterator[Segment]:
    """Every text of a file, with where it is; a multi-line text (a notebook output, a JSON string, a
    <pre> block) holding one digit per line is also read joined."""
    for seg in _segments(data, ftype):
        yield seg
        if "\n" in seg.text and len(seg.text) < 1 << 20:
            lines = seg.text.splitlines()
            for joined, first, last in digit_runs([(line, n) for n, line in enumerate(lines, start=1) if line.strip()]):
                yield Segment(joined, {**seg.location, "text_line": first, "to_text_line": last,
                                       "joined": "one digit per line"})


def _segments(data: bytes, ftype: str) -> Iterator[Segment]:
    if ftype == "png":
        yield from png_text(data)
        return
    if ftype == "jpg":
        yield from jpeg_text(data)
        return
    text = decode_text(data)
    if text is None:
        return
    if ftype in ("json", "ipynb"):
        obj = json.loads(text)
        if ftype == "ipynb":
            yield from notebook_segments(obj)
        else:
            for s, path in _json_strings(obj, "$"):
                yield Segment(s, {"path": path})
    elif ftype in ("html", "svg"):
        yield from html_segments(text, {})
    else:
        lines = text.splitlines()
        for n, line in enumerate(lines, start=1):
            if line.strip():
                yield Segment(line, {"line": n})
                if (joined := single_digits(line)) is not None:
                    yield Segment(joined, {"line": n, "joined": "one digit per cell"})
        for joined, first, last in digit_runs([(line, n) for n, line in enumerate(lines, start=1)
                                               if line.strip()]):
            yield Segment(joined, {"line": first, "to_line": last, "joined": "one digit per line"})


B64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){12,}\b")


def decoded_blobs(seg: Segment) -> Iterator[Segment]:
    """Text hidden as base64 or hex inside a segment, decoded (only when it decodes to readable text)."""
    for rx, kind in ((B64, "base64"), (HEX, "hex")):
        for m in rx.finditer(seg.text):
            try:
                raw = base64.b64decode(m.group() + "=" * (-len(m.group()) % 4)) if kind == "base64" \
                    else bytes.fromhex(m.group())
            except (binascii.Error, ValueError):
                continue
            text = decode_text(raw)
            if text and sum(c.isprintable() for c in text) >= 0.9 * len(text):
                yield Segment(text, {**seg.location, "decoded": kind})


def read_table(data: bytes, ftype: str) -> pl.DataFrame | None:
    """The table a CSV/TSV/Parquet/XLSX file holds, or None when it cannot be read.

    The scan reads the rebuilt file's table and the checks across the files of a request read it again:
    the last readings are kept (polars frames are immutable, and a clone shares the columns), so a large
    file is parsed once."""
    df = _read_table(data, ftype)
    return None if df is None else df.clone()


def _read_csv(raw: bytes, separator: str) -> pl.DataFrame:
    """The CSV with the column types polars guesses, or every column as text when a guess does not hold
    (a full-width '７' passes polars' guess of an integer column and then fails its parse; a number column
    with a word beyond the rows it looked at): the checks read numbers from text themselves
    (`sdc.parse_number`), so a table is never unreadable for its types alone."""
    try:
        df = pl.read_csv(raw, separator=separator, infer_schema_length=10_000)
    except pl.exceptions.ComputeError:
        return pl.read_csv(raw, separator=separator, infer_schema_length=0)
    return _with_leading_zeros(df, raw, separator)


def _with_leading_zeros(df: pl.DataFrame, raw: bytes, separator: str) -> pl.DataFrame:
    """Integer columns whose text has leading zeros ('003074514', '0086…') as the text they are: the file
    that leaves keeps its zeros, so the checks must read them too (an identifier cut into two columns is
    joined from its digits as written, not from the number polars made of them).

    The integer columns are read again as text and tested by polars: a Python regex over the whole file
    for a field starting with a zero first cost half a second of CPU on a 20 MB table that has none (it
    stops only at a match), twelve times this reading of the columns."""
    ints = [c for c in df.columns if df[c].dtype.is_integer()]
    if not ints:
        return df
    text = pl.read_csv(raw, separator=separator, infer_schema_length=0, columns=ints)
    zeros = [c for c in ints if text[c].str.contains(r"^\s*[+-]?0[0-9]").any()]
    return df.with_columns(text[c] for c in zeros) if zeros else df


@lru_cache(maxsize=2)
def _read_table(data: bytes, ftype: str) -> pl.DataFrame | None:
    try:
        if ftype in ("csv", "tsv"):
            # the text as UTF-8 bytes (polars reads bytes at several times the speed of a StringIO): the file's
            # own bytes when they are plain UTF-8, which is what the text encodes into
            raw = data if plain_utf8(data) else (decode_text(data) or "").encode()
            return _read_csv(raw, "\t" if ftype == "tsv" else ",")
        if ftype == "parquet":
            return pl.read_parquet(io.BytesIO(data))
        if ftype == "xlsx":
            sheets = pl.read_excel(io.BytesIO(data), sheet_id=0)
            return pl.concat(list(sheets.values()), how="diagonal_relaxed") if sheets else None
    except Exception:  # a broken table is reported by the caller as unreadable
        return None
    return None
