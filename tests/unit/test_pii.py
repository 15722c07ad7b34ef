"""Each recogniser with positives and hard negatives (values that look alike but are not identifiers)."""

from __future__ import annotations

import random

import pytest

from enclave.pii import find_all, is_luhn, is_resident_id
from enclave.pii.validators import is_bank_card, is_cn_phone, is_us_ssn, resident_id_check_char
from tests.identifiers import BANK_CARDS, RESIDENT_IDS, RID, STANDARD_EXAMPLE, faker_resident_ids


def entities(text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.value) for m in find_all(text)]


@pytest.mark.parametrize(("check", "value"), sorted(RESIDENT_IDS.items()))
def test_resident_id_known_answers(check: str, value: str):
    assert resident_id_check_char(value[:17]) == check
    assert is_resident_id(value) and is_resident_id(value.lower())


@pytest.mark.parametrize("value", sorted(RESIDENT_IDS.values()))
def test_resident_id_with_any_other_check_character_is_refused(value: str):
    for wrong in "0123456789X":
        if wrong != value[17]:
            assert not is_resident_id(value[:17] + wrong), wrong


def test_resident_ids_generated_by_faker_are_accepted():
    """Faker's zh_CN provider computes check characters itself, over thousands of region codes."""
    pytest.importorskip("faker")
    ids = faker_resident_ids(500)
    assert [v for v in ids if not is_resident_id(v)] == []
    assert {v[17] for v in ids} == set("0123456789X")


@pytest.mark.parametrize("value", [
    "810000199001011230",  # Hong Kong residence permit: 56+9+0+0+0+0+2+9+54+0+0+9+0+5+8+8+6 = 166 -> 1 -> "0"
    "820000197512121231",  # Macau: 56+18+0+0+0+0+2+9+42+15+7+18+10+10+8+8+6 = 209 -> 0 -> "1"
    "830000198001010018",  # Taiwan: 56+27+0+0+0+0+2+9+48+0+0+9+0+5+0+0+2 = 158 -> 4 -> "8"
    "910000197001010013",  # foreign permanent resident (first digit 9): 63+9+0+...+5+0+0+2 = 141 -> 9 -> "3"
])
def test_permits_with_the_resident_id_check_are_accepted(value: str):
    assert is_resident_id(value)
    assert not is_resident_id(value[:17] + ("1" if value[17] != "1" else "2"))


def test_birth_dates_from_1880_to_today_are_accepted():
    from datetime import date, timedelta

    from enclave.pii.validators import _valid_date

    today = date.today()
    tomorrow = today + timedelta(days=1)
    assert _valid_date(1880, 1, 1) and not _valid_date(1879, 12, 31)
    assert _valid_date(today.year, today.month, today.day)
    assert not _valid_date(tomorrow.year, tomorrow.month, tomorrow.day)
    assert is_resident_id("110101188001010003")  # 7+9+0+5+0+4+2+8+48+0+0+9+0+5+0+0+0 = 97 -> 9 -> "3"
    assert not is_resident_id("110101187912310002")  # 164 -> 10 -> "2": check right, born 1879-12-31


def test_the_check_character_needs_exactly_seventeen_digits():
    assert resident_id_check_char(STANDARD_EXAMPLE[:17]) == "X"
    for wrong in (STANDARD_EXAMPLE[:16], STANDARD_EXAMPLE[:17] + "0"):
        with pytest.raises(ValueError):
            resident_id_check_char(wrong)


def test_old_fifteen_digit_ids_read_the_birth_date_as_19yymmdd():
    assert is_resident_id("110101960229451")  # 29 Feb 1996 (a leap year; 1997 and 1906 are not)
    assert not is_resident_id("110101970229451")  # 29 Feb 1997
    assert is_resident_id("110101900310451")  # 10 March 1990: the day is both digits, not the last one
    assert not is_resident_id("110101900431451")  # 31 April
    assert not is_resident_id("11010190031045X")  # no check character in the old form


def test_resident_id_negatives():
    # each of these has the right check character for its digits, so only the named rule refuses it
    assert not is_resident_id("000101199003074519")  # no such region (190 -> 3 -> "9")
    assert not is_resident_id("110101199002300006")  # 30 February (138 -> 6 -> "6")
    assert not is_resident_id("110101209901010009")  # born in 2099 (124 -> 3 -> "9")
    assert not is_resident_id("123456789012345678")
    assert not is_resident_id("11010190030745")  # 14 digits
    assert not is_resident_id("1101011990030745145")  # 19 characters
    assert not is_resident_id("11010519491231002Y")  # check character neither digit nor X
    assert not is_resident_id("1101051949123100XX")  # X only as the check character
    assert is_resident_id("110101900307451")  # 15-digit old form
    assert not is_resident_id("000101900307451")  # 15-digit form, no such region
    assert not is_resident_id("110101900230451")  # 15-digit form, 30 February 1990


def test_resident_id_in_text_fullwidth_and_split():
    rid = RID
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
    assert not is_cn_phone("not a number") and not is_cn_phone("")  # unparsable
    assert not is_cn_phone("12012345678")  # +86 but no such mobile prefix: parsed, yet not a valid number
    assert not is_cn_phone("+14155552671")  # a valid number, but not Chinese
    assert is_cn_phone("+86 10 6552 9988")  # Beijing landline, international form
    assert is_cn_phone("13812345678") and is_cn_phone("+8613812345678") and is_cn_phone("010-12345678")
    assert entities("联系电话13812345678") == [("CN_PHONE", "13812345678")]
    assert entities("call 139-1234-5678") == [("CN_PHONE", "13912345678")]
    assert entities("masked 138****5678") == []
    assert entities("study 12012345678") == []  # 120 is not a mobile prefix
    assert entities("p = 0.0123456789") == []


