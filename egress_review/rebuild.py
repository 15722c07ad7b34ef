"""Every exported file is rebuilt into a known form before it is checked: what the checker does not read does not leave.

The rebuilt bytes are what the checks read, what the store keeps, what reviewers see and what is
released. Each rebuild keeps only what the checks understand and says what it dropped:

- PNG / JPEG: re-encoded from their pixels; no metadata chunks or segments, nothing after the end marker.
- Notebooks: cells, sources and the outputs the checker reads (text, HTML, Markdown, LaTeX, JSON, PNG,
  JPEG, SVG); notebook and cell metadata, attachments, widget state, ids and unknown output types are
  dropped; an error keeps its name and message (checked) and drops its traceback frames.
- Parquet: rewritten without key-value metadata; categorical columns become text; every column type
  is one the checks read (nested lists and structs are flattened into text for them) or the file is refused.
- XLSX: a fresh workbook of the values of every sheet (hidden and very hidden sheets become normal
  sheets and are checked); comments, document properties, defined names, formulas (their cached
  values are kept), charts, images and macros are dropped.
- Text (CSV, TSV, TXT, Markdown, HTML, SVG, JSON): decoded (UTF-8, UTF-16/32 with BOM, GB18030, Big5) and
  stored as UTF-8; JSON is re-serialised from what was parsed; HTML and SVG that can run script are refused
  (`block`: kept as text so reviewers see the script as source, never approvable).
- ZIP: members read within the policy's caps and rebuilt one by one into a new archive with no
  comments, extra fields or timestamps (see `zip_entries` and `pack_zip`).

A file that cannot be read fully is refused (`block`, with the reason): never `pass`, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import struct
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import numpy as np
import openpyxl
import polars as pl
from PIL import Image

from egress_review import dropped
from egress_review.extract import Segment
from egress_review.filetypes import decode_text, plain_utf8
from egress_review.findings import Finding, Verdict
from policies.schema import EgressPolicy

CHECK = "rebuild"


class Refused(Exception):
    """The file cannot be read fully or holds what the checks do not read; the message is the reason."""

    def __init__(self, reason: str, rule: str = "readable") -> None:
        super().__init__(reason)
        self.rule = rule


@dataclass
class Rebuilt:
    data: bytes | None  # the known form; None when the file was refused
    notes: list[str] = field(default_factory=list)  # what was dropped or changed, said to requester and reviewers
    findings: list[Finding] = field(default_factory=list)
    tables: list[tuple[str, pl.DataFrame]] | None = None  # (sheet, frame) the table checks read, when not the file
    segments: list[Segment] = field(default_factory=list)  # more text the personal-data checks read (sheet names)


def refusal(reason: str, rule: str = "readable") -> Finding:
    return Finding(CHECK, Verdict.BLOCK, reason, rule=rule)


def rebuild(ftype: str, data: bytes, policy: EgressPolicy) -> Rebuilt:
    """The known form of a file of type `ftype` (detected from its content), or a refusal with its reason."""
    builder = BUILDERS.get(ftype)
    if builder is None:
        return Rebuilt(None, findings=[refusal(f"{ftype} files are not rebuilt, so they cannot be checked")])
    try:
        return builder(data, policy)
    except Refused as exc:
        return Rebuilt(None, findings=[refusal(str(exc), exc.rule)])
    except RecursionError:
        return Rebuilt(None, findings=[refusal(f"{ftype} nested too deeply to read", "nesting")])


# --- images ---------------------------------------------------------------------------------------

PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"}


def _png_extras(data: bytes) -> list[str]:
    """What re-encoding drops from a PNG: its ancillary chunks and the bytes after IEND."""
    notes, kinds, pos, ended = [], [], 8, False
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind not in PNG_KEPT:
            kinds.append(kind.decode("latin-1"))
        pos += 12 + length
        if kind == b"IEND":
            ended = pos <= len(data)
            break
    if not ended:
        raise Refused("PNG has no end marker (IEND): it is cut short")
    if kinds:
        notes.append(f"metadata chunks dropped: {', '.join(sorted(set(kinds)))}")
    if pos < len(data):
        notes.append(f"{len(data) - pos} bytes after the end of the image dropped")
    return notes


def _jpeg_extras(im: Image.Image, data: bytes) -> list[str]:
    notes = []
    meta = sorted(k for k in im.info if k in ("exif", "icc_profile", "comment", "xmp", "photoshop", "adobe")
                  or k.startswith("APP"))
    if meta or b"\xff\xfe" in data[:65536]:
        notes.append("metadata dropped: " + (", ".join(meta) or "comment"))
    end = data.rfind(b"\xff\xd9")
    if end < 0:
        raise Refused("JPEG has no end marker (EOI): it is cut short")
    if end < len(data) - 2:
        notes.append(f"{len(data) - end - 2} bytes after the end of the image dropped")
    return notes


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # IHDR colour type → samples per pixel
LOW_BITS = 0xFE  # the rebuild keeps the upper seven bits of every sample


def _decoded_bytes(im: Image.Image, data: bytes, fmt: str) -> int:
    """What decoding will hold: pixels × samples × bytes per sample (a 16-bit RGBA PNG takes 8 per pixel)."""
    width, height = im.size
    if fmt == "PNG" and len(data) >= 26:
        depth, ctype = data[24], data[25]
        return width * height * -(-PNG_CHANNELS.get(ctype, 4) * depth // 8)
    return width * height * len(im.getbands())


def _without_low_bits(im: Image.Image) -> Image.Image:
    """Every channel's lowest bit cleared: invisible to a reader of the chart, and what was hidden in the
    least significant bits (an identifier, a file) is gone. 16- and 32-bit greyscale are reduced to 8 bits."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        wide = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or wide.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(wide * 255.0 / top, 0, 255).astype(np.uint8), "L")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
    return Image.frombytes(im.mode, im.size, bytes(np.frombuffer(im.tobytes(), np.uint8) & LOW_BITS))


