"""Undo the disguises identifiers wear in outputs before matching them.

Every rewrite keeps, for each character it produces, the position in the original text it came
from, so findings point at what the reviewer sees. Rewrites: invisible characters dropped;
full-width forms, other scripts' decimal digits (Arabic-Indic, Devanagari, ...) and Cyrillic/Greek
look-alike letters to ASCII; HTML character references and `\\u0031` / `\\x31` escapes decoded;
digits split by spaces or hyphens joined; digits spelled as words or characters written as digits.
Encoded blobs (base64, base32, hex, optionally zlib/gzip/bz2/xz-compressed) are decoded by `decode_blob`.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import gzip
import lzma
import re
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache

import zhconv


@dataclass(frozen=True)
class Folded:
    """A rewritten text and, per character, the index in the original text it stands for."""

    text: str
    pos: tuple[int, ...]
    length: int  # length of the original text

    def span(self, start: int, end: int) -> tuple[int, int]:
        if not self.pos:
            return start, end
        return self.pos[start], (self.pos[end - 1] + 1 if end > start else self.pos[start])


# Cyrillic and Greek capitals/smalls that look like Latin ones (Unicode confusables, the letters used in IDs).
HOMOGLYPHS = str.maketrans({
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X",
    "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y",
    "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H",
    "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v",
    "α": "a", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
})
# Invisible characters beyond the Cf (format) category: joiners and variation selectors are Mn.
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u3164\uffa0") | frozenset(chr(c) for c in range(0xFE00, 0xFE10))
_ESCAPES = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,6})|(\d{1,7}));?|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})"
                      r"|\\U([0-9A-Fa-f]{8})|%([0-9A-Fa-f]{2})")


def _fold_char(c: str) -> str:
    """'' for an invisible character, else one ASCII-ish character (never more: positions must stay)."""
    if c.isascii():
        return c
    if unicodedata.category(c) == "Cf" or c in _INVISIBLE_EXTRA:
        return ""
    digit = unicodedata.decimal(c, None)
    if digit is not None:
        return str(digit)
    n = unicodedata.normalize("NFKC", c)
    n = n if len(n) == 1 else c
    return n.translate(HOMOGLYPHS)


@lru_cache(maxsize=1 << 16)
def _simplified_char(c: str) -> str:
    s = zhconv.convert(c, "zh-cn")
    return s if len(s) == 1 else c


def simplified(text: str) -> str:
    """Traditional Chinese characters written in their simplified form, one for one (positions stay): the
    surname, name and place lexicons are simplified, and 陳大文 is 陈大文 to them (zhconv's tables)."""
    if text.isascii():
        return text
    return "".join(map(_simplified_char, text))


def _unescape(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    pos: list[int] = []
    last = 0
    for m in _ESCAPES.finditer(text):
        out.append(text[last:m.start()])
        pos.extend(range(last, m.start()))
        hexa = m.group(1) or m.group(3) or m.group(4) or m.group(5) or m.group(6)
        code = int(hexa, 16) if hexa else int(m.group(2))
        try:
            ch = chr(code) if code < 0x110000 else ""
        except ValueError:
            ch = ""
        out.append(ch)
        pos.extend([m.start()] * len(ch))
        last = m.end()
    out.append(text[last:])
    pos.extend(range(last, len(text)))
    return "".join(out), pos


@lru_cache(maxsize=4096)
def fold(text: str) -> Folded:
    """The text a recogniser should read, with positions back into `text`."""
    if text.isascii() and "&#" not in text and "\\" not in text and "%" not in text:
        return Folded(text, (), len(text))
    src, src_pos = _unescape(text) if _ESCAPES.search(text) else (text, list(range(len(text))))
    chars: list[str] = []
    pos: list[int] = []
    for i, c in enumerate(src):
        f = _fold_char(c)
        if f:
            chars.append(f)
            pos.append(src_pos[i])
    return Folded("".join(chars), tuple(pos), len(text))


def _positions(f: Folded) -> list[int]:
    return list(f.pos) if f.pos else list(range(len(f.text)))


_SPLIT_DIGITS = re.compile(r"(?<=\d)[ \u00a0\-‐‑–—](?=\d)")


def halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation (and other look-alikes) in ASCII, invisible ones dropped."""
    return fold(text).text


def join_split_digits(f: Folded) -> Folded | None:
    """`6222 0212 3456 7890` and `138-1234-5678` become one run of digits again.

    Only for recognisers of long digit identifiers: it would also glue dates and SSNs together.
    """
    cut = {m.start() for m in _SPLIT_DIGITS.finditer(f.text)}
    if not cut:
        return None
    base = _positions(f)
    kept = [i for i in range(len(f.text)) if i not in cut]
    return Folded("".join(f.text[i] for i in kept), tuple(base[i] for i in kept), f.length)


ZH_DIGITS = {**dict.fromkeys("零〇洞", "0"), **dict.fromkeys("一壹幺", "1"), **dict.fromkeys("二贰两", "2"),
             **dict.fromkeys("三叁", "3"), **dict.fromkeys("四肆", "4"), **dict.fromkeys("五伍", "5"),
             **dict.fromkeys("六陆", "6"), **dict.fromkeys("七柒拐", "7"), **dict.fromkeys("八捌", "8"),
             **dict.fromkeys("九玖勾", "9")}
EN_DIGITS = {"zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
             "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_ZH_DIGIT = "[零〇洞一壹幺二贰两三叁四肆五伍六陆七柒拐八捌九玖勾0-9]"
_SPELLED = re.compile(rf"(?:{_ZH_DIGIT}[\s,，、-]*){{6,}}{_ZH_DIGIT}"
                      r"|(?i:(?:\b(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|\d)\b[\s,-]*){6,})")
_ASCII_LETTER = re.compile("[A-Za-z]")
_EN_WORD = re.compile(r"(?i)zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|\d")


def spelled_digits(f: Folded) -> Folded | None:
    """`一三八一二三四五六七八`, `壹叁捌…` and "one three eight ..." written as the digits they spell.

    Only runs of seven or more digit words count, so "一二年级" or "one or two" stay as they are; a run of
    ASCII digits alone is no spelling.
    """
    # ASCII digits and spaces only ('142   162    89   867' across a printed table's columns, an identifier):
    # nothing is spelled; digits split by one separator are `join_split_digits`' to join
    if f.text.isascii() and not _ASCII_LETTER.search(f.text):  # what the test below keeps needs one of them
        return None
    runs = [m for m in _SPELLED.finditer(f.text) if not m.group().isascii() or any(c.isalpha() for c in m.group())]
    if not runs:
        return None
    base = _positions(f)
    out: list[str] = []
    pos: list[int] = []
    last = 0
    for m in runs:
        run = m.group()
        out.append(f.text[last:m.start()])
        pos.extend(base[last:m.start()])
        if run[0].isascii() and run[0].isalpha():
            for w in _EN_WORD.finditer(run):
                out.append(EN_DIGITS.get(w.group().lower(), w.group()))
                pos.append(base[m.start() + w.start()])
        else:
            for i, c in enumerate(run):
                d = ZH_DIGITS.get(c, c if c.isdigit() else "")
                if d:
                    out.append(d)
                    pos.append(base[m.start() + i])
        out.append(" ")
        pos.append(base[m.end() - 1])
        last = m.end()
    out.append(f.text[last:])
    pos.extend(base[last:])
    return Folded("".join(out), tuple(pos), f.length)


SCIENTIFIC = re.compile(r"(?<![\w.])([1-9]\.\d{5,16})[eE]\+?(1[0-9])(?![\w.])")


def expand_scientific(text: str) -> str | None:
    """`1.10105194912310e+17` (a resident ID saved as a float) written out as its digits, else None.

    The float kept at most 15-17 significant digits, so the tail (and the check digit) may be lost:
    callers match such numbers by their leading structure, not by their check digit.
    """
    m = SCIENTIFIC.search(text)
    if not m:
        return None
    return SCIENTIFIC.sub(lambda x: _digits_of(x.group(1), int(x.group(2))), text)


def _digits_of(mantissa: str, exponent: int) -> str:
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac)[: exponent + 1]
    return digits.ljust(exponent + 1, "0")


B64 = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
B32 = re.compile(r"[A-Z2-7]{16,}={0,6}")
HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9a-fA-F]{2}){10,}(?![0-9A-Fa-f])")
MAX_DECODED = 1 << 20


def _decompress(raw: bytes) -> bytes:
    """Compressed data (zlib, gzip, bz2, xz) inflated, at most 1 MiB; anything else as it is."""
    try:
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)[:MAX_DECODED]
        if raw[:3] == b"BZh":
            return bz2.decompress(raw)[:MAX_DECODED]
        if raw[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(raw)[:MAX_DECODED]
        if len(raw) > 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0:
            return zlib.decompressobj().decompress(raw, MAX_DECODED)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
        return raw
    return raw


def _readable(raw: bytes) -> str | None:
    for enc in ("utf-8", "utf-16"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if text and sum(c.isprintable() or c in "\n\r\t" for c in text) >= 0.9 * len(text):
            return text
    return None


def decode_blob(token: str) -> tuple[str, str] | None:
    """(how it was encoded, the text) for a base64 / base32 / hex token that decodes to readable text."""
    attempts = []
    if HEX.fullmatch(token):
        attempts.append(("hex", lambda: bytes.fromhex(token)))
    if B32.fullmatch(token):
        attempts.append(("base32", lambda: base64.b32decode(token + "=" * (-len(token) % 8))))
    if B64.fullmatch(token):
        attempts.append(("base64", lambda: base64.b64decode(token.replace("-", "+").replace("_", "/")
                                                            + "=" * (-len(token) % 4))))
    for kind, decode in attempts:
        try:
            raw = decode()
        except (binascii.Error, ValueError):
            continue
        inflated = _decompress(raw)
        text = _readable(inflated)
        if text is not None:
            return (kind if inflated is raw else f"{kind}+compressed"), text
    return None


# Shorter blobs than B64/B32 take: an 11-digit number is 16 base64 characters. Only tokens with a digit and
# an upper-case letter (base64 of digits always has both) or padding are tried, so words are not.
B64_SHORT = re.compile(r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*[0-9])(?=[A-Za-z0-9+/_-]*[A-Z])"
                       r"[A-Za-z0-9+/_-]{12,19}={0,2}"
                       r"(?![A-Za-z0-9+/_=-])")
B32_LOWER = re.compile(r"(?<![a-z2-7])(?:(?=[a-z2-7]*[2-7])[a-z2-7]{16,}={0,6}|[a-z2-7]{16,}=+|[a-z]{24,})"
                       r"(?![a-z2-7=])")
# base85 (Python's b85 and git's alphabet) and Adobe's Ascii85 between <~ ~>: tokens with a character
# base64 does not use, so that plain words and base64 are not tried again.
B85 = re.compile(r"(?<![0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-])(?=[0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]*[!#$%&()*;<>?@^`{|}~])"
                 r"[0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]{14,}")
A85 = re.compile(r"<~([!-u\s]{10,}?)~>")
# Byte codes with separators: "31 31 30 31", "31:31:30", "0x31, 0x31", "\061\061", CSS "\31 \31 " or "\000031",
# and decimal character codes "49, 49, 48" (String.fromCharCode, chr lists).
HEX_SPACED = re.compile(r"(?<![0-9A-Za-z])(?:(?:0[xX])?[0-9A-Fa-f]{2}(?:[ :,;\t-]|, )){7,}(?:0[xX])?[0-9A-Fa-f]{2}"
                        r"(?![0-9A-Za-z])")
OCTAL_ESCAPES = re.compile(r"(?:\\[0-3][0-7]{2}){6,}")
CSS_ESCAPES = re.compile(r"(?:\\[0-9A-Fa-f]{1,6} ?){6,}")
_CODE = r"(?:3[2-9]|[4-9]\d|1[01]\d|12[0-6])"  # a printable ASCII character's decimal code
CHAR_CODES = re.compile(rf"(?<![\d.])(?:{_CODE}\s*[,;\s]\s*){{6,}}{_CODE}(?![\d.])")
_BYTE_HEX = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{2})")
_CSS_ONE = re.compile(r"\\([0-9A-Fa-f]{1,6}) ?")


def _codes_text(codes: list[int]) -> str | None:
    """Character codes as text, when they make printable text (never a control character)."""
    if not codes or any(c < 0x20 or c > 0x10FFFF or 0xD800 <= c < 0xE000 for c in codes):
        return None
    text = "".join(map(chr, codes))
    return text if all(c.isprintable() for c in text) else None


def _byte_codes(text: str) -> list[tuple[str, str]]:
    """Text written as its character codes, with separators or escapes (not what `fold` reads: `&#49;`, `\x31`)."""
    out: list[tuple[str, str]] = []
    for m in HEX_SPACED.finditer(text):
        decoded = _readable(bytes(int(b, 16) for b in _BYTE_HEX.findall(m.group())))
        if decoded:
            out.append(("hex-bytes", decoded))
    if "\\" in text:
        for m in OCTAL_ESCAPES.finditer(text):
            decoded = _readable(bytes(int(o, 8) for o in m.group().split("\\")[1:]))
            if decoded:
                out.append(("octal-escapes", decoded))
        for m in CSS_ESCAPES.finditer(text):
            decoded = _codes_text([int(h, 16) for h in _CSS_ONE.findall(m.group())])
            if decoded:
                out.append(("css-escapes", decoded))
    for m in CHAR_CODES.finditer(text):
        decoded = _codes_text([int(d) for d in re.findall(r"\d+", m.group())])
        if decoded:
            out.append(("character-codes", decoded))
    return out


def _decode_short(token: str, kind: str) -> str | None:
    try:
        if kind == "base64":
            raw = base64.b64decode(token.replace("-", "+").replace("_", "/") + "=" * (-len(token) % 4))
        elif kind == "base32":
            raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        elif kind == "base85":
            raw = base64.b85decode(token)
        else:
            raw = base64.a85decode(token.encode(), adobe=False, ignorechars=b" \t\n\r\x0b")
    except (binascii.Error, ValueError):
        return None
    return _readable(_decompress(raw))


_B85_ONLY = re.compile(r"[!#$%&()*;<>?@^`{|}~]")
# printable ASCII is bytes 0x20-0x7e (first hex digit 2-7) and codes 32-126: cheap to rule out, no look-arounds
_SPACED_GATE = re.compile(r"(?:(?:0[xX])?[2-7][0-9A-Fa-f][ :,;\t-] ?){7}|(?:\d{2,3}[,; ] ?){6}")


def _short_blobs(text: str) -> list[tuple[str, str]]:
    """Short blobs lie inside one whitespace-free token of 12 characters or more: only those are searched."""
    out: list[tuple[str, str]] = []
    long_tokens = [t for t in text.split() if len(t) >= 12]
    if not long_tokens and "<~" not in text:
        return out
    joined = " ".join(long_tokens)
    for kind, rx, where in (("base64", B64_SHORT, joined), ("base32", B32_LOWER, joined),
                            ("base85", B85, joined if _B85_ONLY.search(joined) else ""), ("ascii85", A85, text)):
        if kind == "ascii85" and "<~" not in text:
            continue
        for m in rx.finditer(where):
            decoded = _decode_short(m.group(m.lastindex or 0), kind)
            if decoded and sum(c.isalnum() for c in decoded) >= 0.6 * len(decoded):
                out.append((kind, decoded))
    return out


def decoded_texts(text: str) -> list[tuple[str, str]]:
    """Every encoded blob inside `text`, decoded: (encoding, text) pairs. Long blobs (base64, base32, hex,
    maybe compressed), short ones (base64 of a phone number is 16 characters, base85, Ascii85, lower-case
    base32) and character codes written out (spaced hex, octal and CSS escapes, decimal codes)."""
    out = []
    seen = set()
    for rx in (HEX, B32, B64):
        for m in rx.finditer(text):
            if m.group() in seen:
                continue
            seen.add(m.group())
            decoded = decode_blob(m.group())
            if decoded:
                out.append(decoded)
    if len(text) >= 12:
        out += _short_blobs(text)
        if "\\" in text or _SPACED_GATE.search(text):
            out += _byte_codes(text)
    return out
