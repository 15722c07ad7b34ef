"""Personal data in what a rebuild drops: it does not leave, but someone put it where files hide text.

The rebuild leaves out spreadsheet comments, defined names, document properties, headers and footers,
number formats, formulas (kept as their cached values), data-validation lists and prompts and
hyperlinks; Parquet key-value metadata; archive and member comments; an image's text chunks, comment
and APP segments and the bytes after its end; notebook and cell metadata, cell attachments, output
metadata and transient data, error traceback frames and outputs of kinds the rebuilt notebook does not
keep. Dropping them keeps the data in, but the requester is told only "dropped", and a reviewer should
know that the original carried personal data there (evidence of an attempt). So the dropped text is read
by the same personal-data check as any segment, and what it finds is one REVIEW finding per kind and
place; the drop stays.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from html import unescape
from typing import Any

from egress_review.checks import pii_in_segments
from egress_review.extract import Segment, image_trailer, jpeg_text, png_text
from egress_review.findings import Finding, Verdict

CHECK = "personal-data"
RULE = "dropped-metadata"

# Spreadsheet parts dropped whole: every text and attribute value in them is dropped text.
WHOLE_PARTS = re.compile(r"^(?:xl/comments[^/]*\.xml|xl/comments/.*\.xml|xl/threadedComments/.*\.xml"
                         r"|xl/persons/.*\.xml|xl/drawings/.*|xl/charts/.*\.xml|customXml/.*\.xml"
                         r"|docProps/(?:core|app|custom)\.xml|xl/worksheets/_rels/.*\.rels)$")
# Pieces of kept parts that are dropped: (part, element whose text and attributes are dropped)
PIECES = ((re.compile(r"^xl/workbook\.xml$"), "definedName"),
          (re.compile(r"^xl/styles\.xml$"), "numFmt"),
          (re.compile(r"^xl/worksheets/[^/]*\.xml$"), "headerFooter"),
          (re.compile(r"^xl/worksheets/[^/]*\.xml$"), "dataValidations"),
          (re.compile(r"^xl/worksheets/[^/]*\.xml$"), "hyperlinks"),
          (re.compile(r"^xl/worksheets/[^/]*\.xml$"), "f"))
# A formula's string literals ("1381234"&"5678"): joined, they are the text the formula would show.
STRING_LITERAL = re.compile(r'"((?:[^"]|"")*)"')
TAG = re.compile(r"<[^>]*>")
ATTRIBUTE = re.compile(r"""\s[\w:.-]+\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _xml_texts(xml: str) -> list[str]:
    """The attribute values and the text between tags of an XML fragment, entities decoded (regular
    expressions only: nothing is expanded, a hostile part cannot make the reader do more work)."""
    values = [unescape(a or b) for tag in TAG.findall(xml) for a, b in ATTRIBUTE.findall(tag)]
    text = unescape(TAG.sub("\n", xml))
    return [v for v in values + text.splitlines() if v.strip()]


def _piece(xml: str, element: str) -> str:
    pattern = rf"<(?:\w+:)?{element}\b[^>]*/>|<(?:\w+:)?{element}\b.*?</(?:\w+:)?{element}>"
    return "\n".join(re.findall(pattern, xml, re.DOTALL))


def xlsx_texts(data: bytes) -> list[Segment]:
    """What the rebuilt workbook leaves out, as text: comments, properties, defined names, number formats,
    headers and footers, data validation and hyperlinks (the caller has checked the archive's caps)."""
    out: list[Segment] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            pieces = [e for rx, e in PIECES if rx.match(name)]
            if not WHOLE_PARTS.match(name) and not pieces:
                continue
            xml = z.read(name).decode("utf-8", errors="replace")
            parts = [xml] if WHOLE_PARTS.match(name) else [_piece(xml, e) for e in pieces]
            out += [Segment(t, {"part": name}) for p in parts for t in _xml_texts(p)]
            if "f" in pieces:
                out += _formula_literals(xml, name)
    return out


def _formula_literals(xml: str, part: str) -> list[Segment]:
    """Each formula's string literals joined: the cached value kept in the rebuild may be a placeholder,
    while the formula builds an identifier out of pieces no single one of which shows it."""
    out = []
    for formula in _xml_texts(_piece(xml, "f")):
        literals = [m.replace('""', '"') for m in STRING_LITERAL.findall(formula)]
        if len(literals) > 1:
            out.append(Segment("".join(literals), {"part": f"{part} (formula text joined)"}))
    return out