def image(data: bytes, fmt: str, policy: EgressPolicy) -> tuple[bytes, list[str]]:
    """The pixels alone, with the lowest bit of every channel cleared, re-encoded; a decompression bomb
    (by pixels or by the bytes its pixels decode to) or a truncated image is refused."""
    out, notes, _ = _image(data, fmt, policy)
    return out, notes


def _image(data: bytes, fmt: str, policy: EgressPolicy) -> tuple[bytes, list[str], Image.Image]:
    """`image`, and the decoded pixels as submitted (for the pixel statistics)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = im.size
            if width * height > policy.max_image_pixels:
                raise Refused(f"image of {width}×{height} pixels: over the limit of {policy.max_image_pixels}",
                              "max_image_pixels")
            if (size := _decoded_bytes(im, data, fmt)) > policy.max_image_bytes:
                raise Refused(f"image of {width}×{height} pixels decodes to {size} bytes: over the limit of "
                              f"{policy.max_image_bytes}", "max_image_bytes")
            frames = getattr(im, "n_frames", 1)
            im.load()
            notes = _png_extras(data) if fmt == "PNG" else _jpeg_extras(im, data)
            if im.mode in ("P", "PA"):
                im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
            clean = _without_low_bits(im)  # a new image: no info, no chunks, no low bits
            out = io.BytesIO()
            if fmt == "PNG":
                clean.save(out, "PNG")
            else:
                clean.convert("RGB" if clean.mode in ("RGBA", "LA") else clean.mode).save(out, "JPEG", quality=95)
    except Refused:
        raise
    except Exception as exc:  # Pillow reports broken images with many exception types
        raise Refused(f"{fmt} image cannot be read fully ({type(exc).__name__}: {str(exc)[:80]})") from exc
    notes.append("lowest bit of every colour channel cleared (invisible; removes data hidden there)")
    if frames > 1:
        notes.append(f"animation of {frames} frames: only the first is kept")
    return out.getvalue(), notes, im


# Charts are flat areas in a few colours; pixels that carry data look like noise or like text read as bytes.
STATS_MIN_PIXELS = 1024  # below this (an icon) the statistics say little; the pixel bytes are still read as text
MAX_CHANNEL_ENTROPY = 6.0  # bits per channel value; flat charts stay far below, noise and photographs near 8
MIN_FLAT_SHARE = 0.5  # share of pixels equal to their left neighbour; charts are mostly background and fills
MAX_COLOURS = 4096  # distinct colours; anti-aliased charts use a few hundred (a JPEG's artefacts some thousands)
MAX_COLOUR_SHARE = 0.25  # ... and more than this share of the pixels, where noise has nearly one colour a pixel
STATS_SAMPLE_PIXELS = 1 << 20  # the statistics of a larger image are taken on evenly spaced rows
PRINTABLE_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{8,}")
MAX_RUN_TEXT = 1 << 20  # printable runs read as text per image


def _entropy(values: np.ndarray) -> float:
    counts = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum())


def pixel_statistics(im: Image.Image) -> list[str]:
    """Why these pixels could carry data rather than draw a chart (empty when they look like a chart)."""
    px = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB" if im.mode != "L" else "L"))
    if px.ndim == 2:
        px = px[:, :, None]
    height, width, channels = px.shape
    if height * width < STATS_MIN_PIXELS:
        return []
    if height * width > STATS_SAMPLE_PIXELS:  # whole rows, evenly spaced: neighbours stay neighbours
        px = px[::-(-height * width // STATS_SAMPLE_PIXELS)]
    why = []
    entropy = max(_entropy(px[:, :, c]) for c in range(channels))
    if entropy > MAX_CHANNEL_ENTROPY:
        why.append(f"{entropy:.1f} bits of entropy per channel")
    flat = float((px[:, 1:] == px[:, :-1]).all(axis=2).mean()) if width > 1 else 1.0
    if flat < MIN_FLAT_SHARE:
        why.append(f"only {flat:.0%} of pixels repeat their neighbour")
    packed = np.zeros(px.shape[:2], np.uint32)
    for c in range(channels):
        packed = (packed << 8) | px[:, :, c]
    colours = len(np.unique(packed))
    if colours > MAX_COLOURS and colours > MAX_COLOUR_SHARE * packed.size:
        why.append(f"{colours} distinct colours")
    return why


def pixel_text(im: Image.Image) -> list[Segment]:
    """The pixel bytes read as text, row by row and column by column: an identifier written as pixel values
    (grey levels, palette colours, one value per block) reads back as printable characters."""
    flat = im.convert("L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB")
    segments, total = [], 0
    for where, view in (("rows", flat), ("columns", flat.transpose(Image.Transpose.TRANSPOSE))):
        lines = np.asarray(view).reshape(view.size[1], -1)  # one line of text a row of pixels
        raw = np.hstack([lines, np.full((lines.shape[0], 1), ord("\n"), np.uint8)]).tobytes()
        for m in PRINTABLE_RUN.finditer(raw):
            run = m.group(0)
            if len(set(run)) < 4:  # a flat area in a printable grey level
                continue
            segments.append(Segment(run.decode("ascii"), {"part": f"pixel values read as text ({where})",
                                                          "offset": m.start()}))
            total += len(run)
            if total > MAX_RUN_TEXT:
                return segments
    return segments


def _image_findings(im: Image.Image, policy: EgressPolicy) -> list[Finding]:
    if policy.images == "review":
        return [Finding(CHECK, Verdict.REVIEW, "images go to review by policy: visible text in an image is not read "
                        "automatically (no OCR), a reviewer must look at it", rule="images=review")]
    why = pixel_statistics(im)
    return [Finding(CHECK, Verdict.REVIEW, f"image content could carry data ({', '.join(why)})",
                    rule="pixel-statistics")] if why else []


def _picture(data: bytes, fmt: str, policy: EgressPolicy) -> Rebuilt:
    out, notes, im = _image(data, fmt, policy)
    left_out = dropped.findings(dropped.image_texts(data, "png" if fmt == "PNG" else "jpg"))
    return Rebuilt(out, notes, findings=_image_findings(im, policy) + left_out, segments=pixel_text(im))


def _png(data: bytes, policy: EgressPolicy) -> Rebuilt:
    return _picture(data, "PNG", policy)


def _jpg(data: bytes, policy: EgressPolicy) -> Rebuilt:
    return _picture(data, "JPEG", policy)


# --- text, JSON, HTML and SVG -------------------------------------------------------------------

class _Notes:
    """Counts what a rebuild dropped, said once per kind ('cell metadata dropped (3 cells)')."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def lines(self) -> list[str]:
        return [f"{what} ({n})" if n > 1 else what for what, n in self.counts.items()]


