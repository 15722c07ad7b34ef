"""Free text, fully offline: our recognisers, plus what presidio's phone, e-mail and SSN recognisers add.

Presidio's pipeline (a spaCy tokeniser over every text, then context scoring) cost most of the scan
time and, with blank spaCy pipelines (no NER model can be installed offline), contributed nothing
but the results of three recognisers: PhoneRecognizer (CN, US and GB regions), EmailRecognizer and
UsSsnRecognizer. Those three are run here directly, on English text only (as the pipeline did, they
are English recognisers), and only on text their own patterns can match: a phone needs a run of at
least `PHONE_MIN_DIGITS` digits (libphonenumber's shortest valid number, with its own punctuation
between the digits) or a `+`, an e-mail needs `@`, an SSN one of presidio's own SSN patterns. Names come
from our recognisers (see `names`). tldextract is switched to the suffix list it ships (no download),
and presidio is imported only when a text needs its e-mail or SSN recogniser. Text is read in chunks.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers.phonenumberutil import _VALID_PUNCTUATION

from enclave.pii import names
from enclave.pii.entities import Entity
from enclave.pii.recognizers import RECOGNIZERS, Match, Recognizer, find_all

CHUNK = 1000
CJK = re.compile(r"[\u4e00-\u9fff]")
english_names = names.english_names  # kept for callers of the old location


class Part(enum.Flag):
    """The parts of `quick`; a vectorised pre-filter may show a text needs only some of them."""

    IDS = enum.auto()  # find_all: identifiers, labelled numbers, addresses, names after a label
    CHINESE_NAMES = enum.auto()
    LATIN_NAMES = enum.auto()  # English and pinyin names
    PRESIDIO = enum.auto()  # presidio's phone, e-mail and SSN recognisers (`analyze` only)
    ALL = IDS | CHINESE_NAMES | LATIN_NAMES | PRESIDIO


_IDS, _NAMES = Part.IDS.value, (Part.CHINESE_NAMES | Part.LATIN_NAMES).value


def quick(text: str, parts: Part = Part.ALL, recognizers: Sequence[Recognizer] = RECOGNIZERS) -> list[Match]:
    """Our recognisers without presidio's: identifiers first, then names where no identifier is."""
    flags = parts.value  # as an integer: a Flag's own operators cost more than the recognisers on a short value
    found = find_all(text, recognizers=recognizers) if flags & _IDS else []
    if not flags & _NAMES:  # an identifier value: no name part to read
        return found
    taken = [(m.start, m.end) for m in found]
    people = names.person_names(text, chinese=Part.CHINESE_NAMES in parts, latin=Part.LATIN_NAMES in parts)
    found += [m for m in people if not any(s < m.end and m.start < e for s, e in taken)]
    return found


def offline_tldextract() -> None:
    import tldextract.tldextract as tx

    tx.TLD_EXTRACTOR = tx.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


PHONE_REGIONS = ("CN", "US", "GB")
PHONE_LENIENCY = 1  # presidio's default: VALID
PHONE_MIN_DIGITS = 6  # shortest valid number with its country code (+cc NSN) in libphonenumber's metadata
# libphonenumber's matcher joins digit blocks across at most four of these characters
PHONE_GATE = re.compile(rf"\d(?:[{_VALID_PUNCTUATION}]{{0,4}}\d){{{PHONE_MIN_DIGITS - 1},}}")
# presidio's UsSsnRecognizer patterns (SSN1-SSN5), all of them: its "very weak" ones count too
SSN_GATE = re.compile(r"\b[0-9]{5}-[0-9]{4}\b|\b[0-9]{3}-[0-9]{6}\b|\b[0-9]{9}\b"
                      r"|\b[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}\b")


PHONE_LEAD = re.compile(rf"[{_VALID_PUNCTUATION}(（\[［+＋]")  # may stand before a number's first digit
PHONE_LEAD_MAX = 12  # two lead characters, each with up to four punctuation characters after it, and some
DIGIT, PLUS = re.compile(r"\d"), re.compile("[+＋]")
MINUTES = re.compile(r":[0-5]\d")  # libphonenumber's _TIME_STAMPS_SUFFIX


def _national_min() -> int:
    """Digits a number needs without a "+": the shortest national number of `PHONE_REGIONS`, or an
    international prefix (two digits at least) and the shortest country code and number anywhere."""
    national = min(min(phonenumbers.PhoneMetadata.metadata_for_region(r).general_desc.possible_length)
                   for r in PHONE_REGIONS)
    return min(national, 2 + PHONE_MIN_DIGITS)


PHONE_NATIONAL_MIN = _national_min()  # 7 (CN and GB)
# `PHONE_GATE` as `_may_hold_phone` reads it, for the vectorised pre-filter: a run with enough digits for a
# national number, a "+" anywhere, or a run directly followed by a letter (an extension word)
PHONE_FILTER = "|".join([PHONE_GATE.pattern.replace(f"{{{PHONE_MIN_DIGITS - 1},}}", f"{{{PHONE_NATIONAL_MIN - 1},}}"),
                         PLUS.pattern, PHONE_GATE.pattern + r"\p{L}"])
