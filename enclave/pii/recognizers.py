"""Small recognisers, each with its name, pattern, validation and labels; the engine is `find_all`.

Patterns use `(?<![0-9A-Za-z])…(?![0-9A-Za-z])` rather than `\\b`, which does not separate digits
from adjacent Chinese characters (`卡号6222…`); validated digit identifiers are bounded by digits only
(`DL`/`DR`), so a letter glued to them does not hide them. Text is first folded (invisible characters dropped,
look-alike letters and digits of other scripts mapped to ASCII, `&#49;` and `\\u0031` decoded), and digit
identifiers are also looked for after split digits are joined and spelled-out digits (一三八, 壹贰叁,
"one three eight") are written as digits. Every match names the recogniser that produced it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from enclave.pii.entities import Entity
from enclave.pii.normalize import Folded, fold, join_split_digits, spelled_digits
from enclave.pii.validators import (
    is_bank_card,
    is_cn_phone,
    is_foreign_permanent_id,
    is_hk_id,
    is_mo_id,
    is_nhs_number,
    is_resident_id,
    is_tw_id,
    is_unlisted_cn_mobile,
    is_us_ssn,
)

L = r"(?<![0-9A-Za-z])"
R = r"(?![0-9A-Za-z])"
# Checksum- and prefix-validated digit identifiers: bounded by digits only, so one glued to a word still counts
# (`ref p1101…`, `tel138…`, `id1101…` in a JSON value, `…002Xabc`); the validation keeps false positives low.
DL = r"(?<!\d)"
DR = r"(?![\dXx])"
PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"


@dataclass(frozen=True)
class Recognizer:
    name: str  # recorded as the finding's rule
    entity: Entity
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    group: int = 0
    digits: bool = False  # a digit identifier: also looked for after split/spelled digits are rewritten
    score: float = 0.9

    @property
    def labelled(self) -> bool:
        """Found by its label ('wechat: …', '社保号 …'): the label, not the value's shape, makes it a candidate."""
        return LABEL_SEPARATOR in self.pattern.pattern


@dataclass(frozen=True)
class Match:
    entity: Entity
    start: int
    end: int
    value: str
    score: float
    rule: str = ""

    @property
    def masked(self) -> str:
        """Enough to locate the value, never the value itself (findings must not leak it)."""
        v = self.value
        return v[:2] + "*" * max(0, len(v) - 4) + v[-2:] if len(v) > 4 else "*" * len(v)


LABEL_SEPARATOR = r"\s*(?:[:：=#]|是|为)?\s*("  # between a labelled recogniser's label and its value


# A messaging handle after its label: where the label says so ('wechat: anna', '微信 anna', 'skype = bob',
# 'WeChat ID anna') any name, but after a bare English label only a value shaped like a handle (a digit, '_',
# '.', a leading '@'): 'WeChat messages', 'signal processing', 'Telegram channels' are about the service
HANDLE_AFTER = (r"(?:(?<=[:：=#])|(?<=[:：=#]\s)|(?<=[:：=#]\s\s)|(?<=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff]\s)"
                r"|(?<=\sid\s)|(?=@|[-A-Za-z]*[0-9_.]))")


def _label(labels: str, value: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{labels}){LABEL_SEPARATOR}{value})", re.IGNORECASE)


def _not_foreign(v: str) -> bool:
    return v[0] != "9" and is_resident_id(v)


def _residence_permit(v: str) -> bool:
    return v[:2] in ("81", "82", "83") and is_resident_id(v)


def _digits_are(check: Callable[[str], bool], keep: str = r"[^\d]") -> Callable[[str], bool]:
    """`check` on the digits (and, for IDs, the check letter) of a value written with separators."""
    return lambda v: check(re.sub(keep, "", v).upper())


