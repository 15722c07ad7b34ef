"""The user's language, zh-CN or en, for every page the enclave serves."""

from __future__ import annotations


def pick_language(accept_language: str) -> str:
    """The first of zh-* or en-* in an Accept-Language header wins; anything else falls back to English."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"
