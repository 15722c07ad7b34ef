"""The kinds of personal data the recognisers report: one vocabulary for ingestion, export checks and the UI.

Whether a kind blocks an export on its own or sends it to a person is declared here, next to the
name, so the export checks and the documentation cannot disagree about it.
"""

from __future__ import annotations

import enum


class Entity(enum.StrEnum):
    CN_RESIDENT_ID = "CN_RESIDENT_ID"  # mainland resident ID, incl. 81/82/83 residence permits
    CN_FOREIGN_PERMANENT_ID = "CN_FOREIGN_PERMANENT_ID"  # 外国人永久居留身份证, old 15-char and new 18-digit
    HK_ID = "HK_ID"
    MO_ID = "MO_ID"
    TW_ID = "TW_ID"
    CN_PASSPORT = "CN_PASSPORT"
    CN_TRAVEL_PERMIT = "CN_TRAVEL_PERMIT"  # 港澳/台湾居民来往内地(大陆)通行证
    CN_PHONE = "CN_PHONE"
    PHONE = "PHONE"  # other countries' numbers, found by presidio
    BANK_CARD = "BANK_CARD"
    EMAIL = "EMAIL"
    US_SSN = "US_SSN"
    UK_NHS_NUMBER = "UK_NHS_NUMBER"
    SOCIAL_SECURITY_NO = "SOCIAL_SECURITY_NO"  # 社保卡号, by label
    MEDICAL_INSURANCE_NO = "MEDICAL_INSURANCE_NO"  # 医保卡号 / 医保号, by label
    MEDICAL_RECORD_NO = "MEDICAL_RECORD_NO"  # 病案号, 住院号, 门诊号, MRN ..., by label
    LICENCE_PLATE = "LICENCE_PLATE"
    MESSAGING_HANDLE = "MESSAGING_HANDLE"  # WeChat, QQ and other handles, by label (or wxid_)
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    PERSON = "PERSON"
    ADDRESS = "ADDRESS"

    @property
    def blocks(self) -> bool:
        """Singles a person out on its own: the export cannot be approved while it is there."""
        return self not in NEEDS_REVIEW


# Softer kinds: a person must look (a name, an address or a date of birth may be a clinician's, a
# hospital's, or fictitious; presidio's phone pattern also matches other long numbers); everything
# else blocks.
NEEDS_REVIEW: frozenset[Entity] = frozenset({Entity.PERSON, Entity.ADDRESS, Entity.DATE_OF_BIRTH, Entity.PHONE})
BLOCKING: frozenset[Entity] = frozenset(e for e in Entity if e not in NEEDS_REVIEW)
