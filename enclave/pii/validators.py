"""Check-digit and structure validation: what turns a digit pattern into an identifier."""

from __future__ import annotations

from datetime import date

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


def is_luhn(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def is_bank_card(digits: str) -> bool:
    """16-19 digits with a card-network prefix (UnionPay 62, Visa, Mastercard, Amex, JCB) and Luhn."""
    if not (15 <= len(digits) <= 19 and digits.isdigit()):
        return False
    prefix_ok = (digits.startswith(("62", "4", "34", "37", "35")) or 51 <= int(digits[:2]) <= 55
                 or 2221 <= int(digits[:4]) <= 2720)
    return prefix_ok and is_luhn(digits) and not is_resident_id(digits)


def is_cn_phone(value: str) -> bool:
    import phonenumbers

    try:
        num = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(num) and num.country_code == 86


def is_us_ssn(value: str) -> bool:
    parts = value.split("-")
    if len(parts) != 3:
        return False
    area, group, serial = parts
    return (area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000")
