"""Small recognisers, each with its pattern, validation and labels; the engine is `find_all`.

Patterns use `(?<![0-9A-Za-z])…(?![0-9A-Za-z])` rather than `\\b`, which does not separate digits
from adjacent Chinese characters (`卡号6222…`). Digit identifiers are also looked for after digits
split by spaces or hyphens are joined again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from enclave.pii.normalize import halfwidth, join_split_digits
from enclave.pii.validators import is_bank_card, is_cn_phone, is_resident_id, is_us_ssn

L = r"(?<![0-9A-Za-z])"
R = r"(?![0-9A-Za-z])"


@dataclass(frozen=True)
class Recognizer:
    entity: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    group: int = 0
    joined_digits: bool = False  # also search after split digits are joined
    score: float = 0.9


@dataclass(frozen=True)
class Match:
    entity: str
    start: int
    end: int
    value: str
    score: float

    @property
    def masked(self) -> str:
        """Enough to locate the value, never the value itself (findings must not leak it)."""
        v = self.value
        return v[:2] + "*" * max(0, len(v) - 4) + v[-2:] if len(v) > 4 else "*" * len(v)


def _label(labels: str, value: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{labels})\s*(?:[:：=]|是|为)?\s*({value})", re.IGNORECASE)


RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("CN_RESIDENT_ID", re.compile(
        L + r"([1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx])" + R),
        is_resident_id, group=1, joined_digits=True, score=1.0),
    Recognizer("CN_RESIDENT_ID", re.compile(
        L + r"([1-8]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})" + R),
        is_resident_id, group=1, joined_digits=True, score=0.7),
    Recognizer("CN_PHONE", re.compile(L + r"((?:\+?86)?1[3-9]\d{9})" + R), is_cn_phone, group=1,
               joined_digits=True),
    Recognizer("CN_PHONE", re.compile(L + r"(0\d{2,3}-\d{7,8})" + R), is_cn_phone, group=1, score=0.7),
    Recognizer("BANK_CARD", re.compile(L + r"(\d{15,19})" + R), is_bank_card, group=1, joined_digits=True),
    Recognizer("CN_PASSPORT", re.compile(L + r"([EG]\d{8}|E[A-HJ-NP-Z]\d{7})" + R), group=1, score=0.8),
    Recognizer("CN_TRAVEL_PERMIT", re.compile(L + r"([HM]\d{8}(?:\d{2})?)" + R), group=1, score=0.8),
    Recognizer("EMAIL", re.compile(r"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"), group=1),
    Recognizer("US_SSN", re.compile(L + r"(\d{3}-\d{2}-\d{4})" + R), is_us_ssn, group=1, score=0.85),
    Recognizer("MEDICAL_RECORD_NO", _label(
        r"病案号|住院号|门诊号|病历号|医保卡号|医保号|就诊卡号|MRN|medical record (?:number|no\.?)|patient id",
        r"[A-Za-z0-9][A-Za-z0-9-]{3,19}"), group=1, score=0.85),
    Recognizer("DATE_OF_BIRTH", _label(
        r"出生日期|出生年月日|生日|DOB|date of birth|birth ?date|born on",
        r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|\d{1,2}/\d{1,2}/\d{4}"), group=1, score=0.85),
    Recognizer("PERSON_CN", _label(r"姓名|患者|病人|家属|联系人|医生|医师|护士", r"[\u4e00-\u9fff]{2,4}"),
               group=1, score=0.75),
    Recognizer("ADDRESS_CN", re.compile(
        r"([\u4e00-\u9fff]{2,8}(?:省|市|自治区)[\u4e00-\u9fff0-9]{0,20}?(?:区|县|镇|乡)"
        r"[\u4e00-\u9fff0-9]{0,20}?(?:路|街|道|巷|村|小区)(?:[0-9-]{1,6}(?:号院?|弄|栋|幢|楼|室))*)"), group=1,
        score=0.8),
    Recognizer("ADDRESS_EN", re.compile(
        r"(\d{1,5} [A-Z][a-z]+(?: [A-Z][a-z]+)* "
        r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd)\b\.?)"),
        group=1, score=0.75),
)

_CN_NAME_REJECT = frozenset("的了是在和有不这我他她它们")


def _plausible_cn_name(value: str) -> bool:
    from enclave.pii.names import has_common_surname

    return has_common_surname(value) and not (set(value) & _CN_NAME_REJECT)


_EXTRA_VALIDATION: dict[str, Callable[[str], bool]] = {"PERSON_CN": _plausible_cn_name}


def find_all(text: str, entities: set[str] | None = None) -> list[Match]:
    """All identifiers in `text` (positions refer to the half-width text), best match per span."""
    base = halfwidth(text)
    joined, positions = join_split_digits(base)
    found: dict[tuple[int, int], Match] = {}
    for rec in RECOGNIZERS:
        if entities and rec.entity not in entities:
            continue
        targets = [base, joined] if rec.joined_digits and joined != base else [base]
        for t in targets:
            for m in rec.pattern.finditer(t):
                value = m.group(rec.group)
                check = rec.validate or _EXTRA_VALIDATION.get(rec.entity)
                if check and not check(value):
                    continue
                start, end = m.span(rec.group)
                if t is not base:  # a position in the joined text: map it back to the text as given
                    start, end = positions[start], positions[end - 1] + 1
                key = (start, end)
                if key not in found or found[key].score < rec.score:
                    found[key] = Match(rec.entity, start, end, value, rec.score)
    # a phone or card inside a resident ID (or the reverse) is one finding: keep the longer, surer one
    matches = sorted(found.values(), key=lambda x: (x.start, -(x.end - x.start)))
    kept: list[Match] = []
    for m in matches:
        if kept and m.start < kept[-1].end and m.entity != kept[-1].entity and m.score <= kept[-1].score:
            continue
        kept.append(m)
    return kept
