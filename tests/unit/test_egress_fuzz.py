"""Broken and hostile files of every allowed type: the scan never raises, and what it cannot read never passes.

Hypothesis mutates one good file of each type (truncation, bit flips, random bytes behind a valid
magic number) and adds hand-made hostile ones (deep nesting, huge declared sizes, zip bombs). Each
property runs a bounded number of examples, derandomised so a failure reproduces; about 20 s in all.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from egress_review.findings import FileResult, Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def _jpg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 120, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _parquet() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame({"region": ["north", "south"], "n": [120, 85], "tags": [["a"], ["b", "c"]]}).write_parquet(buf)
    return buf.getvalue()


def _xlsx() -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("Table 1")
    for r, row in enumerate([["region", "n"], ["north", 120], ["south", 85]]):
        ws.write_row(r, 0, row)
    wb.close()
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


CSV = b"region,n\nnorth,120\nsouth,85\n"
NOTEBOOK = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    {"cell_type": "code", "source": "df.shape", "metadata": {}, "execution_count": 1, "outputs": [
        {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": "(120, 4)"}}]},
    {"cell_type": "markdown", "source": "# Results", "metadata": {}}]}).encode()
SEEDS: dict[str, bytes] = {
    "t.csv": CSV, "t.tsv": CSV.replace(b",", b"\t"), "notes.txt": b"Study period 2019-2023; n = 120.\n",
    "r.md": b"# Results\n\n| region | n |\n|---|---|\n| north | 120 |\n", "t.json": b'{"region": {"north": 120}}',
    "r.html": b"<html><body><table><tr><td>north</td><td>120</td></tr></table></body></html>",
    "fig.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="9">n = 120</text></svg>',
    "a.ipynb": NOTEBOOK, "fig.png": _png(), "fig.jpg": _jpg(), "t.parquet": _parquet(), "t.xlsx": _xlsx(),
    "out.zip": _zip({"t.csv": CSV, "fig.png": _png()}), "paper.pdf": b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n",
}
# Formats whose end is part of the format: cut short (before the last few bytes of the end marker), they
# cannot be read fully.
STRICT = ("fig.png", "fig.jpg", "t.parquet", "t.xlsx", "out.zip", "a.ipynb", "t.json")
MAGIC = {"fig.png": b"\x89PNG\r\n\x1a\n", "fig.jpg": b"\xff\xd8\xff\xe0", "out.zip": b"PK\x03\x04",
         "t.xlsx": b"PK\x03\x04", "paper.pdf": b"%PDF-"}


def scanned(name: str, data: bytes) -> FileResult:
    """Scans and checks what must hold for any input; returns the result for more assertions."""
    result = scan_bytes(name, data, POLICY)  # raising here fails the test
    json.dumps(result.to_dict())  # the record is always storable
    if result.verdict == Verdict.PASS:
        assert result.rebuilt is not None, "a file that passed has a rebuilt form to store"
        assert scan_bytes(name, result.rebuilt, POLICY).verdict == Verdict.PASS, "the rebuilt form reads back"
    return result


def test_every_seed_is_a_good_file_of_its_type():
    """The mutations start from readable files: otherwise 'never passes' would prove nothing."""
    verdicts = {name: scanned(name, data).verdict for name, data in SEEDS.items()}
    assert verdicts == {name: Verdict.REVIEW if name == "paper.pdf" else Verdict.PASS for name in SEEDS}


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), cut=st.floats(0, 1))
def test_truncated_files_are_never_passed_when_their_format_has_an_end(name: str, cut: float):
    data = SEEDS[name]
    keep = int(cut * (len(data) - 12))
    result = scanned(name, data[:keep])
    if name in STRICT:
        assert result.verdict != Verdict.PASS, f"{name} cut to {keep} of {len(data)} bytes passed"


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)),
                                                          min_size=1, max_size=8))
def test_bit_flipped_files_never_raise(name: str, flips: list[tuple[float, int]]):
    data = bytearray(SEEDS[name])
    for where, bit in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= 1 << bit
    scanned(name, bytes(data))


@FUZZ
@given(name=st.sampled_from(sorted(MAGIC)), body=st.binary(min_size=0, max_size=2048))
def test_random_bytes_behind_a_valid_magic_number_never_pass(name: str, body: bytes):
    assert scanned(name, MAGIC[name] + body).verdict != Verdict.PASS


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), tail=st.binary(min_size=1, max_size=512))
def test_bytes_appended_to_a_file_never_raise(name: str, tail: bytes):
    scanned(name, SEEDS[name] + tail)


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _declared_size(data: bytes, size: int) -> bytes:
    """A zip whose central directory declares every member `size` bytes long."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        out[pos + 24:pos + 28] = struct.pack("<I", size)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


ZEROS = b"\x00" * (20 * 1024**2)
HOSTILE = {
    "deep.json": b"[" * 200_000 + b"]" * 200_000,
    "deep-dict.json": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep.ipynb": b'{"nbformat": 4, "cells": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
    "wide.png": _png_declaring(2**31 - 1, 2**31 - 1),
    "bomb.png": _png_declaring(30_000, 30_000),
    "huge-declared.zip": _declared_size(_zip({"t.csv": CSV}), 2**32 - 1),
    "bomb.zip": _zip({f"z{i}.txt": ZEROS for i in range(4)}),
    "nested-bomb.zip": _zip({f"{i}.zip": _zip({"z.txt": ZEROS[: 10 * 1024**2]}) for i in range(8)}),
    "many.zip": _zip({f"m{i}.txt": b"" for i in range(POLICY.max_zip_members + 1)}),
    "empty.parquet": b"PAR1PAR1", "footer.parquet": b"PAR1" + b"\xff" * 64 + struct.pack("<I", 2**31) + b"PAR1",
    "empty.xlsx": _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
}
# Entities are never expanded (the checks read the text as written), so a billion laughs is just text.
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        f'<!ENTITY a{i} "{"&a;" * 10 if i == 0 else f"&a{i - 1};" * 10}">'.encode() for i in range(8))
          + b']><svg xmlns="http://www.w3.org/2000/svg"><text>&a7;</text></svg>')


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_without_a_traceback(name: str):
    result = scanned(name, HOSTILE[name])
    assert result.verdict != Verdict.PASS
    assert result.type is not None, "refused by a reader with its reason, not by the scan's last line of defence"


def test_entities_are_not_expanded():
    result = scanned("laughs.svg", LAUGHS)
    assert result.rebuilt is None or len(result.rebuilt) == len(LAUGHS)
