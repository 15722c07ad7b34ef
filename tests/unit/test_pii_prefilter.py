"""The fast table scan finds exactly what reading every cell with every recogniser finds, and stays fast."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
from faker import Faker
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import SUPPORTED_REGIONS, country_code_for_region

from egress_review.checks import FREE_TEXT, NAME_HINT, pii_in_table
from enclave.pii import engine, names, prefilter
from enclave.pii.engine import analyze, quick
from enclave.pii.entities import Entity
from enclave.pii.normalize import _fold_char
from enclave.pii.prefilter import candidates, phone_cells
from tests.identifiers import BANK_CARDS, RID, faker_resident_ids
from tests.unit.name_corpus import corpus

ROOT = Path(__file__).resolve().parents[2]
DISGUISED = [
    "香港身份证 A123456(3)", "A123456(3)", "AB9876543", "身分證字號 F131104093", "F131104093", "澳门身份证 7123456(1)",
    "永久居留证 911840198001010013", "card USA118001010015", "居住证 810000198511110189", "NHS number 943 476 5919",
    "943 476 5919", f"ID {RID}", f"身份证号{RID}", "".join(chr(ord(c) + 0xFEE0) for c in RID),
    f"{RID[:4]} {RID[4:8]} {RID[8:12]} {RID[12:]}", "一三八一二三四五六七八", "壹叁捌 壹贰叁肆 伍陆柒捌",
    "one three eight one two three four five six seven eight", "".join(f"&#{ord(c)};" for c in "13812345678"),
    "\\u0031\\u0033\\u0038\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036\\u0037\\u0038", "Е12345678", "passport E12345678",
    "138\u200b1234\u200b5678", "١٣٨١٢٣٤٥٦٧٨", "13812345678abc", "QQ：12345678", "qq号 987654321",
    "微信号: wxid_abcdefgh12", "wechat: zhang_wei88", "WX：lily_2023", "MRN: A1234567", "住院号 2023001234",
    "病案号：A12345", "DOB 1990-03-07", "出生日期 1990年3月7日", "京A12345", "粤B·D12345", "北京市朝阳区建国路88号",
    "12 Baker Street", "telegram @john_doe", "SSN 123-45-6789", "ssn 078-05-1121", "123456789",
    "call (212) 555-0187 or +44 20 7946 0958 about John Smith's results", "Phone: 020 7946 0958 ext. 123 for the team",
    "Jane Doe: 212-555-0187ext123, seen at the outpatient clinic", "jane.doe@hospital.example.org",
    "Contact Mary Jones at mr.x@mail.co.uk about the cohort today", "name: Alice Wong", "İnterviewee: Xq Yz",
    "Interviewee\x1c: Bo Li", "社保卡号 12345678901", "医保卡号: ABC123456789",
    "患者：王小明，手机１３８ １２３４ ５６７８",
    "Dr. Watson saw Mrs O'Brien", "Zhāng Wěi and ZHANG Wei", "Ouyang Xiaoming was seen in May",
]
NEGATIVES = [
    "Study period 2019-01-01 to 2023-12-31; mean 54.2 (SD 12.1); n = 1234; p < 0.001", "phone 138****5678",
    "ICD-10 E11.9", "HbA1c 7.2%", "BP 150/95 mmHg", "Parkinson's disease excluded.", "Mayo Clinic",
    "St Thomas' Hospital",
    "随访电话 010-****-1234。", "病情稳定，建议三个月后复查。", "batch 20230115093000123", "Follow-up 2023-05-16.",
]


def _notes(n: int) -> list[str]:
    """Notes shaped like the benchmark's: fragments in both languages, names without cue words in some."""
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(5)
    en.seed_instance(5)
    out = []
    for i in range(n):
        place = ["北京协和医院", "Mayo Clinic", "Royal Infirmary", "华西医院心内科"][i % 4]
        text = (f"{'Presented with chest pain' if i % 2 else '胸痛'} {i % 29} days; seen at {place}; "
                f"LDL {i % 7}.{i % 10} mmol/L; Follow-up 2023-0{i % 9 + 1}-1{i % 9}.")
        name = [zh.name, zh.romanized_name, lambda: f"{en.first_name()} {en.last_name()}", lambda: ""][i % 4]()
        out.append(f"{name}因{text}" if i % 4 == 0 else f"{name} reports: {text}" if name else text)
    return out


def _cells() -> list[str]:
    prose = [text for lang in ("zh", "pinyin", "en") for text, _ in corpus(lang, 80)]
    ids = [f"卡号{c}" for c in BANK_CARDS.values()] + faker_resident_ids(20)
    return DISGUISED + NEGATIVES + prose + ids + _notes(120)


def _findings_reading_every_cell(cells: list[str]) -> list[tuple[int, str, str, str]]:
    text = pl.Series(cells)
    free = (text.str.contains(NAME_HINT) & (text.str.len_chars() > FREE_TEXT) & text.str.contains(" ", literal=True))
    out = []
    for row, (value, is_free) in enumerate(zip(cells, free.to_list(), strict=True)):
        for m in (analyze(value) if is_free else quick(value)):
            out.append((row + 1, str(m.entity), m.rule, f"{m.entity} {m.masked}"))
    return sorted(out)