BORN = r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"  # birth date, sequence, check
HOUSE = r"(?:[0-9-]{1,6}(?:号院?|號院?|弄|栋|棟|幢|楼|樓|座|单元|單元|室|层|層|樓|號))"  # a number and its unit
EN_SMALL_WORDS = frozenset(["the", "a", "an", "on", "in", "of", "to", "at", "by", "for", "and", "or", "per", "day",
                            "days", "week", "weeks", "month", "months", "year", "years", "time", "times", "patient",
                            "patients"])


def _street_words(v: str) -> bool:
    """The words between the house number and the street type name a street ("2 days on the road" does not)."""
    return not set(v.split(",")[0].split()[1:-1]) & EN_SMALL_WORDS
RECORD_NO = r"[A-Za-z0-9][A-Za-z0-9-]{3,19}"

RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("cn-residence-permit", Entity.CN_RESIDENT_ID, re.compile(DL + rf"(8[123]\d{{4}}{BORN})" + DR),
               _residence_permit, group=1, digits=True, score=1.0),
    Recognizer("cn-resident-id", Entity.CN_RESIDENT_ID, re.compile(DL + rf"([1-8]\d{{5}}{BORN})" + DR),
               _not_foreign, group=1, digits=True, score=0.99),
    Recognizer("cn-resident-id-15", Entity.CN_RESIDENT_ID, re.compile(
        DL + r"([1-8]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})" + DR),
        is_resident_id, group=1, digits=True, score=0.7),
    Recognizer("cn-foreign-permanent-id", Entity.CN_FOREIGN_PERMANENT_ID, re.compile(DL + rf"(9\d{{5}}{BORN})" + DR),
               is_foreign_permanent_id, group=1, digits=True, score=1.0),
    Recognizer("cn-foreign-permanent-id-old", Entity.CN_FOREIGN_PERMANENT_ID, re.compile(
        L + r"([A-Z]{3}\d{12})" + R), is_foreign_permanent_id, group=1, score=0.85),
    Recognizer("hk-id", Entity.HK_ID, re.compile(
        r"(?<![0-9A-Za-z])([A-Z]{1,2}\d{6}\s?(?:\([0-9A]\)|（[0-9A]）))"), is_hk_id, group=1, score=0.95),
    Recognizer("hk-id-labelled", Entity.HK_ID, _label(
        r"香港身份证(?:号码?)?|HKID(?: (?:card|no\.?|number))?|Hong Kong ID(?: card)?(?: no\.?| number)?",
        r"[A-Z]{1,2}\d{6}[0-9A]"), is_hk_id, group=1, score=0.95),
    Recognizer("mo-id", Entity.MO_ID, re.compile(L + r"([157]\d{6}\([0-9]\))"), is_mo_id, group=1, score=0.85),
    Recognizer("tw-id", Entity.TW_ID, re.compile(L + r"([A-Z][1289]\d{8})" + R), is_tw_id, group=1, score=0.95),
    Recognizer("cn-phone", Entity.CN_PHONE, re.compile(DL + r"((?:\+?86)?1[3-9]\d{9})" + DR), is_cn_phone,
               group=1, digits=True),
    Recognizer("cn-mobile-unlisted", Entity.PHONE, re.compile(DL + r"((?:\+?86)?1[3-9]\d{9})" + DR),
               is_unlisted_cn_mobile, group=1, digits=True, score=0.6),
    # a mobile number cut by dots, slashes, underscores or an "x", or with its prefix in brackets: (138)1234-5678
    Recognizer("cn-phone-separated", Entity.CN_PHONE, re.compile(
        DL + r"(1[3-9]\d[./_xX]\d{4}[./_xX]\d{4}|[(（]1[3-9]\d[)）] ?\d{4}[-. ]?\d{4})" + DR),
        _digits_are(is_cn_phone), group=1, score=0.85),
    # a resident ID written one digit at a time with a separator (1.1.0.1…, 1/1/0/1…) or one digit per line
    Recognizer("cn-resident-id-separated", Entity.CN_RESIDENT_ID, re.compile(
        DL + r"([1-8](?:[.,/_;|]\d){16}[.,/_;|][\dXx]|[1-8](?:\r?\n\d){16}\r?\n[\dXx])" + DR),
        _digits_are(_not_foreign, r"[^\dXx]"), group=1, score=0.9),
    Recognizer("cn-landline", Entity.CN_PHONE, re.compile(DL + r"(0\d{2,3}-\d{7,8})" + DR), is_cn_phone, group=1,
               score=0.7),
    Recognizer("bank-card-luhn", Entity.BANK_CARD, re.compile(DL + r"(\d{15,19})" + DR), is_bank_card, group=1,
               digits=True),
    Recognizer("cn-passport", Entity.CN_PASSPORT, re.compile(L + r"([EG]\d{8}|E[A-HJ-NP-Z]\d{7})" + R), group=1,
               score=0.8),
    Recognizer("hk-mo-home-return-permit", Entity.CN_TRAVEL_PERMIT, re.compile(L + r"([HM]\d{8}(?:\d{2})?)" + R),
               group=1, score=0.8),
    Recognizer("travel-permit-labelled", Entity.CN_TRAVEL_PERMIT, _label(
        r"台胞证(?:号码?)?|台湾居民来往大陆通行证(?:号码?)?|回乡证(?:号码?)?|港澳居民来往内地通行证(?:号码?)?"
        r"|往来港澳通行证(?:号码?)?|大陆居民往来台湾通行证(?:号码?)?|通行证(?:号码?)?"
        r"|(?:home[- ]return|travel) permit(?: no\.?| number)?",
        r"[A-Z]{0,2}\d{7,10}(?:\(\w\))?"), group=1, score=0.85),
    Recognizer("email", Entity.EMAIL, re.compile(
        r"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"), group=1),
    Recognizer("us-ssn", Entity.US_SSN, re.compile(DL + r"(\d{3}-\d{2}-\d{4})" + DR), is_us_ssn, group=1, score=0.85),
    Recognizer("nhs-number", Entity.UK_NHS_NUMBER, re.compile(DL + r"(\d{3}[ -]\d{3}[ -]\d{4})" + DR), is_nhs_number,
               group=1, score=0.85),
    Recognizer("nhs-number-labelled", Entity.UK_NHS_NUMBER, _label(r"NHS(?: number| no\.?|#)?", r"\d{10}"),
               is_nhs_number, group=1, score=0.95),
    Recognizer("social-security-labelled", Entity.SOCIAL_SECURITY_NO, _label(
        r"社保卡号|社会保障卡号|社保号|社会保障号码?|社保编号|social security (?:card )?(?:number|no\.?)",
        r"[A-Za-z0-9]{6,20}"), group=1, score=0.9),
    Recognizer("medical-insurance-labelled", Entity.MEDICAL_INSURANCE_NO, _label(
        r"医保卡号|医保号|医保编号|医疗保险号|医疗保险卡号|参保号|医保电子凭证号?"
        r"|(?:medical |health )?insurance (?:card )?(?:number|no\.?)",
        r"[A-Za-z0-9]{6,24}"), group=1, score=0.9),
    Recognizer("medical-record-labelled", Entity.MEDICAL_RECORD_NO, _label(
        r"病案号|住院号|门诊号|病历号|就诊卡号|就诊号|登记号|床号|检查号|MRN|hospital (?:number|no\.?)"
        r"|medical record (?:number|no\.?)|patient id|inpatient (?:number|no\.?)|outpatient (?:number|no\.?)",
        RECORD_NO), group=1, score=0.85),
    Recognizer("cn-licence-plate", Entity.LICENCE_PLATE, re.compile(
        rf"([{PROVINCE_ABBR}][A-HJ-NP-Z][·・ ]?(?:[DF][A-HJ-NP-Z0-9]\d{{4}}|\d{{5}}[DF]"
        rf"|[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳])){R}"),
        group=1, score=0.85),
    Recognizer("wechat-id", Entity.MESSAGING_HANDLE, re.compile(L + r"(wxid_[a-z0-9]{8,24})" + R), group=1),
    Recognizer("wechat-labelled", Entity.MESSAGING_HANDLE, _label(
        r"微信号?|(?<![A-Za-z])(?:weixin|wechat(?: id)?|vx|wx)(?![A-Za-z_])",
        HANDLE_AFTER + r"[A-Za-z][-_A-Za-z0-9]{5,19}"),
        group=1, score=0.9),
    Recognizer("qq-labelled", Entity.MESSAGING_HANDLE, _label(r"QQ号?码?|QQ", r"[1-9]\d{4,11}"), group=1, score=0.9),
    Recognizer("handle-labelled", Entity.MESSAGING_HANDLE, _label(
        r"telegram|whatsapp|skype|line id|微博号?|抖音号|钉钉号?|signal",
        HANDLE_AFTER + r"@?[A-Za-z0-9][-_.A-Za-z0-9]{3,31}"), group=1, score=0.85),
    Recognizer("date-of-birth-labelled", Entity.DATE_OF_BIRTH, _label(
        r"出生日期|出生年月日|生日|DOB|date of birth|birth ?date|born on",
        r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|\d{1,2}/\d{1,2}/\d{4}"), group=1, score=0.85),
    Recognizer("name.zh-label", Entity.PERSON, _label(r"姓名|患者|病人|家属|联系人|医生|医师|护士|受访者",
                                                      r"[\u4e00-\u9fff]{2,4}"), group=1, score=0.75),
    # the same with a space between the characters (患者 张 伟): one character per token
    Recognizer("name.zh-label-spaced", Entity.PERSON, _label(
        r"姓名|患者|病人|家属|联系人|医生|医师|护士|受访者",
        r"[\u4e00-\u9fff](?:[ \u3000][\u4e00-\u9fff]){1,3}(?![\u4e00-\u9fff])"),
        group=1, score=0.7),
    Recognizer("address-cn", Entity.ADDRESS, re.compile(
        r"([\u4e00-\u9fff]{2,8}(?:省|市|自治区|自治區)[\u4e00-\u9fff0-9]{0,20}?(?:区|區|县|縣|镇|鎮|乡|鄉)"
        rf"[\u4e00-\u9fff0-9]{{0,20}}?(?:路|街|道|巷|村|小区|小區){HOUSE}*)"), group=1, score=0.8),
    # no province or city: a district or county, a street and a house number (朝阳区建国路88号3单元502室)
    Recognizer("address-cn-district", Entity.ADDRESS, re.compile(
        rf"([\u4e00-\u9fff]{{1,6}}(?:区|區|县|縣)[\u4e00-\u9fff]{{1,10}}?(?:路|街|道|巷|胡同|里){HOUSE}+)"),
        group=1, score=0.7),
    # Hong Kong and Macau: the territory or district, a street and a number (香港九龍彌敦道100號)
    Recognizer("address-hk-mo", Entity.ADDRESS, re.compile(
        rf"((?:香港|九龍|九龙|新界|港島|港岛|澳門|澳门|氹仔|路環|路环)[\u4e00-\u9fff]{{0,12}}?(?:道|路|街|里|徑|径|圍|围)"
        rf"{HOUSE}+)"), group=1, score=0.7),
    Recognizer("address-en", Entity.ADDRESS, re.compile(
        r"(\d{1,5} [A-Z][a-z]+(?: [A-Z][a-z]+)* "
        r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd)\b\.?)"),
        group=1, score=0.75),
    # the same in lower case, followed by a comma and the district or town (88 jianguo road, chaoyang)
    Recognizer("address-en-lowercase", Entity.ADDRESS, re.compile(
        L + r"(\d{1,5}(?: [a-z]+){1,3} "
        r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|close|crescent)\b\.?,\s*[a-z]{3,})"),
        _street_words, group=1, score=0.6),
)


