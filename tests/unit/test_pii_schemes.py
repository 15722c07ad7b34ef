"""Identifier schemes beyond the mainland resident ID, with check digits worked out by hand (not by our code)."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from enclave.pii import find_all, validators
from enclave.pii.entities import BLOCKING, Entity
from enclave.pii.validators import is_foreign_permanent_id, is_hk_id, is_mo_id, is_nhs_number, is_resident_id, is_tw_id


def kinds(text: str) -> list[tuple[str, str, str]]:
    return [(m.entity, m.value, m.rule) for m in find_all(text)]


def test_hong_kong_id_mod_11():
    # A123456: space=36*9=324, A=10*8=80, 1*7+2*6+3*5+4*4+5*3+6*2=77 -> 481; 481 mod 11 = 8 -> check 11-8 = 3
    assert is_hk_id("A123456(3)") and not is_hk_id("A123456(4)")
    # AB987654: 10*9+11*8+9*7+8*6+7*5+6*4+5*3+4*2 = 371; 371 mod 11 = 8 -> check 3
    assert is_hk_id("AB987654(3)") and is_hk_id("AB9876543")
    # G123456: 324 + 16*8 + 77 = 529; 529 mod 11 = 1 -> check 10, written A
    assert is_hk_id("G123456(A)") and not is_hk_id("G123456(0)")
    assert kinds("香港身份证 A123456(3)") == [(Entity.HK_ID, "A123456(3)", "hk-id")]
    assert kinds("ref A123456(4)") == []


def test_taiwan_id_weighted_checksum():
    # A123456789: A=10 -> 1*1 + 0*9 = 1; 1..8 weighted 8..1 = 120; + 9 = 130, a multiple of 10
    assert is_tw_id("A123456789") and not is_tw_id("A123456788")
    # F131104093: F=15 -> 1 + 45 = 46; 1,3,1,1,0,4,0,9 weighted 8..1 = 61; + 3 = 110
    assert is_tw_id("F131104093")
    assert not is_tw_id("A323456789")  # second digit must be 1/2 (or 8/9 for resident certificates)
    assert kinds("身分證字號 F131104093") == [(Entity.TW_ID, "F131104093", "tw-id")]


def test_macau_id_by_shape():
    assert is_mo_id("1234567(8)") and is_mo_id("5215299(8)") and not is_mo_id("2234567(8)")
    assert kinds("澳门身份证 7123456(1)") == [(Entity.MO_ID, "7123456(1)", "mo-id")]


def test_foreign_permanent_resident_id_new_and_old():
    # 91184019800101001: products 63 9 10 40 32 0 2 9 48 0 0 9 0 5 0 0 2 = 229; 229 mod 11 = 9 -> "10X98765432"[9] = 3
    assert is_foreign_permanent_id("911840198001010013") and not is_foreign_permanent_id("911840198001010014")
    assert kinds("永久居留证 911840198001010013") == [
        (Entity.CN_FOREIGN_PERMANENT_ID, "911840198001010013", "cn-foreign-permanent-id")]
    # old form: nationality USA, province 11, born 800101, sequence 001, check digit 5
    assert is_foreign_permanent_id("USA118001010015") and not is_foreign_permanent_id("USA998001010015")
    assert kinds("card USA118001010015")[0][0] == Entity.CN_FOREIGN_PERMANENT_ID


def test_residence_permit_for_hong_kong_residents_is_a_resident_id():
    # 81000019851111018: products 56 9 0 0 0 0 2 9 48 15 7 9 10 5 0 4 16 = 190; 190 mod 11 = 3 -> "9"
    assert is_resident_id("810000198511110189") and not is_resident_id("810000198511110188")
    assert kinds("居住证 810000198511110189") == [(Entity.CN_RESIDENT_ID, "810000198511110189", "cn-residence-permit")]


def test_nhs_number_mod_11():
    # 943476591: 90+36+24+28+42+30+20+27+2 = 299; 299 mod 11 = 2 -> 11-2 = 9
    assert is_nhs_number("9434765919") and not is_nhs_number("9434765918")
    assert kinds("NHS number 943 476 5919")[0][:2] == (Entity.UK_NHS_NUMBER, "943 476 5919")


@pytest.mark.parametrize(("text", "entity", "value"), [
    ("回乡证 H1234567801", Entity.CN_TRAVEL_PERMIT, "H1234567801"),
    ("台胞证号码：12345678", Entity.CN_TRAVEL_PERMIT, "12345678"),
    ("社保卡号：A12345678", Entity.SOCIAL_SECURITY_NO, "A12345678"),
    ("医保卡号 3301234567890", Entity.MEDICAL_INSURANCE_NO, "3301234567890"),
    ("住院号: 2023004512", Entity.MEDICAL_RECORD_NO, "2023004512"),
    ("门诊号 MZ884512", Entity.MEDICAL_RECORD_NO, "MZ884512"),
    ("Hospital number 88231001", Entity.MEDICAL_RECORD_NO, "88231001"),
    ("车牌京A12345停在楼下", Entity.LICENCE_PLATE, "京A12345"),
    ("新能源车 粤BD12345", Entity.LICENCE_PLATE, "粤BD12345"),
    ("plate 沪A·F1234", Entity.LICENCE_PLATE, "沪A·F1234"),
    ("微信：zhangwei_1988", Entity.MESSAGING_HANDLE, "zhangwei_1988"),
    ("id wxid_abc123def456", Entity.MESSAGING_HANDLE, "wxid_abc123def456"),
    ("QQ号 123456789", Entity.MESSAGING_HANDLE, "123456789"),
    ("Telegram: @li_hua_2020", Entity.MESSAGING_HANDLE, "@li_hua_2020"),
])
def test_labelled_and_shaped_identifiers(text: str, entity: Entity, value: str):
    assert [(m.entity, m.value) for m in find_all(text)] == [(entity, value)]


def test_look_alikes_that_are_not_identifiers():
    assert kinds("京沪高铁和京A线路") == []
    assert kinds("QQ plot of the residuals") == []
    assert kinds("model A1234567 and gene B123456") == []


@pytest.mark.parametrize(("text", "value"), [
    ("wechat: zhangsan", "zhangsan"), ("WeChat ID zhangsan", "zhangsan"), ("微信 zhangsan", "zhangsan"),
    ("weixin zhangsan88 thanks", "zhangsan88"), ("reach her on telegram anna_k later", "anna_k"),
    ("skype john.smith ok", "john.smith"), ("line id: mary_lee", "mary_lee"), ("signal = bobcat", "bobcat"),
])
def test_a_handle_after_its_label_is_found_with_a_separator_or_a_handle_shape(text: str, value: str):
    assert [(m.entity, m.value) for m in find_all(text)] == [(Entity.MESSAGING_HANDLE, value)]


@pytest.mark.parametrize("text", ["Reminders were sent via WeChat messages to patients", "the wx antenna worked",
                                  "skype consultations were offered", "Telegram channels", "signal processing",
                                  "wechat id is required"])
def test_words_about_a_messaging_service_are_not_handles(text: str):
    assert kinds(text) == []


def test_every_finding_names_its_recogniser_and_blocking_is_declared_once():
    assert all(m.rule for m in find_all("电话13812345678, A123456(3), 京A12345, 住院号 2023004512"))
    assert Entity.HK_ID in BLOCKING and Entity.PERSON not in BLOCKING and Entity.ADDRESS not in BLOCKING
    assert Entity.HK_ID.blocks and not Entity.DATE_OF_BIRTH.blocks


@pytest.mark.parametrize("value", ["010-1234567", "02012345678", "1381234567x", "+8613812345", "１３８１２３４５６７８",
                                   "12812345678", "(010)123456"])
def test_an_eleven_character_value_that_is_no_bare_mobile_is_parsed_by_libphonenumber(value: str):
    """Only a bare 1[3-9] mobile number takes the fast path: other 11-character values (a landline with its
    dash, a leading 0, a letter, a '+', other scripts' digits) are what `phonenumbers.parse` makes of them."""
    try:
        expected = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        with pytest.raises(phonenumbers.NumberParseException):
            validators._parsed(value)
        return
    got = validators._parsed(value)
    assert (got.country_code, got.national_number, got.italian_leading_zero) == (
        expected.country_code, expected.national_number, expected.italian_leading_zero)


def test_a_bare_mobile_number_reads_as_libphonenumber_parses_it_on_every_prefix():
    """The fast path of `validators._parsed` (an 11-digit 1[3-9] number built without `parse`) gives the
    same validity and 'possible but unlisted' answers as parsing, for every five-digit prefix (CN's mobile
    ranges are decided within the first five digits; carrier prefixes such as 179xx among them)."""
    rng = random.Random(11)
    numbers = [f"1{second}{rest:03d}{rng.randrange(10 ** 6):06d}" for second in range(3, 10) for rest in range(1000)]
    for value in numbers:
        fast, parsed = validators._parsed(value), phonenumbers.parse(value, "CN")
        assert (fast.country_code, fast.national_number) == (parsed.country_code, parsed.national_number)
        assert phonenumbers.is_valid_number(fast) == phonenumbers.is_valid_number(parsed), value
        assert phonenumbers.is_possible_number(fast) == phonenumbers.is_possible_number(parsed), value
    assert {validators.is_cn_phone(v) for v in numbers} == {True, False}
