"""File type by content, never by name; a name that claims another type is itself a finding."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from functools import lru_cache

EXPECTED = {".csv": {"csv", "txt"}, ".tsv": {"tsv", "txt"}, ".txt": {"txt", "csv", "tsv"}, ".log": {"txt"},
            ".md": {"md", "txt"}, ".json": {"json"}, ".html": {"html"}, ".htm": {"html"}, ".ipynb": {"ipynb"},
            ".png": {"png"}, ".jpg": {"jpg"}, ".jpeg": {"jpg"}, ".pdf": {"pdf"}, ".parquet": {"parquet"},
            ".xlsx": {"xlsx"}, ".zip": {"zip"}, ".pkl": {"pickle"}, ".pickle": {"pickle"}, ".joblib": {"pickle"},
            ".svg": {"svg"}}


BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _plausible(text: str, enc: str) -> float:
    """Share of the non-ASCII characters that are common Chinese characters or punctuation of `enc`.

    Big5 bytes usually decode as GB18030 too, into kana, Greek and rare characters: this tells which
    reading is the real one, so the checks read the names, not mojibake.
    """
    chars = [c for c in text[:65536] if ord(c) > 127]
    if not chars:
        return 1.0

    def common(c: str) -> bool:
        o = ord(c)
        if not (0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF):
            return False
        try:
            c.encode(enc)
        except UnicodeEncodeError:
            return False
        return True

    return sum(map(common, chars)) / len(chars)


def decode_text(data: bytes) -> str | None:
    """Text in UTF-8, UTF-16/32 with a byte-order mark, GB18030 or Big5; anything else is not text (None).

    Detection, the rebuild and the readers each ask for the text of the same file (and of its rebuilt
    form): the last two readings are kept, so a file is decoded once (a str is immutable).
    """
    return _decoded(data)[0]


def plain_utf8(data: bytes) -> bool:
    """Whether `decode_text` read `data` as UTF-8 with no byte-order mark: then its text encodes back into
    exactly these bytes (a strict UTF-8 decoding round-trips), and readers can take the bytes as they are
    instead of encoding the text again."""
    return _decoded(data)[1] == "utf-8"


@lru_cache(maxsize=2)
def _decoded(data: bytes) -> tuple[str | None, str | None]:
    """`decode_text`'s text and the encoding it was read in."""
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                return None, None
            return (text.lstrip("\ufeff"), enc) if "\x00" not in text else (None, None)
    if b"\x00" in data:
        return _utf16_without_bom(data)
    readings: list[tuple[float, str, str]] = []
    for enc, common in (("utf-8", ""), ("gb18030", "gb2312"), ("big5", "big5")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            return None, None
        if not common:
            return text, enc
        readings.append((_plausible(text, common), text, enc))
    if not readings:
        return None, None
    best = max(readings, key=lambda r: r[0])  # max keeps the first (GB18030) on a tie
    return best[1], best[2]


def _utf16_without_bom(data: bytes) -> tuple[str | None, str | None]:
    """UTF-16 text saved without its byte-order mark (Windows tools do): every zero byte on one side of the
    byte pairs (the high byte of ASCII letters, digits, commas and line ends), and the text it decodes to
    printable. Anything else with zero bytes in it is binary, as before."""
    if len(data) % 2 or len(data) < 4:
        return None, None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if min(even, odd) or max(even, odd) < len(data) // 20:
        return None, None
    enc = "utf-16-le" if odd else "utf-16-be"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError:
        return None, None
    if "\x00" in text or sum(c.isprintable() or c in "\t\r\n" for c in text) < 0.98 * len(text):
        return None, None
    return text, enc


def _delimited(text: str, sep: str) -> bool:
    """Same number of fields (at least two) on the first lines, quoted separators understood."""
    head = text[:65536]
    if len(head) < len(text):
        head = head[:head.rfind("\n")]  # drop a cut-off last line
    try:
        rows = [r for r in csv.reader(io.StringIO(head), delimiter=sep) if any(c.strip() for c in r)][:50]
    except csv.Error:  # e.g. a lone carriage return inside a field: not a table the readers agree on
        return False
    if len(rows) < 2:
        return False
    counts = {len(r) for r in rows}
    return len(counts) == 1 and counts.pop() >= 2


HEAD = 2000  # characters of the text the markup tests read (`<body` within them)


def detect(data: bytes, name: str = "") -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PAR1") and data.endswith(b"PAR1"):
        return "parquet"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "binary"
        return "xlsx" if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names) else "zip"
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if data.startswith(b"\x7fELF") or data.startswith(b"MZ"):
        return "binary"
    text = decode_text(data)
    if text is None:
        return "binary"
    # only the first characters are looked at; lower() may lengthen a text, so its first HEAD characters
    # are those of the whole text lowered
    stripped = text.lstrip()[:HEAD].lower()[:HEAD]
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            obj = json.loads(text)
        except RecursionError:  # JSON nested too deeply to read: the rebuild refuses it, saying so
            return "ipynb" if name.lower().endswith(".ipynb") else "json"
        except ValueError:
            pass
        else:
            return "ipynb" if isinstance(obj, dict) and "cells" in obj and "nbformat" in obj else "json"
    if stripped.startswith("<svg") or (stripped.startswith("<?xml") and "<svg" in stripped[:500]):
        return "svg"
    if stripped.startswith(("<!doctype html", "<html")) or "<body" in stripped:
        return "html"
    if _delimited(text, "\t"):
        return "tsv"
    if _delimited(text, ","):
        return "csv"
    return "md" if name.lower().endswith(".md") else "txt"


# A name without an extension (README, LICENSE) is taken as plain text; anything else must say what it is.
NO_EXTENSION = ".txt"


def extension(name: str) -> str:
    """The extension of the last component (a zip member's after `!`), lower-case, with its dot; or ''."""
    base = name.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def name_matches(name: str, detected: str) -> bool:
    """Whether the name claims the type the content has. An extension the enclave does not know matches
    nothing (a reviewer's tools would guess from it), and no extension matches plain text only."""
    return detected in EXPECTED.get(extension(name) or NO_EXTENSION, set())


def name_mismatch(name: str, detected: str) -> str | None:
    """Why the name does not match the content, in words for the finding; None when it matches."""
    if name_matches(name, detected):
        return None
    ext = extension(name)
    if not ext:
        return f"content is {detected} but the name has no extension (only plain text may have none)"
    if ext not in EXPECTED:
        return f"content is {detected} but the name ends in '{ext}', which is not a known type"
    return f"content is {detected} but the name says otherwise ('{ext}')"