_CN_NAME_REJECT = frozenset("的了是在和有不这我他她它们")


def _plausible_cn_name(value: str) -> bool:
    from enclave.pii.names import has_common_surname

    return has_common_surname(value) and not (set(value) & _CN_NAME_REJECT)


def _plausible_spaced_cn_name(value: str) -> bool:
    return _plausible_cn_name(re.sub(r"[ \u3000]", "", value))


_EXTRA_VALIDATION: dict[str, Callable[[str], bool]] = {"name.zh-label": _plausible_cn_name,
                                                      "name.zh-label-spaced": _plausible_spaced_cn_name}


def _variants(folded: Folded) -> list[Folded]:
    """The folded text, and the texts digit recognisers also read (each mapping back to the original)."""
    out = [folded]
    if folded.text.isdigit() and folded.text.isascii():  # one run of ASCII digits: nothing to join or spell
        return out
    for make in (join_split_digits, spelled_digits):
        v = make(folded)
        if v is not None and v.text != folded.text:
            out.append(v)
    return out


_PLANS: dict[int, tuple[Sequence[Recognizer], bool, tuple[tuple[Recognizer, Callable[[str], bool] | None], ...]]] = {}


def _plan(recognizers: Sequence[Recognizer]) -> tuple[bool, tuple[tuple[Recognizer, Callable[[str], bool] | None],
                                                                   ...]]:
    """Whether any of `recognizers` reads the digit variants, and each with its validation: worked out once per
    set of recognisers (the pre-filters hand out a few sets, each the same tuple every time), not once per value."""
    kept = _PLANS.get(id(recognizers))
    if kept is None or kept[0] is not recognizers:
        kept = (recognizers, any(r.digits for r in recognizers),
                tuple((r, r.validate or _EXTRA_VALIDATION.get(r.name)) for r in recognizers))
        if isinstance(recognizers, tuple) and len(_PLANS) < 4096:  # a tuple cannot change: its plan is kept
            _PLANS[id(recognizers)] = kept
    return kept[1], kept[2]


