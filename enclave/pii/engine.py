"""presidio-analyzer for free text, fully offline, with our recognisers inside it.

Presidio would normally load a downloaded spaCy model and tldextract fetches the public-suffix list
on first use; neither may happen in the enclave. So presidio gets blank spaCy pipelines (tokeniser
only, built from code) and tldextract is switched to the snapshot it ships. Names come from our
own recognisers (a surname lexicon with labels for Chinese, a first-name lexicon and titles for
English, pinyin: see `names`) rather than a statistical model. Our `find_all` (Chinese IDs with check digits, CN phone
numbers, 19-digit UnionPay cards, labelled record numbers, all without `\\b` next to Chinese) runs as
one presidio recogniser; presidio adds its e-mail, US SSN and phone recognisers (CN, US and GB
regions). Text is fed in small chunks, because presidio's context step grows with matches x tokens.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from enclave.pii import names
from enclave.pii.entities import Entity
from enclave.pii.recognizers import Match, find_all

CHUNK = 1000
CJK = re.compile(r"[\u4e00-\u9fff]")
english_names = names.english_names  # kept for callers of the old location


def quick(text: str) -> list[Match]:
    """Our recognisers without presidio's pipeline: for table cells already picked by a vectorised filter."""
    found = find_all(text)
    taken = [(m.start, m.end) for m in found]
    found += [m for m in names.person_names(text) if not any(s < m.end and m.start < e for s, e in taken)]
    return found


def offline_tldextract() -> None:
    import tldextract.tldextract as tx

    tx.TLD_EXTRACTOR = tx.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


@lru_cache(maxsize=1)
def analyzer() -> Any:
    offline_tldextract()
    import spacy
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer, UsSsnRecognizer

    class BlankSpacy(SpacyNlpEngine):
        """Tokenisers only: nothing to download, no statistical model."""

        def __init__(self) -> None:
            super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"},
                                     {"lang_code": "zh", "model_name": "blank:zh"}],
                             ner_model_configuration=NerModelConfiguration())

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en"), "zh": spacy.blank("zh")}

    class Ours(EntityRecognizer):
        ENTITIES = [e.value for e in Entity]

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            return [RecognizerResult(m.entity.value, m.start, m.end, m.score,
                                     recognition_metadata={"recognizer_name": m.rule}) for m in quick(text)]

    registry = RecognizerRegistry(supported_languages=["en", "zh"])
    for lang in ("en", "zh"):
        registry.add_recognizer(Ours(supported_entities=Ours.ENTITIES, supported_language=lang, name=f"enclave-{lang}",
                                     context=["身份证", "电话", "手机", "姓名", "病案号", "name", "phone", "patient"]))
    registry.add_recognizer(EmailRecognizer(supported_language="en"))
    registry.add_recognizer(UsSsnRecognizer(supported_language="en"))
    registry.add_recognizer(PhoneRecognizer(supported_language="en", supported_regions=("CN", "US", "GB"),
                                            context=["phone", "tel", "mobile", "电话", "手机", "联系方式"]))
    engine = BlankSpacy()
    engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en", "zh"])


PRESIDIO_ENTITY = {"EMAIL_ADDRESS": Entity.EMAIL, "PHONE_NUMBER": Entity.PHONE, "US_SSN": Entity.US_SSN}


def _chunks(text: str) -> list[tuple[int, str]]:
    """Pieces of at most CHUNK characters, cut at line ends (or spaces) so no value is split."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + CHUNK)
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


def analyze(text: str) -> list[Match]:
    """Every identifier in free text, by presidio with our recognisers; one finding per span."""
    engine = analyzer()
    found: dict[tuple[int, int], Match] = {}
    for offset, chunk in _chunks(text):
        lang = "zh" if CJK.search(chunk) else "en"
        results = sorted(engine.analyze(text=chunk, language=lang), key=lambda r: (r.start - r.end, -r.score))
        for r in results:
            entity = PRESIDIO_ENTITY.get(r.entity_type) or Entity(r.entity_type)
            rule = (r.recognition_metadata or {}).get("recognizer_name") or "presidio"
            span = (offset + r.start, offset + r.end)
            if any(s <= span[0] and span[1] <= e for s, e in found):
                continue  # inside a value already found (a phone number inside a resident ID, ...)
            found[span] = Match(entity, span[0], span[1], text[span[0]:span[1]], r.score, rule)
    return sorted(found.values(), key=lambda m: m.start)