DATA_URI = re.compile(r"data:([\w.+/-]*)((?:;[\w=.+-]+)*);base64,([A-Za-z0-9+/=]+)", re.IGNORECASE)
IMAGE_URI = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG"}


def _has_base64_marker(text: str) -> bool:
    """";base64," in any ASCII letter case. A case-insensitive regex reads 30 MB/s and lowering a copy of the
    whole text costs as much as reading it: each "64," (rare) is looked at, with the five characters before."""
    at = text.find("64,")
    while at != -1:
        if at >= 5 and text[at - 5:at].encode().lower() == b";base":
            return True
        at = text.find("64,", at + 3)
    return False


def embedded(text: str, policy: EgressPolicy) -> tuple[str, list[str]]:
    """Base64 data URIs in text: images re-encoded from their pixels, other binary payloads dropped.

    Text payloads stay: the checks decode base64 and read it. An image in an HTML output or a Markdown
    cell carries its PNG chunks like a PNG file does.
    """
    if not _has_base64_marker(text):
        return text, []
    notes = _Notes()

    def swap(m: re.Match[str]) -> str:
        mime = m.group(1).lower()
        try:
            raw = base64.b64decode(m.group(3) + "=" * (-len(m.group(3)) % 4))
        except (binascii.Error, ValueError):
            notes.add("unreadable embedded data dropped")
            return "data:,"
        if mime in IMAGE_URI:
            try:
                clean, _ = image(raw, IMAGE_URI[mime], policy)
            except Refused:
                notes.add("unreadable embedded image dropped")
                return "data:,"
            notes.add("embedded images re-encoded from their pixels")
            return f"data:{mime};base64,{base64.b64encode(clean).decode()}"
        if decode_text(raw) is not None:
            return m.group(0)
        notes.add(f"embedded {mime or 'binary'} data dropped")
        return "data:,"

    return DATA_URI.sub(swap, text), notes.lines()


