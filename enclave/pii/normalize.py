"""Undo the disguises identifiers wear in outputs before matching them."""

from __future__ import annotations

import re
import unicodedata

_SPLIT_DIGITS = re.compile(r"(?<=\d)[ \u00a0\-‐‑–—](?=\d)")


def halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation to their ASCII forms (NFKC), one character for one.

    Characters NFKC would expand (ligatures, `㎏`) stay as they are, so positions still point into
    the original text.
    """
    if text.isascii():
        return text
    out = []
    for c in text:
        n = unicodedata.normalize("NFKC", c)
        out.append(n if len(n) == 1 else c)
    return "".join(out)


def join_split_digits(text: str) -> tuple[str, list[int]]:
    """`6222 0212 3456 7890` and `138-1234-5678` become one run of digits again.

    Returns the joined text and, for each of its characters, its position in `text`. Only for
    recognisers of long digit identifiers: it would also glue dates and SSNs together.
    """
    cut = {m.start() for m in _SPLIT_DIGITS.finditer(text)}
    if not cut:
        return text, []
    kept = [i for i in range(len(text)) if i not in cut]
    return "".join(text[i] for i in kept), kept