def find_all(text: str, entities: set[Entity] | None = None,
             recognizers: Sequence[Recognizer] = RECOGNIZERS) -> list[Match]:
    """All identifiers in `text`, best match per span; positions point into `text` as given.

    `recognizers` narrows the recognisers run to those a vectorised pre-filter has not ruled out.
    """
    folded = fold(text)
    digits, plan = _plan(recognizers)
    variants = _variants(folded) if digits else [folded]
    found: dict[tuple[int, int], Match] = {}
    for rec, check in plan:
        if entities and rec.entity not in entities:
            continue
        for t in variants if rec.digits else variants[:1]:
            for m in rec.pattern.finditer(t.text):
                value = m.group(rec.group)
                if check and not check(value):
                    continue
                start, end = t.span(*m.span(rec.group))
                if (start, end) not in found or found[(start, end)].score < rec.score:
                    found[(start, end)] = Match(rec.entity, start, end, value, rec.score, rec.name)
    return _one_per_place(found.values()) if len(found) > 1 else list(found.values())


def _one_per_place(matches: object) -> list[Match]:
    """A phone or card inside a resident ID (or the reverse) is one finding: keep the longer, surer one."""
    ordered = sorted(matches, key=lambda x: (x.start, -(x.end - x.start)))  # type: ignore[attr-defined]
    kept: list[Match] = []
    for m in ordered:
        if kept and m.start < kept[-1].end and m.entity != kept[-1].entity and m.score <= kept[-1].score:
            continue
        if kept and m.entity == kept[-1].entity and m.end <= kept[-1].end:  # a shorter form inside a longer one
            continue
        kept.append(m)
    return kept