def _decoded(data: bytes) -> tuple[str, list[str]]:
    text = decode_text(data)
    if text is None:
        raise Refused("text in an encoding the checks do not read (UTF-8, UTF-16/32 with BOM, GB18030, Big5)",
                      "encoding")
    return text, ([] if plain_utf8(data) else ["stored as UTF-8 text"])


def _text(data: bytes, policy: EgressPolicy) -> Rebuilt:
    text, notes = _decoded(data)
    kept, more = embedded(text, policy)
    # a UTF-8 file with nothing embedded is rebuilt into its own bytes: kept as they are, not encoded again
    return Rebuilt(data if kept is text and not notes else kept.encode(), notes + more)


def _json(data: bytes, policy: EgressPolicy) -> Rebuilt:
    text, notes = _decoded(data)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise Refused(f"JSON cannot be parsed: {exc}") from exc
    text, more = embedded(json.dumps(obj, ensure_ascii=False, indent=1), policy)
    out = text.encode()
    return Rebuilt(out, notes + more + (["re-serialised from what was parsed"] if out != data else []))


SCRIPT_TAGS = {"script", "iframe", "frame", "object", "embed", "applet", "base", "handler", "listener"}
SCRIPT_URL = re.compile(r"^(?:javascript|vbscript|livescript|data:text/html|data:application/(?:x-)?javascript)"
                        r"|^data:image/svg", re.IGNORECASE)
