"""The other identifier schemes at their edges: each value's check worked out by hand in a comment, and the
malformed inputs next to each rule (what mutation testing showed the known answers alone did not pin down)."""

from __future__ import annotations

import pytest

from enclave.pii.validators import (
    hk_id_check_char,
    is_foreign_permanent_id,
    is_hk_id,
    is_mo_id,
    is_nhs_number,
    is_resident_id,
    is_tw_id,
    is_unlisted_cn_mobile,
    nhs_check_digit,
)

CHECKS = "0123456789A"


def test_hong_kong_ids_may_be_written_with_spaces():
    # A123456: 36*9 + 10*8 + 1*7+2*6+3*5+4*4+5*3+6*2 = 481; 481 mod 11 = 8 -> 11 - 8 = 3
    assert is_hk_id("A123456 (3)") and is_hk_id("A 123456(3)") and is_hk_id("a123456(3)")


@pytest.mark.parametrize("body", [
    "ABC123456",  # three letters
    "12123456",   # digits where the letters go
    "1A123456",
    "ÄB123456",   # a letter, but not an ASCII one
    "A12345X",    # a letter among the six digits
    "A1234X6",
])
def test_malformed_hong_kong_ids_fail_whatever_the_check_character(body: str):
    assert not any(is_hk_id(f"{body}({c})") for c in CHECKS)


def test_hong_kong_check_needs_one_or_two_letters_and_six_digits():
    assert hk_id_check_char("A", "123456") == "3"
    with pytest.raises(ValueError):
        hk_id_check_char("A", "12345")
    assert not is_hk_id("123") and not is_hk_id("")


@pytest.mark.parametrize(("value", "why"), [
    # letter -> two digits (tens weight 1, units weight 9); 1 2 3 4 5 6 7 8 weighted 8..1 = 120
    ("B123456780", "B = 11: 1 + 1*9 = 10; 10 + 120 + 0 = 130"),
    ("Z123456780", "Z = 33 (out of order): 3 + 3*9 = 30; 30 + 120 + 0 = 150"),
    ("I123456781", "I = 34 (out of order): 3 + 4*9 = 39; 39 + 120 + 1 = 160"),
    ("W123456789", "W = 32 (out of order): 3 + 2*9 = 21; 21 + 120 + 9 = 150"),
])
def test_taiwan_ids_with_letters_whose_units_digit_counts(value: str, why: str):
    assert is_tw_id(value), why
    assert not is_tw_id(value[:9] + str((int(value[9]) + 1) % 10)), why


@pytest.mark.parametrize("value", [
    "A1234567X9",   # a letter among the digits
    "A12345678X",
    "1123456789",   # no area letter
    "A12345678",    # nine characters
    "A1234567890",  # eleven
    "A323456789",   # second digit must be 1, 2, 8 or 9
])
def test_malformed_taiwan_ids_are_refused(value: str):
    assert not is_tw_id(value)


def test_macau_ids_by_shape_at_each_position():
    assert is_mo_id("1234567(8)") and is_mo_id("1234567 (8)") and is_mo_id("7 123456(1)")
    assert not is_mo_id("X234567(8)")  # first digit 1, 5 or 7
    assert not is_mo_id("1A34567(8)")  # six digits follow
    assert not is_mo_id("1234567[8]") and not is_mo_id("1234567(8")


def test_foreign_permanent_id_new_form_with_x_and_every_date_field():
    # 9 11 840 19801015 107: 63+9+10+40+32+0+2+9+48+0+7+0+10+25+8+0+14 = 277; 277 mod 11 = 2 -> "X"
    assert is_foreign_permanent_id("91184019801015107X") and is_foreign_permanent_id("91184019801015107x")
    assert not is_foreign_permanent_id("911840198010151070")
    # 9 11 840 19800320 001: 63+9+10+40+32+0+2+9+48+0+0+27+20+0+0+0+2 = 262; 262 mod 11 = 9 -> "3" (day 20)
    assert is_foreign_permanent_id("911840198003200013")


def test_a_mainland_resident_id_is_not_a_foreign_permanent_id():
    # 1 11011 19900101 001: 7+9+10+0+8+4+2+9+54+0+0+9+0+5+0+0+2 = 119; 119 mod 11 = 9 -> "3"
    assert is_resident_id("111011199001010013") and not is_foreign_permanent_id("111011199001010013")


@pytest.mark.parametrize("value", [
    "USA118010100015",  # 1980-10-10: months and days with a zero in them
    "USA119602290015",  # 1996-02-29: a leap day of the 1900s
    "USA110002290015",  # 2000-02-29: only valid read as the 2000s (1900 was not a leap year)
    "usa118001010015",
])
def test_old_form_foreign_permanent_ids_read_the_date_as_yymmdd(value: str):
    assert is_foreign_permanent_id(value)


def test_old_form_foreign_permanent_ids_in_another_scripts_digits_still_count():
    assert is_foreign_permanent_id("USA\uff1118001010015")  # a full-width 1 in the province


@pytest.mark.parametrize("value", [
    "USA119702290015",  # 1997-02-29
    "USA118013010015",  # month 13
    "123118001010015",  # digits where the nationality letters go
    "ÄÖÜ118001010015",  # letters, but not ASCII ones
    "USAA18001010015",  # a letter in the province
    "USA998001010015",  # no province 99
    "hello",
    "",
])
def test_malformed_foreign_permanent_ids_are_refused(value: str):
    assert not is_foreign_permanent_id(value)


def test_nhs_numbers_at_the_ends_of_the_check():
    # 401023213 (NHS Digital's test number): 40+0+8+0+12+15+8+3+6 = 92; 92 mod 11 = 4 -> 11 - 4 = 7
    assert is_nhs_number("4010232137") and is_nhs_number("401-023-2137") and is_nhs_number("401 023 2137")
    # 943476508: 90+36+24+28+42+30+20+0+16 = 286; 286 mod 11 = 0 -> 11, written 0
    assert nhs_check_digit("943476508") == 0 and is_nhs_number("9434765080")
    # 401023217: 40+0+8+0+12+15+8+3+14 = 100; 100 mod 11 = 1 -> 10: never issued, no check digit
    assert nhs_check_digit("401023217") is None
    assert not any(is_nhs_number(f"401023217{d}") for d in "0123456789")
    with pytest.raises(ValueError):
        nhs_check_digit("40102321")


@pytest.mark.parametrize(("value", "unlisted"), [
    ("14907806671", True),      # China Telecom's 149 segment: possible, not in libphonenumber's CN metadata
    ("+8614907806671", True),
    ("13812345678", False),     # a listed mobile is a valid number, not an unlisted one
    ("1490780667", False),      # ten digits: possible as a CN number, but no mobile
    ("149078066712", False),    # twelve digits
    ("+5511012345678", False),  # eleven digits, possible and unlisted, but Brazilian
    ("+85291234567", False),    # Hong Kong
    ("not a number", False),
    ("", False),
])
def test_unlisted_cn_mobiles_are_eleven_digit_possible_unlisted_numbers_of_china(value: str, unlisted: bool):
    assert is_unlisted_cn_mobile(value) is unlisted
