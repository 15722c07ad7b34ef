"""Personal data in the forms a hostile researcher hides it in: glued to letters, percent-encoded, in metadata."""

from __future__ import annotations

import json

import pytest

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.pii.recognizers import find_all
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
RESIDENT_ID = "11010519491231002X"  # valid check digit
PHONE = "13812345678"


def entities(text: str) -> set[str]:
    return {m.entity.value for m in find_all(text)}


@pytest.mark.parametrize("text", [f"ref p{RESIDENT_ID}", f"id{RESIDENT_ID}", f"{RESIDENT_ID}abc", f"ref_{RESIDENT_ID}"])
def test_a_resident_id_glued_to_letters_is_found(text: str):
    assert "CN_RESIDENT_ID" in entities(text)


@pytest.mark.parametrize("text", [f"tel{PHONE}", f"{PHONE}abc", f"mobile_{PHONE}_x"])
def test_a_phone_glued_to_letters_is_found(text: str):
    assert "CN_PHONE" in entities(text)


def test_a_longer_digit_run_is_not_read_as_a_phone_inside_it():
    assert not entities(f"9{PHONE}7")


def test_a_json_value_with_a_glued_identifier_is_blocked():
    r = scan_bytes("k.json", json.dumps({"k": f"id{RESIDENT_ID}"}).encode(), POLICY)
    assert r.verdict == Verdict.BLOCK


@pytest.mark.parametrize("name,template", [
    ("note.txt", "{}"), ("note.md", "ref: {}"), ("k.json", '{{"k": "{}"}}'),
    ("page.html", '<html><body><a href="https://x.org/?q={}">link</a></body></html>'),
    ("note.txt", "see data:text/plain,{}"),
])
def test_a_percent_encoded_identifier_in_text_is_blocked(name: str, template: str):
    encoded = "".join(f"%{ord(c):02X}" for c in RESIDENT_ID)
    r = scan_bytes(name, template.format(encoded).encode(), POLICY)
    assert r.verdict == Verdict.BLOCK, [f.detail for f in r.findings]