INVISIBLE = re.compile(r"[\x00-\x20\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
STYLE_SCRIPT = re.compile(r"expression\s*\(|javascript:|-moz-binding|behavior\s*:", re.IGNORECASE)


class _Active(HTMLParser):
    """Finds what would run in a browser: script elements, event handlers, script URLs, refreshes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        if tag in SCRIPT_TAGS:
            self.found.append(f"<{tag}> at line {line}")
        for name, value in attrs:
            clean = INVISIBLE.sub("", unescape(value or ""))
            if name.startswith("on"):
                self.found.append(f"event handler {name} at line {line}")
            elif SCRIPT_URL.search(clean):
                self.found.append(f"script URL in {name} at line {line}")
            elif name == "style" and STYLE_SCRIPT.search(clean):
                self.found.append(f"script in a style at line {line}")
            elif tag == "meta" and name == "http-equiv" and clean.lower() == "refresh":
                self.found.append(f"meta refresh at line {line}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style" and STYLE_SCRIPT.search(data):
            self.found.append(f"script in a style sheet at line {self.getpos()[0]}")


def script_in_markup(text: str) -> list[str]:
    """Where markup would run script when opened; an empty list when it would not."""
    p = _Active()
    p.feed(text)
    p.close()
    return p.found


def _markup(data: bytes, policy: EgressPolicy) -> Rebuilt:
    text, notes = _decoded(data)
    text, more = embedded(text, policy)
    notes += more
    found = script_in_markup(text)
    # Refused, but read in full and kept as text: reviewers see the script as source, and it is checked.
    refused = [refusal("script-bearing content is refused: " + "; ".join(found[:5]), "no-script")] if found else []
    return Rebuilt(text.encode(), notes, findings=refused)


# --- notebooks ------------------------------------------------------------------------------------

NOTEBOOK_MIME = {"text/plain", "text/html", "text/markdown", "text/latex", "application/json", "image/svg+xml"}
IMAGE_MIME = {"image/png": "PNG", "image/jpeg": "JPEG"}


def _source(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    raise Refused(f"{where} is not text")


def _output_data(data: Any, where: str, policy: EgressPolicy, notes: _Notes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mime, value in (data or {}).items() if isinstance(data, dict) else ():
        if mime in IMAGE_MIME:
            try:
                raw = base64.b64decode(_source(value, where), validate=False)
                clean, _ = image(raw, IMAGE_MIME[mime], policy)
            except (Refused, binascii.Error, ValueError):
                notes.add(f"unreadable {mime} output dropped")
                continue
            out[mime] = base64.b64encode(clean).decode()
            notes.add(f"{mime} output re-encoded from its pixels")
        elif mime == "application/json":
            out[mime] = value
        elif mime in NOTEBOOK_MIME:
            out[mime] = _source(value, f"{where} {mime}")
        else:
            notes.add(f"{mime} output dropped")
    return out


def _output(out: Any, where: str, policy: EgressPolicy, notes: _Notes) -> dict[str, Any] | None:
    kind = out.get("output_type") if isinstance(out, dict) else None
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": "stream", "name": name, "text": _source(out.get("text", ""), where)}
    if kind == "error":
        if out.get("traceback"):
            notes.add("error traceback frames dropped (the error name and message are kept and checked)")
        return {"output_type": "error", "ename": str(out.get("ename", "")), "evalue": str(out.get("evalue", "")),
                "traceback": []}
    if kind in ("execute_result", "display_data"):
        if out.get("metadata"):
            notes.add("output metadata dropped")
        if isinstance(out.get("data"), dict) and "transient" in out:
            notes.add("output transient data dropped")
        new: dict[str, Any] = {"output_type": kind, "data": _output_data(out.get("data"), where, policy, notes),
                               "metadata": {}}
        if kind == "execute_result":
            count = out.get("execution_count")
            new["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        return new
    notes.add(f"output of unknown type {str(kind)[:30]!r} dropped")
    return None


def _cell(cell: Any, i: int, policy: EgressPolicy, notes: _Notes) -> dict[str, Any]:
    kind = cell.get("cell_type") if isinstance(cell, dict) else None
    if kind not in ("code", "markdown", "raw"):
        raise Refused(f"cell {i} is not a code, Markdown or raw cell")
    if cell.get("metadata"):
        notes.add("cell metadata dropped")
    if cell.get("attachments"):
        notes.add("cell attachments dropped")
    new: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": _source(cell.get("source", ""),
                                                                              f"cell {i} source")}
    if kind == "code":
        count = cell.get("execution_count")
        new["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        outputs = cell.get("outputs") or []
        if not isinstance(outputs, list):
            raise Refused(f"cell {i} outputs are not a list")
        kept = (_output(o, f"cell {i} output {j}", policy, notes) for j, o in enumerate(outputs))
        new["outputs"] = [o for o in kept if o is not None]
    return new


def _notebook(data: bytes, policy: EgressPolicy) -> Rebuilt:
    text, _ = _decoded(data)
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise Refused(f"notebook JSON cannot be parsed: {exc}") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Refused("not a notebook: no list of cells")
    notes = _Notes()
    if nb.get("metadata"):
        notes.add("notebook metadata dropped (kernel, widgets state, authors)")
    cells = [_cell(c, i, policy, notes) for i, c in enumerate(nb["cells"])]
    clean = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    text, more = embedded(json.dumps(clean, ensure_ascii=False, indent=1), policy)
    left_out = dropped.notebook_texts(nb, NOTEBOOK_MIME | set(IMAGE_MIME))
    return Rebuilt(text.encode(), notes.lines() + more, findings=dropped.findings(left_out))


# --- Parquet --------------------------------------------------------------------------------------

def _dtype_ok(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.List | pl.Array):
        return _dtype_ok(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return all(_dtype_ok(f.dtype) for f in dtype.fields)
    return (dtype.is_numeric() or dtype.is_temporal()
            or isinstance(dtype, pl.String | pl.Boolean | pl.Categorical | pl.Enum | pl.Binary | pl.Null))


def _plain(dtype: pl.DataType) -> pl.DataType:
    """The same type with categoricals as text: their dictionaries may hold values no row has."""
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.List):
        return pl.List(_plain(dtype.inner))
    if isinstance(dtype, pl.Array):
        return pl.Array(_plain(dtype.inner), dtype.shape)
    if isinstance(dtype, pl.Struct):
        return pl.Struct([pl.Field(f.name, _plain(f.dtype)) for f in dtype.fields])
    return dtype


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, bytes):
        yield _bytes_text(value)
    elif value is not None:
        yield str(value)


def _bytes_text(value: bytes) -> str:
    text = decode_text(value) if value else ""
    if text is None:
        raise Refused("a binary value holds bytes that are not text: the checks cannot read it", "binary-column")
    return text


def checked_view(df: pl.DataFrame) -> pl.DataFrame:
    """The frame the checks read: nested values flattened into text, bytes decoded, decimals as numbers."""
    cols = []
    for name, s in df.to_dict().items():
        dtype = s.dtype
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            s = pl.Series(name, [None if v is None else " ".join(_leaves(v)) for v in s.to_list()], pl.String)
        elif isinstance(dtype, pl.Binary):
            s = pl.Series(name, [None if v is None else _bytes_text(v) for v in s.to_list()], pl.String)
        elif isinstance(dtype, pl.Duration | pl.Null):  # neither casts to text, which some checks need
            s = pl.Series(name, [None if v is None else str(v) for v in s.to_list()], pl.String)
        elif isinstance(dtype, pl.Decimal):
            as_int = s.cast(pl.Int64, strict=False)
            s = as_int if dtype.scale == 0 and as_int.null_count() == s.null_count() else s.cast(pl.String)
        cols.append(s)
    return pl.DataFrame(cols)


def _parquet(data: bytes, policy: EgressPolicy) -> Rebuilt:
    try:
        meta = pl.read_parquet_metadata(io.BytesIO(data))
        df = pl.read_parquet(io.BytesIO(data))
    except (Exception, pl.exceptions.PanicException) as exc:  # polars reports a broken file as a panic too
        raise Refused(f"Parquet cannot be read fully ({type(exc).__name__}: {str(exc)[:80]})") from exc
    bad = [f"{c} ({t})" for c, t in df.schema.items() if not _dtype_ok(t)]
    if bad:
        raise Refused("column types the checks do not read: " + ", ".join(bad[:5]), "parquet-types")
    notes = []
    extra = sorted(k for k in meta if k != "ARROW:schema")
    if extra:
        notes.append(f"key-value metadata dropped: {', '.join(extra[:10])}")
    plain = df.cast({c: _plain(t) for c, t in df.schema.items()})
    if any(isinstance(t, pl.Categorical | pl.Enum) for t in df.schema.values()):
        notes.append("categorical columns stored as text")
    view = checked_view(plain)
    out = io.BytesIO()
    plain.write_parquet(out)
    return Rebuilt(out.getvalue(), notes, tables=[("", view)], findings=dropped.findings(dropped.parquet_texts(meta)))


# --- spreadsheets ---------------------------------------------------------------------------------

MAX_CELLS = 5_000_000
Cell = str | int | float | bool | datetime | date | time | timedelta | None


def _empty(v: Cell) -> bool:
    return v is None or v == ""


def _compact(rows: list[tuple[Cell, ...]]) -> tuple[list[tuple[Cell, ...]], bool]:
    """The sheet without its empty rows and columns (a cell placed at XFD1048576 makes a million of them)."""
    kept = [r for r in rows if not all(map(_empty, r))]
    used = sorted({j for r in kept for j, v in enumerate(r) if not _empty(v)})
    width = max((len(r) for r in kept), default=0)
    if len(used) < width:
        kept = [tuple(r[j] if j < len(r) else None for j in used) for r in kept]
    return kept, len(kept) < len(rows) or len(used) < width


def _frame(rows: list[tuple[Cell, ...]]) -> pl.DataFrame:
    """A sheet as the table checks read it: the first non-empty row is the header."""
    rows = [r for r in rows if any(v is not None and v != "" for v in r)]
    if not rows:
        return pl.DataFrame()
    width = max(len(r) for r in rows)
    header, names = rows[0], []
    for j in range(width):
        base = str(header[j]) if j < len(header) and header[j] is not None else f"column_{j + 1}"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    cols = []
    for j, name in enumerate(names):
        values = [r[j] if j < len(r) else None for r in rows[1:]]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            cols.append(pl.Series(name, values, pl.Int64, strict=False))
        elif present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            cols.append(pl.Series(name, values, pl.Float64, strict=False))
        else:
            cols.append(pl.Series(name, [None if v is None else str(v) for v in values], pl.String))
    return pl.DataFrame(cols)


def _sheets(data: bytes, data_only: bool) -> tuple[Any, list[tuple[str, str, list[tuple[Cell, ...]]]]]:
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only, keep_links=False)
        sheets, cells = [], 0
        for ws in wb.worksheets:
            ws.reset_dimensions()  # a declared size smaller than the sheet would hide cells
            rows = []
            for row in ws.iter_rows(values_only=True):
                cells += len(row)
                if cells > MAX_CELLS:
                    raise Refused(f"more than {MAX_CELLS} cells: too large to read fully", "max_cells")
                rows.append(row)
            sheets.append((ws.title, ws.sheet_state, rows))
    except Refused:
        raise
    except Exception as exc:  # openpyxl reports broken workbooks with many exception types
        raise Refused(f"spreadsheet cannot be read fully ({type(exc).__name__}: {str(exc)[:80]})") from exc
    return wb, sheets


PROPERTIES = ("creator", "title", "subject", "description", "keywords", "lastModifiedBy", "category",
              "contentStatus", "identifier", "version")


def sheet_frames(data: bytes) -> list[tuple[str, pl.DataFrame]]:
    """Each sheet as the table checks read it (the reviewer view shows the same, so rows line up)."""
    return [(title, _frame(rows)) for title, _, rows in _sheets(data, data_only=True)[1]]


def _xlsx_dropped(wb: Any, data: bytes, formulas: int) -> list[str]:
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    notes = []
    if any(re.search(r"(?:threaded)?[Cc]omments\d*\.xml$", n) for n in names):
        notes.append("cell comments dropped")
    if list(wb.defined_names) or any(getattr(ws, "defined_names", None) for ws in wb.worksheets):
        notes.append("defined names dropped")
    if formulas:
        notes.append(f"{formulas} formula{'s' if formulas > 1 else ''} replaced by the cached value")
    props = wb.properties
    if any(getattr(props, k, None) for k in PROPERTIES) or "docProps/custom.xml" in names:
        notes.append("document properties dropped (author, title, comments, custom properties)")
    for part, what in (("xl/vbaProject", "macros"), ("xl/charts/", "charts"), ("xl/media/", "images"),
                       ("xl/pivotCache", "pivot caches"), ("xl/externalLinks/", "external links"),
                       ("xl/chartsheets/", "chart sheets"), ("customXml/", "custom XML parts")):
        if any(n.startswith(part) for n in names):
            notes.append(f"{what} dropped")
    return notes


FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def _formulas(data: bytes) -> int:
    """Formula cells in the sheets' XML (within the caps already checked): only their cached values are kept."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return sum(len(FORMULA_TAG.findall(z.read(n))) for n in z.namelist()
                   if n.startswith("xl/worksheets/") and n.endswith(".xml"))


