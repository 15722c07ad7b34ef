"""The record rules of egress_review/records.py on tables as an analysis leaves them: `df.head()` printed by
pandas into a log or notebook output (read back by egress_review/texttables.py, as the scan does), and a CSV of
means by site and year. test_records_decisions.py calls the rules on frames built for their boundaries; these
are the same decisions on the text a researcher actually exports. Each printed head below has no identifier,
no birth date and at most one personal attribute: one contact column or one date column alone is what makes it
records, so the rule that recognises that column is what the test proves.

The printouts are laid out as pandas' DataFrame.to_string() does: the index left-justified, every column
right-justified to its widest cell, columns two spaces apart, missing datetimes as NaT; Chinese headers are
padded by characters, not by display width (pandas' default, display.unicode.east_asian_width off).
"""

from __future__ import annotations

import pytest

from egress_review import records, tables
from egress_review.extract import read_table
from egress_review.findings import Finding
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def printed_records(printout: str) -> list[Finding]:
    """The printed-records findings of a text file holding `printout`, through the scan's text-table path."""
    found = tables.check_text_tables(printout.encode(), "txt", POLICY)
    return [f for f in found if f.rule == records.RecordRule.PRINTED_RECORDS]


def columns_named(finding: Finding) -> str:
    """The columns a printed-records finding names ('printed frame with index 0..4 and columns a, b: ...')."""
    return finding.detail.split(" and columns ", 1)[1].split(": individual records", 1)[0]


# --- contact details by name ---------------------------------------------------------------------------------------

NAME_HEAD = """\
        name  ward  los_days
0  Wang Fang    A3         4
1   Li Qiang    B1        12
2  Zhang Min    A3         7
3  Chen Jing    C2         3
4   Liu Yang    B1         9
"""

TEL_HEAD = """\
           tel  sex  ward
0  13812345678    F    A3
1  13998765432    M    B1
2  13700001111    F    A3
"""

MOBILE_HEAD = """\
        mobile  sex  ward
0  07700900123    F    A3
1  07700900456    M    B1
2  07700900789    F    A3
"""

HOME_ADDRESS_HEAD = """\
    home_address  ward  los_days
0  12 Elm Street    A3         4
1    3 Mill Lane    B1        12
2   45 High Road    A3         7
"""

# 'address' is also a personal attribute; one attribute alone makes no record, so it blocks as a contact detail
ADDRESS_HEAD = """\
         address  ward  los_days
0  12 Elm Street    A3         4
1    3 Mill Lane    B1        12
2   45 High Road    A3         7
"""

CONTACT_NAME_HEAD_ZH = """\
   联系人姓名  科室  住院天数
0     王芳  内科     4
1     李强  外科    12
2     张敏  内科     7
"""

BIRTHPLACE_HEAD_ZH = """\
   出生地  科室  住院天数
0   广州  内科     4
1   北京  外科    12
2   上海  内科     7
"""


CONTACT_HEADS = [NAME_HEAD, TEL_HEAD, MOBILE_HEAD, HOME_ADDRESS_HEAD, ADDRESS_HEAD, CONTACT_NAME_HEAD_ZH,
                 BIRTHPLACE_HEAD_ZH]
# ids in ASCII: an id pytest has to escape cannot be selected by node id (tests/conftest.py)
CONTACT_IDS = ["name", "tel", "mobile", "home_address", "address", "contact_name_zh", "birthplace_zh"]


# the finding names the contact column first, then the personal attributes beside it (the phone heads' 'sex')
NAMED = ["name", "tel, sex", "mobile, sex", "home_address", "address", "联系人姓名", "出生地"]


@pytest.mark.parametrize(("printout", "columns"), list(zip(CONTACT_HEADS, NAMED, strict=True)), ids=CONTACT_IDS)
def test_a_printed_pandas_head_whose_only_personal_column_is_a_name_phone_address_or_birthplace_blocks(
        printout: str, columns: str):
    found = printed_records(printout)
    assert [(f.verdict.value, columns_named(f)) for f in found] == [("block", columns)]


def without_first_column(printout: str) -> str:
    """The printout with its first column cut out (the index is one character wide in every head here)."""
    lines = printout.splitlines()
    first = lines[0].split()[0]
    end = lines[0].index(first) + len(first)
    return "".join(line[:1] + line[end:] + "\n" for line in lines)


@pytest.mark.parametrize("printout", CONTACT_HEADS, ids=CONTACT_IDS)
def test_the_same_printed_head_without_its_contact_column_is_no_printed_record(printout: str):
    """The blocks above come from the contact column: the rest of each head (a ward, a length of stay, one sex
    column) is no record on its own."""
    rest = without_first_column(printout)
    assert len(rest.splitlines()[0].split()) == len(printout.splitlines()[0].split()) - 1
    assert printed_records(rest) == []


# --- a date column with a single date shown ------------------------------------------------------------------------

DISCHARGES_HEAD = """\
   ward  bed  discharge_date
0    A3   12             NaT
1    B1    4      2021-03-09
2    A3    7             NaT
3    C2    1             NaT
4    B1    9             NaT
"""


def test_a_printed_head_whose_date_column_shows_one_date_among_missing_ones_blocks():
    """Four of five patients not yet discharged: the one date shown is still a date of a person's stay."""
    found = printed_records(DISCHARGES_HEAD)
    assert [(f.verdict.value, columns_named(f)) for f in found] == [("block", "discharge_date")]
    assert printed_records(DISCHARGES_HEAD.replace("2021-03-09", "       NaT")) == []


# --- a column named as a statistic is no key, whatever its type ----------------------------------------------------

def mean_costs_csv() -> bytes:
    """Mean cost per admission, in whole pounds, for six hospitals over five years: every mean different."""
    sites = ["RAL", "UCLH", "KCH", "GSTT", "STG", "BARTS"]
    rows = [f"{site},{year},{3120 + 37 * (5 * i + (year - 2019))}" for i, site in enumerate(sites)
            for year in range(2019, 2024)]
    return ("site,year,mean_cost_gbp\n" + "\n".join(rows) + "\n").encode()


def test_a_csv_of_whole_pound_means_by_site_and_year_is_no_record_shape():
    """Read as integers, the 30 distinct means would be a third key: 30 unique rows of 6 x 5 x 30 possible
    combinations (3.3 %), a record shape. Named as a statistic, they are a measure: two keys are no shape."""
    df = read_table(mean_costs_csv(), "csv")
    assert df is not None and df["mean_cost_gbp"].dtype.is_integer() and df.height == 30
    assert records.row_level(df, POLICY) == []