def parquet_texts(metadata: dict[str, str]) -> list[Segment]:
    """Parquet key-value metadata (keys and values) other than the Arrow schema the reader needs."""
    return [Segment(t, {"part": "key-value metadata"}) for k, v in metadata.items() if k != "ARROW:schema"
            for t in (k, v)]


def archive_texts(data: bytes) -> list[Segment]:
    """An archive's comment and its members' comments and extra fields, which the rebuilt archive leaves out."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        out = [Segment(z.comment.decode("utf-8", errors="replace"), {"part": "archive comment"})] if z.comment else []
        for i in z.infolist():
            for what, raw in (("member comment", i.comment), ("member extra field", i.extra)):
                if raw:
                    out.append(Segment(raw.decode("utf-8", errors="replace"), {"part": what}))
    return out


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _strings(value: Any) -> Iterator[str]:
    """Every key and string value of a JSON value, depth first (JSON is a tree: no cycles)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)  # numbers: an identifier stored as one


def _attachment_texts(attachments: Any) -> Iterator[str]:
    """Attachment names, and the content of text attachments (images are pixels, not text)."""
    for name, bundle in attachments.items() if isinstance(attachments, dict) else ():
        yield str(name)
        for mime, value in bundle.items() if isinstance(bundle, dict) else ():
            if str(mime).startswith("text/") and isinstance(value, str):
                try:
                    yield base64.b64decode(value, validate=False).decode("utf-8", errors="replace")
                except (binascii.Error, ValueError):
                    yield value


def _output_texts(out: dict[str, Any], kept_mimes: set[str]) -> Iterator[tuple[str, str]]:
    yield from (("output metadata", t) for t in _strings(out.get("metadata")))
    yield from (("output transient data", t) for t in _strings(out.get("transient")))
    yield from (("error traceback", ANSI.sub("", t)) for t in _strings(out.get("traceback")))
    data = out.get("data")
    for mime, value in data.items() if isinstance(data, dict) else ():
        if mime not in kept_mimes and not str(mime).startswith("image/"):
            yield from ((f"{mime} output", t) for t in _strings(value))


def notebook_texts(nb: dict[str, Any], kept_mimes: set[str]) -> list[Segment]:
    """What the rebuilt notebook leaves out, as text, with where it was ('cell 3 metadata'). `kept_mimes`:
    the output kinds the rebuild keeps (and checks); images are re-encoded, never read as text."""
    out = [Segment(t, {"part": "notebook metadata"}) for t in _strings(nb.get("metadata"))]
    for i, cell in enumerate(nb.get("cells") or []):
        if not isinstance(cell, dict):
            continue
        out += [Segment(t, {"part": f"cell {i} metadata"}) for t in _strings(cell.get("metadata"))]
        out += [Segment(t, {"part": f"cell {i} attachments"}) for t in _attachment_texts(cell.get("attachments"))]
        for o in cell.get("outputs") or [] if isinstance(cell.get("outputs"), list) else []:
            if isinstance(o, dict):
                out += [Segment(t, {"part": f"cell {i} {what}"}) for what, t in _output_texts(o, kept_mimes)]
    return [s for s in out if s.text.strip()]


def image_texts(data: bytes, ftype: str) -> list[Segment]:
    """What re-encoding an image from its pixels leaves out, as text: PNG text and EXIF chunks, JPEG comment
    and APP segments, and the bytes after the end marker."""
    meta = png_text(data) if ftype == "png" else jpeg_text(data)
    out = [Segment(s.text, {"part": f"image {s.location.get('chunk') or s.location.get('segment')}"}) for s in meta]
    return out + list(image_trailer(data, ftype))


def findings(segments: Iterable[Segment]) -> list[Finding]:
    """One REVIEW finding per kind and place of personal data in dropped text."""
    out: list[Finding] = []
    seen: set[tuple[str | None, str]] = set()
    for f in pii_in_segments(segments):
        part = str(f.location.get("part", ""))
        if (f.entity, part) in seen:
            continue
        seen.add((f.entity, part))
        out.append(Finding(CHECK, Verdict.REVIEW, f"personal data in dropped metadata: {f.entity} in {part} "
                           "(left out of the rebuilt file; the original carried it there)",
                           entity=f.entity, rule=RULE, location={"part": part}))
    return out