def test_table_scan_finds_what_reading_every_cell_with_every_recogniser_finds():
    cells = _cells()
    found = pii_in_table(pl.DataFrame({"t": cells}))
    fast = sorted((f.location["row"], str(f.entity), f.rule, f.detail) for f in found if "header" not in f.location)
    assert fast == _findings_reading_every_cell(cells)
    assert {e for _r, e, _rule, _m in fast} >= {Entity.HK_ID, Entity.TW_ID, Entity.PERSON, Entity.PHONE, Entity.EMAIL,
                                                Entity.CN_RESIDENT_ID, Entity.CN_PHONE, Entity.MESSAGING_HANDLE}


def test_prose_holding_any_kind_of_identifier_is_read_as_reading_every_cell_finds():
    """Long cells (free text) pass the cheap gate before the filters' alternation: it must keep every one
    that holds anything, whatever the kind and however disguised."""
    cells = [f"Notes from the follow-up clinic this morning: {text}; nothing else to add." for text in DISGUISED]
    cells += [f"{text} 见门诊记录，病情稳定，建议三个月后复查，随访。" for text in DISGUISED]
    found = pii_in_table(pl.DataFrame({"t": cells}))
    fast = sorted((f.location["row"], str(f.entity), f.rule, f.detail) for f in found if "header" not in f.location)
    assert fast == _findings_reading_every_cell(cells)
    assert len({r for r, *_ in fast}) >= 0.9 * len(cells)


def test_integer_columns_are_read_from_the_shortest_digit_identifier_up():
    values = [13812345678, 14907806671, 110101199003074514, int(BANK_CARDS["unionpay-19"]), 1234567890, 138123456,
              0, -42, 9434765919, 123456789]
    found = {(f.location["row"], f.entity) for f in pii_in_table(pl.DataFrame({"n": values}))}
    assert found == {(i + 1, m.entity) for i, v in enumerate(values) for m in quick(str(v))}
    assert {e for _r, e in found} == {Entity.CN_PHONE, Entity.PHONE, Entity.CN_RESIDENT_ID, Entity.BANK_CARD}


def test_a_cell_no_prefilter_picks_holds_nothing_any_recogniser_finds():
    cells = _cells()
    picked = set(candidates(pl.Series(cells), presidio=pl.Series([True] * len(cells)))["row"].to_list())
    missed = [c for i, c in enumerate(cells) if i not in picked and (quick(c) or analyze(c))]
    assert missed == []
    assert len(picked) < len(cells)  # the filters do leave cells out (the negatives)


def test_an_identifier_alone_in_an_ascii_cell_is_found():
    found = {(f.location["row"], f.entity) for f in pii_in_table(pl.DataFrame({"id": ["A123456(3)", "F131104093",
                                                                                      "7123456(1)", "ok"]}))}
    assert found == {(1, Entity.HK_ID), (2, Entity.TW_ID), (3, Entity.MO_ID)}


def test_segmentation_with_the_looked_up_prefix_dictionary_is_jiebas_own():
    import jieba

    runs = [r for text, _ in corpus("zh", 120) for r in names.CJK.findall(text) if len(r) >= 2]
    runs += [r for text in NEGATIVES + DISGUISED for r in names.CJK.findall(text) if len(r) >= 2]
    runs += ["\u9fd6\u9fe0张伟", "张\u9ff0伟说", "\u9fffx"]  # beyond jieba's block pattern (U+9FD6-U+9FFF)
    jieba.initialize()
    for run in runs:
        pos, want = 0, []
        for w in jieba.dt.cut(run, HMM=False):
            want.append((pos, pos + len(w), w))
            pos += len(w)
        assert names._tokens(run) == want, run
        assert all(names._jieba().FREQ.get(w, 0) == jieba.dt.FREQ.get(w, 0) for _s, _e, w in want)
    assert names._jieba().total == jieba.dt.total


def test_phone_gate_needs_no_more_digits_than_the_shortest_valid_number():
    def shortest(region: str) -> int:
        md = PhoneMetadata.metadata_for_region(region)
        descs = [md.general_desc, md.fixed_line, md.mobile, md.toll_free, md.premium_rate, md.shared_cost,
                 md.personal_number, md.voip, md.pager, md.uan, md.voicemail]
        return min((n for d in descs if d and d.possible_length for n in d.possible_length if n > 0), default=99)

    international = min(len(str(country_code_for_region(r))) + shortest(r) for r in SUPPORTED_REGIONS)
    assert min(international, *(shortest(r) for r in engine.PHONE_REGIONS)) >= engine.PHONE_MIN_DIGITS