def _literal(ws: Any, value: Cell) -> Any:
    """A cell written as the value it holds: a text starting with '=' stays text, never becomes a formula."""
    cell = openpyxl.cell.WriteOnlyCell(ws, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    return cell


def _xlsx(data: bytes, policy: EgressPolicy) -> Rebuilt:
    _zip_caps(data, policy)
    wb, values = _sheets(data, data_only=True)
    notes = _xlsx_dropped(wb, data, _formulas(data))
    out = openpyxl.Workbook(write_only=True)
    tables, segments = [], []
    for title, state, read in values:
        if state != "visible":
            notes.append(f"sheet '{title}' was {state}: kept as a normal sheet and checked")
        rows, compacted = _compact(read)
        if compacted:
            notes.append(f"empty rows and columns of sheet '{title}' dropped")
        ws = out.create_sheet(title=title)
        for row in rows:
            ws.append([_literal(ws, v) for v in row])
        tables.append((title, _frame(rows)))
        segments.append(Segment(title, {"sheet": title, "part": "sheet name"}))
    if not values:
        raise Refused("workbook has no worksheets")
    buf = io.BytesIO()
    out.save(buf)
    return Rebuilt(_same_every_time(buf.getvalue()), notes, tables=tables, segments=segments,
                   findings=dropped.findings(dropped.xlsx_texts(data)))


CORE_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)")