@pytest.mark.parametrize(("network", "number"), sorted(BANK_CARDS.items()))
def test_published_test_card_numbers_are_bank_cards(network: str, number: str):
    assert is_luhn(number) and is_bank_card(number)
    assert entities(f"卡号{number}") == [("BANK_CARD", number)]


@pytest.mark.parametrize("number", sorted(BANK_CARDS.values()))
def test_a_card_number_with_one_digit_changed_fails_luhn(number: str):
    for pos in range(len(number)):
        for d in "0123456789":
            if d != number[pos]:
                changed = number[:pos] + d + number[pos + 1:]
                assert not is_luhn(changed), changed


def test_luhn_known_answers():
    # 79927398713 is the textbook example (too short for a card, so padded with leading zeros).
    assert is_luhn("000079927398713") and not is_luhn("000079927398710")
    assert is_luhn("4111111111111111") and not is_luhn("4111111111111112")
    assert not is_luhn("4111111111111121")  # two adjacent digits transposed (11 -> 12 / 21)
    assert is_luhn("000000000000") and not is_luhn("00000000000")  # 12 digits at least
    assert not is_luhn("411111111111111a") and not is_luhn("")
    assert is_luhn("000000000018") and is_luhn("000000000059")  # 1*2=2 +8; 5*2=10 -> 1 +9: doubles above 9
    assert not is_luhn("000000000050")  # 5*2=10 reduced to 1: sum 1 (unreduced, 10 would pass)


@pytest.mark.parametrize("digits", ["０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९"],
                         ids=["fullwidth", "arabic_indic", "devanagari"])
def test_luhn_reads_digits_of_other_scripts_as_their_values(digits: str):
    # the same known answers written in other scripts' digits (Python's isdigit takes them): the doubling
    # table holds ASCII digits only, so they are read as their values first
    other = str.maketrans("0123456789", digits)
    for number, valid in (("4111111111111111", True), ("4111111111111112", False), ("000079927398713", True),
                          ("000000000050", False)):
        assert is_luhn(number.translate(other)) is valid, (digits[0], number)


def test_bank_card_length_and_network_prefixes():
    assert is_bank_card("378282246310005")  # 15 digits (Amex)
    assert is_luhn("41111111111114") and not is_bank_card("41111111111114")  # 14 digits
    assert is_bank_card("4111111111111111110")  # 19 digits
    assert is_luhn("41111111111111111115") and not is_bank_card("41111111111111111115")  # 20 digits
    # Luhn-valid 16-digit numbers at the edges of the Mastercard ranges 51-55 and 2221-2720
    assert not is_bank_card("5000000000000009") and is_bank_card("5100000000000008")
    assert is_bank_card("5500000000000004") and not is_bank_card("5600000000000003")
    assert not is_bank_card("2220000000000000") and is_bank_card("2221000000000009")
    assert is_bank_card("2720000000000005") and not is_bank_card("2721000000000004")
    assert not is_bank_card("6011111111111117")  # Discover: no prefix we recognise
    assert entities("count 1234567890123456") == []  # no network prefix / Luhn
    union = BANK_CARDS["unionpay-19"]
    not_luhn = union[:-1] + str((int(union[-1]) + 1) % 10)
    assert entities(f"卡号{not_luhn}") == []
    visa = BANK_CARDS["visa"]
    assert ("BANK_CARD", visa) in entities(f"card {visa[:4]} {visa[4:8]} {visa[8:12]} {visa[12:]}")


def test_a_resident_id_that_happens_to_pass_luhn_is_not_a_card():
    # 28+36+0+15+0+20+4+0+0+3+7+18+30+5+8+4+10 = 188; 188 mod 11 = 1 -> "0"; starts with 4 (a Visa prefix)
    rid = "440305200112311150"
    assert is_resident_id(rid) and is_luhn(rid) and not is_bank_card(rid)
    assert entities(f"证件 {rid}") == [("CN_RESIDENT_ID", rid)]


@pytest.mark.parametrize(("ssn", "valid"), [
    ("123-45-6789", True), ("001-01-0001", True), ("899-99-9999", True), ("665-12-3456", True),
    ("667-12-3456", True), ("000-12-3456", False), ("666-12-3456", False), ("900-12-3456", False),
    ("123-00-4567", False), ("123-45-0000", False), ("123456789", False), ("123-45-67-89", False),
])
def test_us_ssn_rules(ssn: str, valid: bool):
    assert is_us_ssn(ssn) is valid


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
    assert ("PERSON", "王小明") in entities("患者王小明，男，45岁")
    assert entities("患者的数量为120") == []  # label followed by ordinary words, no surname
    assert entities("医生建议复查") == []


def test_addresses():
    assert entities("住址：浙江省杭州市西湖区文三路90号") == [("ADDRESS", "浙江省杭州市西湖区文三路90号")]
    assert entities("lives at 221 Baker Street") == [("ADDRESS", "221 Baker Street")]
    assert entities("上海市的发病率为3.2%") == []


def test_masked_form_never_shows_the_value():
    m = find_all(f"id {STANDARD_EXAMPLE}")[0]
    assert m.masked == "11**************2X" and STANDARD_EXAMPLE not in m.masked