@pytest.mark.parametrize("text", [
    "call (212) 555-0187 today", "+44 20 7946 0958", "Phone: 020 7946 0958 ext. 123", "212-555-0187ext123",
    "tel:+1-212-555-0187;ext=55", "07700 900123 or 07700 900456", "+86 138 1234 5678", "1-800-555-0199",
    "seen 2023-05-16 and 2023-05-17", "(020)7946-0958.", "+683 4002", "ids 12345678901234 and 212.555.0187",
    "212–555–0187 (en dashes)", "２１２ ５５５ ０１８７", "x" * 40 + " 212 555 0187 " + "y" * 80,
    "Tel: +1 (212) 555-0187 ext 55", "(+44) (0)20 7946 0958", "phone:   +   44 20 7946 0958", "2023-05-16 10:30",
    "ref 212 555 0187, ext. 12", "[+86] 138 1234 5678", "a(212) 555-0187", "page 212-555-0187/8",
    "12 ------ 212 555 0187",
])
def test_phones_behind_the_gate_are_presidios(text: str):
    want = sorted({(m.start, m.end) for region in engine.PHONE_REGIONS
                   for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=engine.PHONE_LENIENCY)})
    got = sorted({(s, e) for kind, s, e, _score, _rule in engine._presidio_results(text) if kind == "PHONE_NUMBER"})
    assert got == want


def test_fold_leaves_chinese_characters_alone():
    # prefilter.folded skips U+4E00-U+9FFF when it looks for characters fold changes
    assert all(_fold_char(chr(c)) == chr(c) for c in range(0x4E00, 0xA000))


def test_a_table_scan_loads_no_spacy_presidio_or_full_jieba_dictionary():
    code = """
import json, sys
import polars as pl
from egress_review.checks import pii_in_table
cells = ["张伟因胸痛入院; seen at Mayo Clinic; Follow-up 2023-05-16.", "Zhang Wei was seen at Royal Infirmary today",
         "Jonathan Simpson reports: chest pain for 3 days; call 212-555-0187", "身份证 110101199003074514"]
found = sorted({f.entity for f in pii_in_table(pl.DataFrame({"note": cells}))})
import jieba
print(json.dumps({"found": found, "spacy": "spacy" in sys.modules, "presidio": "presidio_analyzer" in sys.modules,
                  "jieba_full": jieba.dt.initialized}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(out.stdout)
    assert result == {"found": ["CN_RESIDENT_ID", "PERSON", "PHONE"], "spacy": False, "presidio": False,
                      "jieba_full": False}


def test_a_mobile_number_in_a_segment_newer_than_libphonenumbers_metadata_goes_to_review():
    # 149 is China Telecom's segment; libphonenumber's CN metadata does not list it as valid
    assert not phonenumbers.is_valid_number(phonenumbers.parse("14907806671", "CN"))
    found = [(f.entity, f.rule, f.verdict.value) for f in pii_in_table(pl.DataFrame({"mobile": ["14907806671"]}))]
    assert found == [(Entity.PHONE, "cn-mobile-unlisted", "review")]
    assert [m.rule for m in quick("手机 13812345678")] == ["cn-phone"]  # a listed one is still a CN phone


def test_pinyin_surnames_read_from_the_tables_are_pypinyins():
    from pypinyin import Style, pinyin

    want = set()
    for surname in names.SURNAMES | names.COMPOUND_SURNAMES:
        combos = [""]
        for options in pinyin(surname, style=Style.NORMAL, heteronym=True):
            combos = [c + o for c in combos for o in options]
        want.update(c.replace("ü", "v") for c in combos)
    assert names.pinyin_surnames() == want
    assert "ouyang" in want and "chanyu" in want and "danyu" not in want  # 单于 by its phrase reading


def _phone_soup(seed: int, n: int) -> list[str]:
    """Cells of digits, phone punctuation, plus signs, letters and time stamps in every arrangement."""
    rng = random.Random(seed)
    pieces = [*"0123456789" * 4, *"-.()+x /:［＋ ,;a中", "12:34", ":59", "+1", "+44 20 ", "(0)", "-----", "ext. 12",
              "2026-11-05 12:36:54", "tel"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(3, 40))) for _ in range(n)]


def test_the_phone_windows_polars_cuts_pick_every_cell_pythons_phone_scan_would_read():
    cells = _phone_soup(5, 6000) + DISGUISED + NEGATIVES + _notes(40)
    picked = phone_cells(pl.Series(cells)).to_list()
    assert [c for c, p in zip(cells, picked, strict=True) if not p and engine._may_hold_phone(c)] == []
    # and a log line whose only long run of digits is its time stamp is not picked: one question per hour
    assert phone_cells(pl.Series(["2026-11-01 00:00:01 INFO step 1 loss=0.4524 batch 686963 took 998485 us"])
                       ).to_list() == [False]


def test_folding_writes_every_decimal_digit_python_matches_as_an_ascii_digit():
    # the identifier filters read \d as [0-9] on folded text (prefilter.on_folded): sound only if this holds
    import unicodedata

    digits = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd"]
    assert len(digits) > 600 and re.fullmatch(r"\d+", "".join(digits))
    folded = prefilter.folded(pl.Series(digits)).to_list()
    assert folded == [str(unicodedata.decimal(c)) for c in digits]
    assert prefilter.on_folded(r"[\dX]\d{3}\\d") == r"[[0-9]X][0-9]{3}\\d"
