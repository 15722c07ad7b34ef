"""Undo the disguises identifiers wear in outputs before matching them."""

from __future__ import annotations

import re
import unicodedata

_SPLIT_DIGITS = re.compile(r"(?<=\d)[ \u00a0\-‐‑–—](?=\d)")


def halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation to their ASCII forms (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def join_split_digits(text: str) -> str:
    """`6222 0212 3456 7890` and `138-1234-5678` become one run of digits again.

    Only for recognisers of long digit identifiers: it would also glue dates and SSNs together.
    """
    return _SPLIT_DIGITS.sub("", text)
