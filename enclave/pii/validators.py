"""Check-digit and structure validation: what turns a digit pattern into an identifier."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

# First two digits of GB/T 2260 region codes (provinces), plus 71 Taiwan, 81/82/83 for the residence
# permits of Hong Kong, Macau and Taiwan residents.
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        born = date(y, m, d)
    except ValueError:
        return False
    return date(1880, 1, 1) <= born <= date.today()


def resident_id_check_char(first17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def is_resident_id(value: str) -> bool:
    """GB 11643-1999: region, birth date and check character (18 chars), or the old 15-digit form."""
    v = value.strip().upper()
    if len(v) == 18:
        if not (v[:17].isdigit() and (v[17].isdigit() or v[17] == "X")):
            return False
        if int(v[:2]) not in PROVINCES and v[0] != "9":  # 9xxxxx: foreign permanent residents (2023)
            return False
        if not _valid_date(int(v[6:10]), int(v[10:12]), int(v[12:14])):
            return False
        return resident_id_check_char(v[:17]) == v[17]
    if len(v) == 15 and v.isdigit():
        return int(v[:2]) in PROVINCES and _valid_date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
    return False


_DOUBLED = str.maketrans("0123456789", "0246813579")  # a digit doubled, its two digits summed (2*7=14: 5)


def is_luhn(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 12:
        return False
    plain = digits if digits.isascii() else "".join(str(int(c)) for c in digits)
    backwards = plain[::-1]  # every second digit from the right is doubled
    return (sum(map(int, backwards[::2])) + sum(map(int, backwards[1::2].translate(_DOUBLED)))) % 10 == 0


def is_bank_card(digits: str) -> bool:
    """16-19 digits with a card-network prefix (UnionPay 62, Visa, Mastercard, Amex, JCB) and Luhn."""
    if not (15 <= len(digits) <= 19 and digits.isdigit()):
        return False
    prefix_ok = (digits.startswith(("62", "4", "34", "37", "35")) or 51 <= int(digits[:2]) <= 55
                 or 2221 <= int(digits[:4]) <= 2720)
    return prefix_ok and is_luhn(digits) and not is_resident_id(digits)


BARE_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def _parsed(value: str) -> Any:
    """`phonenumbers.parse(value, "CN")`. An 11-digit number starting 1[3-9] with nothing around it is the
    national number itself (CN's national prefix is 0, and its carrier prefix 179xx is not stripped where
    what is left is too short for a number): built directly, parse's normalising and prefix matching are
    most of the time a phone column costs. A test holds it to parse's result on every prefix."""
    import phonenumbers

    if len(value) == 11 and value.isascii() and BARE_MOBILE.fullmatch(value):
        return phonenumbers.PhoneNumber(country_code=86, national_number=int(value))
    return phonenumbers.parse(value, "CN")


@lru_cache(maxsize=1 << 16)
def _cn_number(value: str) -> tuple[bool, bool]:
    """(valid CN number, possible 11-digit CN mobile libphonenumber does not list), parsed once per value."""
    import phonenumbers

    try:
        num = _parsed(value)
    except phonenumbers.NumberParseException:
        return False, False
    valid = phonenumbers.is_valid_number(num) and num.country_code == 86
    unlisted = (not valid and num.country_code == 86 and len(str(num.national_number)) == 11
                and phonenumbers.is_possible_number(num))
    return valid, unlisted


def is_cn_phone(value: str) -> bool:
    return _cn_number(value)[0]


def is_unlisted_cn_mobile(value: str) -> bool:
    """An 11-digit 1[3-9] number libphonenumber does not list as a valid CN number but finds possible:
    mobile segments newer than its metadata (149, China Telecom's) or not yet issued. Someone must look."""
    return _cn_number(value)[1]


def is_us_ssn(value: str) -> bool:
    parts = value.split("-")
    if len(parts) != 3:
        return False
    area, group, serial = parts
    return (area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000")


def hk_id_check_char(prefix: str, digits: str) -> str:
    """HKID: letters A=10..Z=35 (a one-letter prefix is padded with a space worth 36), then six digits,
    weighted 9..2; the check makes the weighted sum with it a multiple of 11 (10 is written A)."""
    letters = prefix.rjust(2)
    values = [36 if c == " " else ord(c) - ord("A") + 10 for c in letters] + [int(d) for d in digits]
    check = -sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True)) % 11
    return "A" if check == 10 else str(check)


def is_hk_id(value: str) -> bool:
    """`A123456(3)` or `XY1234567`: one or two letters, six digits, a mod-11 check (brackets optional)."""
    v = value.upper().replace("(", "").replace(")", "").replace(" ", "")
    prefix = v[:-7]
    if not (1 <= len(prefix) <= 2 and prefix.isalpha() and prefix.isascii() and v[-7:-1].isdigit()):
        return False
    return hk_id_check_char(prefix, v[-7:-1]) == v[-1]


# Taiwan: the letter for the household-registration area stands for two digits (I, O, W, X, Y, Z out of order).
_TW_LETTERS = {c: n for n, c in enumerate("ABCDEFGHJKLMNPQRSTUVXYWZIO", start=10)}


def is_tw_id(value: str) -> bool:
    """Taiwan national ID (A123456789) and the 2021 resident certificate for foreigners (A800000014):
    letter as two digits weighted 1 and 9, the next eight digits 8..1, the check digit 1; sum mod 10 is 0."""
    v = value.upper()
    if len(v) != 10 or v[0] not in _TW_LETTERS or not v[1:].isdigit() or v[1] not in "1289":
        return False
    tens, units = divmod(_TW_LETTERS[v[0]], 10)
    total = tens + units * 9 + sum(int(d) * w for d, w in zip(v[1:9], range(8, 0, -1), strict=True)) + int(v[9])
    return total % 10 == 0


def is_mo_id(value: str) -> bool:
    """Macau BIR number `1234567(8)`: first digit 1, 5 or 7, six digits, one check digit in brackets.

    The check-digit rule is not published, so the shape (with the brackets) is what identifies it.
    """
    v = value.replace(" ", "")
    return len(v) == 10 and v[0] in "157" and v[1:7].isdigit() and v[7] == "(" and v[8].isdigit() and v[9] == ")"


def is_foreign_permanent_id(value: str) -> bool:
    """外国人永久居留身份证. New form (2023-12): 9, province of issue, 3-digit nationality, birth date,
    sequence, and the resident-ID check character. Old form (2017): 3-letter nationality, 2-digit province,
    YYMMDD, 3-digit sequence, 1 check digit (rule not published: shape, province and date must hold)."""
    v = value.strip().upper()
    if len(v) == 18 and v[0] == "9" and v[:17].isdigit():
        return (int(v[1:3]) in PROVINCES and _valid_date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
                and resident_id_check_char(v[:17]) == v[17])
    if len(v) == 15 and v[:3].isalpha() and v[:3].isascii() and v[3:].isdigit():
        yy, mm, dd = int(v[5:7]), int(v[7:9]), int(v[9:11])
        return int(v[3:5]) in PROVINCES and (_valid_date(1900 + yy, mm, dd) or _valid_date(2000 + yy, mm, dd))
    return False


def nhs_check_digit(first9: str) -> int | None:
    """NHS number: weights 10..2 over nine digits, 11 minus the sum mod 11 (11 becomes 0, 10 is never issued)."""
    check = 11 - sum(int(d) * w for d, w in zip(first9, range(10, 1, -1), strict=True)) % 11
    return None if check == 10 else check % 11


def is_nhs_number(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    return len(digits) == 10 and digits.isdigit() and nhs_check_digit(digits[:9]) == int(digits[9])
