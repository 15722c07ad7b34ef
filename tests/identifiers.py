"""Identifiers with known answers, shared by the tests: literal values checked by hand, never built with the
code under test (a checker that builds its own test data agrees with itself even when it is wrong).

Resident IDs (GB 11643-1999): weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 over the first 17 digits, the sum
mod 11 indexes "10X98765432". Each value below lists its 17 products, their sum, the sum mod 11 and the check
character that index gives. Together they cover all 11 remainders (so every check character is used once) and
their digits differ at every pair of positions whose weights differ, so swapping any two weights or any two
check characters makes at least one of them fail.
"""

from __future__ import annotations

# The standard's own examples (GB 11643-1999, appendix: 北京市朝阳区 1949-12-31 and 广东省汕头市潮阳县 1880-01-01).
STANDARD_EXAMPLE = "11010519491231002X"
# 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 -> "X"
STANDARD_EXAMPLE_1880 = "440524188001010014"
# 28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8 -> "4"

# check character -> an ID that ends in it (the comment shows the hand computation)
RESIDENT_IDS: dict[str, str] = {
    "X": STANDARD_EXAMPLE,
    "4": STANDARD_EXAMPLE_1880,
    "7": "310104197706251377",  # 21+9+0+5+0+16+2+9+42+21+0+54+20+25+8+12+14 = 258; mod 11 = 5 -> "7"
    "1": "440305200112311441",  # 28+36+0+15+0+20+4+0+0+3+7+18+30+5+8+16+8 = 198; mod 11 = 0 -> "1"
    "0": "330106198507181370",  # 21+27+0+5+0+24+2+9+48+15+0+63+10+40+8+12+14 = 298; mod 11 = 1 -> "0"
    "8": "510107196309041378",  # 35+9+0+5+0+28+2+9+36+9+0+81+0+20+8+12+14 = 268; mod 11 = 4 -> "8"
    "3": "650102196002291443",  # 42+45+0+5+0+8+2+9+36+0+0+18+20+45+8+16+8 = 262; mod 11 = 9 -> "3" (29 Feb 1960)
    "9": "420106199210031589",  # 28+18+0+5+0+24+2+9+54+6+7+0+0+15+8+20+16 = 212; mod 11 = 3 -> "9"
    "2": "370202195803161722",  # 21+63+0+10+0+8+2+9+30+24+0+27+10+30+8+28+4 = 274; mod 11 = 10 -> "2"
    "5": "210102201005301725",  # 14+9+0+5+0+8+4+0+6+0+0+45+30+0+8+28+4 = 161; mod 11 = 7 -> "5"
    "6": "530102198811201446",  # 35+27+0+5+0+8+2+9+48+24+7+9+20+0+8+16+8 = 226; mod 11 = 6 -> "6"
}

# The one used where any valid ID will do (Beijing Dongcheng, 1990-03-07, sequence 451):
# 7+9+0+5+0+4+2+9+54+0+0+27+0+35+32+20+2 = 206; 206 mod 11 = 8 -> "4"
RID = "110101199003074514"
# Same person, sequence 453: 7+9+0+5+0+4+2+9+54+0+0+27+0+35+32+20+6 = 210; 210 mod 11 = 1 -> "0"
RID_2 = "110101199003074530"

# Published card-network test numbers (Visa, Mastercard incl. the 2-series, Amex, JCB, UnionPay 16 and 19 digits);
# all pass Luhn and carry a prefix `is_bank_card` accepts.
BANK_CARDS = {
    "visa": "4111111111111111",
    "visa-2": "4012888888881881",
    "visa-debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "mastercard-51": "5105105105105100",
    "mastercard-2series": "2223003122003222",
    "amex": "378282246310005",
    "amex-2": "371449635398431",
    "amex-34": "343434343434343",
    "jcb": "3530111333300000",
    "unionpay": "6200000000000005",
    "unionpay-19": "6205500000000000004",
    "unionpay-2": "6250941006528599",
}


def faker_resident_ids(n: int, seed: int = 11643) -> list[str]:
    """Valid resident IDs from Faker's zh_CN provider: an implementation independent of ours."""
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    ids: list[str] = []
    while len(ids) < n:
        v = fake.ssn()
        if v not in ids:
            ids.append(v)
    return ids