def _same_every_time(xlsx: bytes) -> bytes:
    """The workbook without the times openpyxl writes: the same file rebuilt twice has one content address."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]
    return pack_zip([(n, CORE_TIME.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", d) if n == "docProps/core.xml" else d)
                     for n, d in members])


# --- archives -------------------------------------------------------------------------------------

UNSAFE_NAME = re.compile(r"(?:^|/)\.\.(?:/|$)|^/|\\|^[A-Za-z]:|[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
EMPTY_DEFLATE = 2  # a directory entry compressed with deflate may hold these two bytes and no data
RATIO_FLOOR = 64 * 1024  # the ratio cap applies to members that unpack to this or more, and to the whole archive


def _zip_caps(data: bytes, policy: EgressPolicy) -> list[zipfile.ZipInfo]:
    """The caps from policy, on the archive's own declarations, before anything is unpacked."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception as exc:  # zipfile reports broken archives with several exception types
        raise Refused(f"archive cannot be read ({type(exc).__name__}: {str(exc)[:80]})") from exc
    if len(infos) > policy.max_zip_members:
        raise Refused(f"{len(infos)} members: over the limit of {policy.max_zip_members}", "max_zip_members")
    total = sum(i.file_size for i in infos)
    if total > policy.max_zip_total_bytes:
        raise Refused(f"unpacks to {total} bytes: over the limit of {policy.max_zip_total_bytes}",
                      "max_zip_total_bytes")
    for i in infos:
        if i.file_size >= RATIO_FLOOR and i.file_size > policy.max_zip_ratio * max(i.compress_size, 1):
            raise Refused(f"member {i.filename!r} unpacks {i.file_size // max(i.compress_size, 1)} times its size: "
                          f"over the ratio of {policy.max_zip_ratio} (a zip bomb?)", "max_zip_ratio")
    if total >= RATIO_FLOOR and total > policy.max_zip_ratio * max(len(data), 1):
        raise Refused(f"archive unpacks {total // max(len(data), 1)} times its size: over the ratio of "
                      f"{policy.max_zip_ratio} (a zip bomb?)", "max_zip_ratio")
    return infos


