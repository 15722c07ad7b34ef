"""Each recogniser with positives and hard negatives (values that look alike but are not identifiers)."""

from __future__ import annotations

import random

import pytest

from enclave.pii import find_all, is_luhn, is_resident_id
from enclave.pii.validators import is_bank_card, is_cn_phone, resident_id_check_char


def make_id(region: str = "110101", born: str = "19900307", seq: str = "451") -> str:
    first = region + born + seq
    return first + resident_id_check_char(first)


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(random.Random(prefix).choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if is_luhn(body + d))


def entities(text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.value) for m in find_all(text)]


@pytest.mark.parametrize("value", [
    make_id(), make_id("440305", "20011231", "002"), make_id("650102", "19600229", "133"),
    make_id("810000", "19851111", "018"), make_id("910000", "19700101", "001")])
def test_resident_id_positive(value):
    assert is_resident_id(value)


def test_resident_id_negatives():
    good = make_id()
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert not is_resident_id(wrong_check)
    assert not is_resident_id("000101199003074514")  # no such region
    assert not is_resident_id(make_id(born="19900230"))  # 30 February
    assert not is_resident_id(make_id(born="20990101"))  # born in the future
    assert not is_resident_id("123456789012345678")
    assert not is_resident_id("11010190030745")  # 14 digits
    assert is_resident_id("110101900307451")  # 15-digit old form


def test_resident_id_in_text_fullwidth_and_split():
    rid = make_id()
    full = rid.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert entities(f"身份证号{rid}。") == [("CN_RESIDENT_ID", rid)]
    assert entities(f"证件：{full}") == [("CN_RESIDENT_ID", rid)]
    spaced = f"{rid[:6]} {rid[6:14]} {rid[14:]}"
    assert ("CN_RESIDENT_ID", rid) in entities(f"id {spaced}")


def test_eighteen_digit_numbers_that_fail_validation_are_not_flagged():
    rng = random.Random(3)
    for _ in range(300):
        n = "".join(rng.choice("0123456789") for _ in range(18))
        if not is_resident_id(n) and not is_bank_card(n):
            assert entities(f"value {n}") == [], n


def test_phones():
    assert is_cn_phone("13812345678") and is_cn_phone("+8613812345678") and is_cn_phone("010-12345678")
    assert entities("联系电话13812345678") == [("CN_PHONE", "13812345678")]
    assert entities("call 139-1234-5678") == [("CN_PHONE", "13912345678")]
    assert entities("masked 138****5678") == []
    assert entities("study 12012345678") == []  # 120 is not a mobile prefix
    assert entities("p = 0.0123456789") == []


def test_bank_cards():
    union = luhn_complete("622202", 19)
    visa = luhn_complete("4111", 16)
    assert is_bank_card(union) and is_bank_card(visa)
    assert entities(f"卡号{union}") == [("BANK_CARD", union)]
    assert ("BANK_CARD", visa) in entities(f"card {visa[:4]} {visa[4:8]} {visa[8:12]} {visa[12:]}")
    not_luhn = union[:-1] + str((int(union[-1]) + 1) % 10)
    assert entities(f"卡号{not_luhn}") == []
    assert entities("count 1234567890123456") == []  # no network prefix / Luhn


def test_passports_permits_email_ssn():
    assert entities("护照E12345678") == [("CN_PASSPORT", "E12345678")]
    assert entities("passport EA1234567") == [("CN_PASSPORT", "EA1234567")]
    assert entities("港澳通行证 H1234567801") == [("CN_TRAVEL_PERMIT", "H1234567801")]
    assert entities("mail li.hua@hospital.cn") == [("EMAIL", "li.hua@hospital.cn")]
    assert entities("SSN 123-45-6789") == [("US_SSN", "123-45-6789")]
    assert entities("SSN 000-45-6789 and 987-65-4321") == []
    assert entities("gene E123 and H12") == []


def test_labelled_identifiers():
    assert entities("病案号：BA2023-00017") == [("MEDICAL_RECORD_NO", "BA2023-00017")]
    assert entities("MRN 88231001") == [("MEDICAL_RECORD_NO", "88231001")]
    assert entities("出生日期：1990年3月7日") == [("DATE_OF_BIRTH", "1990年3月7日")]
    assert entities("DOB: 03/07/1990") == [("DATE_OF_BIRTH", "03/07/1990")]
    assert entities("study date 2023-05-01, admissions 2019-2023") == []


def test_chinese_names_by_label_and_surname():
    assert ("PERSON_CN", "王小明") in entities("患者王小明，男，45岁")
    assert entities("患者的数量为120") == []  # label followed by ordinary words, no surname
    assert entities("医生建议复查") == []


def test_addresses():
    assert entities("住址：浙江省杭州市西湖区文三路90号") == [("ADDRESS_CN", "浙江省杭州市西湖区文三路90号")]
    assert entities("lives at 221 Baker Street") == [("ADDRESS_EN", "221 Baker Street")]
    assert entities("上海市的发病率为3.2%") == []


def test_masked_form_never_shows_the_value():
    m = find_all(f"id {make_id()}")[0]
    assert m.masked.startswith("11") and "*" in m.masked and make_id() not in m.masked