PHONE_TAIL = 3  # characters after a run the matcher looks at: the next one, and a time stamp's ":mm"


@lru_cache(maxsize=1 << 14)
def _phone_in(window: str) -> bool:
    return any(True for region in PHONE_REGIONS
               for _ in phonenumbers.PhoneNumberMatcher(window, region, leniency=PHONE_LENIENCY))


def _may_hold_phone(chunk: str) -> bool:
    """Whether libphonenumber's matcher could find a number in `chunk`: asked of each run of digits that
    could be one, in a window just wide enough (so the same date or code in many cells is asked once).

    A number's digits lie inside one such run. The matcher decides from the candidate (lead characters
    such as "(" or "+" and punctuation before the digits, an extension after them), the character just
    before it and the one just after it; what lies further on can only reject it (a time stamp) or
    lengthen it (an extension), never make it. So the window is the run, the lead characters and one
    character before it, and `PHONE_TAIL` after it (a time stamp is rejected on the three characters after
    "2026-11-05 12": with ":3" only, every log line was read whole); a run followed directly by a letter
    may start an extension word: then the whole chunk is read.
    """
    for m in PHONE_GATE.finditer(chunk):
        start, end = m.span()
        if end < len(chunk) and chunk[end].isalpha():
            return True
        lead = start
        while lead > 0 and start - lead < PHONE_LEAD_MAX and PHONE_LEAD.match(chunk[lead - 1]):
            lead -= 1
        if len(DIGIT.findall(m.group())) < PHONE_NATIONAL_MIN and not PLUS.search(chunk, lead, start):
            continue  # too few digits for a national number, and no "+": not a number in these regions
        tail = chunk[end:end + PHONE_TAIL]  # a time stamp's minutes only say "time stamp": asked once for all
        if _phone_in(chunk[max(0, lead - 1):end] + (":00" if MINUTES.fullmatch(tail) else tail)):
            return True
    return False


@lru_cache(maxsize=1)
def analyzer() -> tuple[Any, Any]:
    """presidio's e-mail and US SSN recognisers, built once and only when a text needs them."""
    offline_tldextract()
    from presidio_analyzer.predefined_recognizers import EmailRecognizer, UsSsnRecognizer

    return EmailRecognizer(supported_language="en"), UsSsnRecognizer(supported_language="en")


def _presidio_results(chunk: str) -> list[tuple[str, int, int, float, str]]:
    """What presidio's PhoneRecognizer, EmailRecognizer and UsSsnRecognizer find in English text."""
    out: list[tuple[str, int, int, float, str]] = []
    if _may_hold_phone(chunk):
        for region in PHONE_REGIONS:  # what PhoneRecognizer.analyze does, without its pipeline around it
            out += [("PHONE_NUMBER", m.start, m.end, 0.4, "PhoneRecognizer")
                    for m in phonenumbers.PhoneNumberMatcher(chunk, region, leniency=PHONE_LENIENCY)
                    if not COLUMN_GAP.search(m.raw_string)]
    email, ssn = ("@" in chunk), bool(SSN_GATE.search(chunk))
    if email or ssn:
        for rec, wanted in zip(analyzer(), (email, ssn), strict=True):
            if wanted:
                out += [(r.entity_type, r.start, r.end, r.score, rec.name)
                        for r in rec.analyze(chunk, rec.supported_entities)]
    return out


# Digits lined up in a printed table's columns ("126   713   198   794") are cells, not a number's groups:
# libphonenumber reads across any whitespace, people write a number with one space between groups.
COLUMN_GAP = re.compile(r"\d {3,}\d|\d\t+\d")
PRESIDIO_ENTITY = {"EMAIL_ADDRESS": Entity.EMAIL, "PHONE_NUMBER": Entity.PHONE, "US_SSN": Entity.US_SSN}


def _chunks(text: str) -> list[tuple[int, str]]:
    """Pieces of at most CHUNK characters, cut at line ends (or spaces) so no value is split."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + CHUNK)
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


def analyze(text: str, parts: Part = Part.ALL, recognizers: Sequence[Recognizer] = RECOGNIZERS) -> list[Match]:
    """Every identifier in free text, ours and presidio's; one finding per span."""
    found: dict[tuple[int, int], Match] = {}
    for offset, chunk in _chunks(text):
        results = [(m.entity.value, m.start, m.end, m.score, m.rule) for m in quick(chunk, parts, recognizers)]
        if Part.PRESIDIO in parts and not CJK.search(chunk):  # presidio's recognisers are English ones
            results += _presidio_results(chunk)
        for kind, start, end, score, rule in sorted(results, key=lambda r: (r[1] - r[2], -r[3])):
            entity = PRESIDIO_ENTITY.get(kind) or Entity(kind)
            span = (offset + start, offset + end)
            if any(s <= span[0] and span[1] <= e for s, e in found):
                continue  # inside a value already found (a phone number inside a resident ID, ...)
            found[span] = Match(entity, span[0], span[1], text[span[0]:span[1]], score, rule or "presidio")
    return sorted(found.values(), key=lambda m: m.start)
