"""presidio with our recognisers: offline, English and Chinese names in free text, precision."""

from __future__ import annotations

import socket

import pytest

from enclave.pii import engine
from tests.identifiers import RID


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("network call attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def entities(text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.value) for m in engine.analyze(text)]


def test_works_with_no_network_at_all(no_network: None):
    engine.analyzer.cache_clear()
    found = entities("Contact jane.doe@hospital.example.org or mr.x@mail.co.uk about the cohort.")
    assert ("EMAIL", "jane.doe@hospital.example.org") in found and ("EMAIL", "mr.x@mail.co.uk") in found


def test_english_names_in_free_text():
    found = entities("Patient John Smith was seen by Dr. Watson; next of kin: Mary O'Brien (Mrs Mary O'Brien).")
    names = {v for e, v in found if e == "PERSON"}
    assert {"John Smith", "Dr. Watson"} <= names and any("O'Brien" in n for n in names)


def test_english_name_hard_negatives():
    text = ("The Table Shows Mean Age by Group. New York and Los Angeles sites. Model Performance was good. "
            "Cox Proportional Hazards. Kaplan Meier curves. Figure One.")
    assert [v for e, v in entities(text) if e == "PERSON"] == []


def test_chinese_text_ids_phones_and_names():
    rid = RID
    found = entities(f"患者：王小明，身份证号{rid}，手机１３８ １２３４ ５６７８，家属电话010-62345678。")
    kinds = {e for e, _ in found}
    assert {"CN_RESIDENT_ID", "CN_PHONE", "PERSON"} <= kinds


def test_us_identifiers_and_phones():
    found = dict((e, v) for e, v in entities("SSN 123-45-6789, call (212) 555-0187 or +44 20 7946 0958"))
    assert found["US_SSN"] == "123-45-6789" and "PHONE" in found


def test_precision_study_dates_statistics_masked_and_invalid_numbers():
    text = ("Study period 2019-01-01 to 2023-12-31; mean 54.2 (SD 12.1); n = 1234; p < 0.001; "
            "HR 1.23 (95% CI 1.01-1.50); phone 138****5678; id 110105194912310021; batch 20230115093000123")
    assert entities(text) == []


def test_long_text_is_chunked_and_offsets_stay_right():
    rid = RID
    text = ("Mean length of stay 5.1 days in all groups.\n" * 7000) + f"ID {rid}\n"
    found = engine.analyze(text)
    assert [(m.entity, text[m.start:m.end]) for m in found] == [("CN_RESIDENT_ID", rid)]