def zip_entries(data: bytes, policy: EgressPolicy) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Members to check one by one (name, bytes), and notes on what the rebuilt archive leaves out."""
    infos = _zip_caps(data, policy)
    z = zipfile.ZipFile(io.BytesIO(data))
    notes = ["archive comment dropped"] if z.comment else []
    entries: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for i in infos:
        if UNSAFE_NAME.search(i.filename):
            raise Refused(f"member name {i.filename!r} is absolute, climbs out or holds control characters",
                          "member-name")
        if i.filename in seen:
            raise Refused(f"member {i.filename!r} appears twice: one would hide the other", "member-name")
        seen.add(i.filename)
        if i.flag_bits & 0x1:
            raise Refused(f"member {i.filename!r} is encrypted: the checks cannot read it", "encrypted")
        if i.comment or i.extra:
            notes.append(f"comment and extra fields of {i.filename!r} dropped")
        if i.is_dir():
            if i.file_size or i.compress_size > EMPTY_DEFLATE:
                raise Refused(f"directory entry {i.filename!r} carries data", "directory-data")
            continue
        try:
            entries.append((i.filename, z.read(i)))
        except Exception as exc:  # bad CRC, unknown compression, truncated data
            raise Refused(f"member {i.filename!r} cannot be read ({type(exc).__name__}: {str(exc)[:80]})") from exc
    return entries, notes


def pack_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A new archive of rebuilt members: no comments, no extra fields, one fixed timestamp."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


BUILDERS = {"png": _png, "jpg": _jpg, "csv": _text, "tsv": _text, "txt": _text, "md": _text, "json": _json,
            "html": _markup, "svg": _markup, "ipynb": _notebook, "parquet": _parquet, "xlsx": _xlsx}
