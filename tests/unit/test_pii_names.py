"""Person names in running text without cue words: precision and recall per language on a labelled set."""

from __future__ import annotations

import pytest

from enclave.pii.names import person_names
from tests.unit.name_corpus import corpus, precision_recall


@pytest.mark.parametrize(("language", "floor_p", "floor_r"), [("zh", 0.95, 0.9), ("pinyin", 0.95, 0.9),
                                                             ("en", 0.95, 0.9)])
def test_names_in_prose_are_found_with_few_false_hits(language: str, floor_p: float, floor_r: float):
    precision, recall, misses = precision_recall(corpus(language, 300), person_names)
    print(f"{language}: precision {precision:.3f} recall {recall:.3f}")
    assert recall >= floor_r and precision >= floor_p, misses[:20]


def test_hospitals_departments_drugs_and_eponyms_are_not_names():
    for text in ("北京协和医院心内科给予二甲双胍", "华山医院神经内科", "李斯特菌感染", "帕金森病", "高血压病史",
                 "Mayo Clinic", "Addison's disease", "Parkinson's disease", "in May Patients", "Hong Kong residents"):
        assert person_names(text) == [], text


def test_compound_and_rare_surnames_and_pinyin_forms():
    found = {m.value for m in person_names("欧阳娜娜和诸葛明亮昨天来复诊，司马光说还好。")}
    assert {"欧阳娜娜", "诸葛明亮"} <= found
    for name in ("Zhang Wei", "Wei Zhang", "Zhāng Wěi", "ZHANG Wei", "Ouyang Xiaoming"):
        assert [m.value for m in person_names(f"We interviewed {name} twice.")] == [name], name


def test_no_tokenizer_runs_on_text_without_chinese(monkeypatch: pytest.MonkeyPatch):
    from enclave.pii import names

    def refuse(*_a: object) -> None:
        raise AssertionError("tokenizer ran on text without Chinese characters")

    monkeypatch.setattr(names, "_tokens", refuse)
    assert [m.value for m in person_names("John Smith met Zhang Wei.")] == ["John Smith", "Zhang Wei"]
