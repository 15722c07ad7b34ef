"""Personal data in the forms a hostile researcher hides it in: glued to letters, percent-encoded, in metadata."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import openpyxl
import polars as pl
import pytest
from openpyxl.comments import Comment
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from PIL import Image

from egress_review import dropped
from egress_review.extract import MAX_INFLATED
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


def _workbook(change: Callable[[Any, Any], object]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["g", "n"])
    ws.append(["a", 100])
    change(wb, ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _validation(ws: Any) -> None:
    dv = DataValidation(type="list", formula1=f'"{RESIDENT_ID}"', prompt=RESIDENT_ID)
    dv.add("B2")
    ws.add_data_validation(dv)


def _dropped(r: Any) -> list[Any]:
    return [f for f in r.findings if f.rule == "dropped-metadata" and f.verdict == Verdict.REVIEW]


@pytest.mark.parametrize("change", [
    lambda wb, ws: setattr(ws["A1"], "comment", Comment(RESIDENT_ID, "x")),
    lambda wb, ws: wb.defined_names.__setitem__("n" + PHONE, DefinedName("n" + PHONE, attr_text="Sheet1!$A$1")),
    lambda wb, ws: setattr(wb.properties, "creator", RESIDENT_ID),
    lambda wb, ws: setattr(ws.oddHeader.center, "text", RESIDENT_ID),
    lambda wb, ws: setattr(ws["B2"], "number_format", f'"{RESIDENT_ID}"0'),
    lambda wb, ws: _validation(ws),
    lambda wb, ws: setattr(ws["A2"], "hyperlink", f"http://x/{RESIDENT_ID}"),
], ids=["comment", "defined-name", "creator", "header", "number-format", "data-validation", "hyperlink"])
def test_personal_data_in_dropped_spreadsheet_metadata_goes_to_review_and_stays_dropped(change: Any):
    r = scan_bytes("t.xlsx", _workbook(change), POLICY)
    assert _dropped(r) and r.verdict != Verdict.PASS
    assert r.rebuilt is not None and RESIDENT_ID.encode() not in r.rebuilt and PHONE.encode() not in r.rebuilt


def test_personal_data_in_parquet_metadata_and_archive_comments_goes_to_review():
    pq = io.BytesIO()
    pl.DataFrame({"x": [1, 2]}).write_parquet(pq, metadata={"note": RESIDENT_ID})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.comment = RESIDENT_ID.encode()
        z.writestr("a.txt", "hello")
    for name, data in (("t.parquet", pq.getvalue()), ("t.zip", archive.getvalue())):
        r = scan_bytes(name, data, POLICY)
        assert _dropped(r), name
        assert r.rebuilt is not None and RESIDENT_ID.encode() not in r.rebuilt


def _png(extra: bytes = b"", trailer: bytes = b"") -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), 200).save(buf, "PNG")
    data = buf.getvalue()
    return data[:33] + extra + data[33:] + trailer


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _jpeg(comment: bytes = b"", trailer: bytes = b"") -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), 200).save(buf, "JPEG")
    data = buf.getvalue()
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment if comment else b""
    return data[:2] + segment + data[2:] + trailer


@pytest.mark.parametrize("name,data", [
    ("c.png", _png(_chunk(b"tEXt", b"Comment\x00" + RESIDENT_ID.encode()))),
    ("c.png", _png(_chunk(b"iTXt", b"Comment\x00\x00\x00\x00\x00" + f"随访 {PHONE}".encode()))),
    ("c.png", _png(_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(RESIDENT_ID.encode())))),
    ("c.png", _png(trailer=f"id={RESIDENT_ID}".encode())),
    ("c.jpg", _jpeg(comment=f"patient {RESIDENT_ID}".encode())),
    ("c.jpg", _jpeg(trailer=f"tel {PHONE}".encode())),
], ids=["png-text", "png-itxt", "png-ztxt", "png-trailer", "jpeg-comment", "jpeg-trailer"])
def test_personal_data_in_what_an_image_rebuild_drops_goes_to_review_and_stays_dropped(name: str, data: bytes):
    r = scan_bytes(name, data, POLICY)
    assert _dropped(r) and r.verdict != Verdict.PASS, [f.detail for f in r.findings]
    assert r.rebuilt is not None and RESIDENT_ID.encode() not in r.rebuilt and PHONE.encode() not in r.rebuilt


@pytest.mark.parametrize("name,data", [
    ("c.png", _png(_chunk(b"tEXt", b"Software\x00matplotlib version 3.8.2, https://matplotlib.org/"))),
    ("c.png", _png(trailer=b"\x00\x00 padding 2024-03-01")),
    ("c.jpg", _jpeg(comment=b"Created with GIMP 2.10 on 2024-03-01")),
], ids=["png-software", "png-padding", "jpeg-software-comment"])
def test_plain_text_in_what_an_image_rebuild_drops_is_not_a_finding(name: str, data: bytes):
    assert not _dropped(scan_bytes(name, data, POLICY))


def test_a_compressed_image_text_chunk_is_read_only_up_to_its_cap():
    bomb = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * (64 << 20)))
    read = dropped.image_texts(_png(bomb), "png")
    assert 0 < sum(len(s.text) for s in read) <= MAX_INFLATED


def _formula(ws: Any, formula: str) -> None:
    ws["B2"] = formula


@pytest.mark.parametrize("formula", ['="1381234"&"5678"', '=CONCATENATE("3101041977","06251377")',
                                     f'=IF(A2="x","{RESIDENT_ID}","")'])
def test_an_identifier_built_by_a_formula_goes_to_review(formula: str):
    r = scan_bytes("t.xlsx", _workbook(lambda wb, ws: _formula(ws, formula)), POLICY)
    assert _dropped(r) and r.verdict != Verdict.PASS, [f.detail for f in r.findings]


@pytest.mark.parametrize("formula", ["=SUM(B1:B9)", '=IF(A2="North","N","S")&"-"&"2024"',
                                     '=TEXT(B2,"0.0")&" (95% CI)"'])
def test_a_formula_of_plain_literals_is_not_a_dropped_finding(formula: str):
    assert not _dropped(scan_bytes("t.xlsx", _workbook(lambda wb, ws: _formula(ws, formula)), POLICY))


def test_plain_dropped_metadata_is_not_a_finding():
    r = scan_bytes("t.xlsx", _workbook(lambda wb, ws: setattr(wb.properties, "creator", "openpyxl")), POLICY)
    assert not _dropped(r)


@pytest.mark.parametrize("text,rule", [
    ("姓名：陳大文", "name.zh-label"),                       # traditional script
    ("昨天陳大文来复诊", "name.zh-surname-lexicon"),
    ("患者 张 伟 已出院", "name.zh-label-spaced"),
    ("住址：香港九龍彌敦道100號", "address-hk-mo"),
    ("北京市朝陽區建國路88號", "address-cn"),
    ("住在朝阳区建国路88号3单元502室", "address-cn-district"),  # no province or city
    ("lives at 88 jianguo road, chaoyang district, beijing", "address-en-lowercase"),
])
def test_names_and_addresses_in_other_scripts_and_forms_are_found(text: str, rule: str):
    from enclave.pii.engine import analyze

    assert rule in {m.rule for m in analyze(text)}


def test_ordinary_words_before_a_road_are_not_an_address():
    assert not entities("took 2 days on the road, then home")


@pytest.mark.parametrize("csv", ["patient,score\nzhang wei,50\nli na,60\n", "name,score\n伟,50\n",
                                 "姓名,score\nwei,50\n"])
def test_a_column_labelled_as_a_name_goes_to_review_whatever_its_values(csv: str):
    r = scan_bytes("t.csv", csv.encode(), POLICY)
    assert "name-column" in {f.rule for f in r.findings} and r.verdict != Verdict.PASS


def test_a_count_column_next_to_a_name_label_is_not_a_name():
    r = scan_bytes("t.csv", b"group,patients_n\na,50\nb,60\n", POLICY)
    assert "name-column" not in {f.rule for f in r.findings}


@pytest.mark.parametrize("text", ["138.1234.5678", "(138)1234-5678", "138x1234x5678", "138/1234/5678"])
def test_a_phone_cut_by_other_separators_is_found(text: str):
    assert "CN_PHONE" in entities(text)


@pytest.mark.parametrize("sep", [".", ",", "/", "_"])
def test_a_resident_id_written_digit_by_digit_with_a_separator_is_found(sep: str):
    assert "CN_RESIDENT_ID" in entities(sep.join(RESIDENT_ID))


def test_version_numbers_and_dotted_years_are_not_identifiers():
    assert not entities("v1.2.3 2019.2020.2021 1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8")


@pytest.mark.parametrize("text", ["tel 138.1234.5678", "tel (138)1234-5678", "tel 138x1234x5678",
                                  "ref " + ".".join(RESIDENT_ID), "ref " + "_".join(RESIDENT_ID)])
def test_a_text_file_with_separated_identifiers_is_blocked(text: str):
    assert scan_bytes("note.txt", text.encode(), POLICY).verdict == Verdict.BLOCK


@pytest.mark.parametrize("name,markup", [
    ("p.html", "<p>" + "".join(f"<span>{c}</span>" for c in RESIDENT_ID) + "</p>"),
    ("c.svg", '<svg xmlns="http://www.w3.org/2000/svg"><text>' + "".join(f"<tspan>{c}</tspan>" for c in RESIDENT_ID)
     + "</text></svg>"),
    ("b.html", "<p>tel 138<b></b>1234<b></b>5678</p>"),
])
def test_digits_split_by_inline_markup_are_read_as_one_text(name: str, markup: str):
    assert scan_bytes(name, markup.encode(), POLICY).verdict == Verdict.BLOCK


def _notebook_with(where: str, text: str) -> bytes:
    """A one-cell notebook whose only personal data is `text`, at `where` (a part the rebuild drops)."""
    out: dict[str, Any] = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                           "data": {"text/plain": "42"}}
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "x", "outputs": [out]}
    nb: dict[str, Any] = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4,
                          "nbformat_minor": 5}
    if where == "notebook metadata":
        nb["metadata"]["authors"] = [{"name": text}]
    elif where == "cell metadata":
        cell["metadata"] = {"tags": [text]}
    elif where == "attachment":
        import base64
        cell["cell_type"], cell["attachments"] = "markdown", {"n.txt": {"text/plain": base64.b64encode(
            text.encode()).decode()}}
        del cell["outputs"], cell["execution_count"]
    elif where == "output metadata":
        out["metadata"] = {"note": text}
    elif where == "traceback":
        cell["outputs"] = [{"output_type": "error", "ename": "KeyError", "evalue": "'x'",
                            "traceback": [f"\x1b[0;31mKeyError\x1b[0m: {text}"]}]
    elif where == "unkept output":
        out["data"]["application/x-custom"] = {"who": text}
    return json.dumps(nb).encode()


@pytest.mark.parametrize("where", ["notebook metadata", "cell metadata", "attachment", "output metadata",
                                   "traceback", "unkept output"])
def test_personal_data_in_what_a_rebuilt_notebook_drops_goes_to_review_and_stays_dropped(where: str):
    r = scan_bytes("n.ipynb", _notebook_with(where, f"patient {RESIDENT_ID} tel {PHONE}"), POLICY)
    found = _dropped(r)
    assert {f.entity for f in found} >= {"CN_RESIDENT_ID", "CN_PHONE"} and r.verdict == Verdict.REVIEW, where
    part = {"notebook metadata": "notebook metadata", "cell metadata": "cell 0 metadata",
            "attachment": "cell 0 attachments", "output metadata": "cell 0 output metadata",
            "traceback": "cell 0 error traceback", "unkept output": "cell 0 application/x-custom output"}[where]
    assert {f.location["part"] for f in found} == {part}
    assert r.rebuilt is not None and RESIDENT_ID.encode() not in r.rebuilt and PHONE.encode() not in r.rebuilt


def test_a_notebooks_ordinary_metadata_is_no_finding():
    """What Jupyter, papermill, widgets and VS Code write: kernels, versions, timings, model ids, sizes."""
    nb = json.loads(_notebook_with("none", ""))
    nb["metadata"].update({
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
        "papermill": {"duration": 12.345, "start_time": "2024-03-07T10:11:00.000000",
                      "input_path": "analysis/readmission.ipynb", "parameters": {"seed": 20240307}},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {
            "4f2d0c5e8b7a4e0b9c3d2e1f0a9b8c7d": {"model_name": "FloatProgressModel", "state": {"max": 100}}}}}})
    cell = nb["cells"][0]
    cell["metadata"] = {"tags": ["parameters"], "scrolled": True, "vscode": {"languageId": "python"},
                        "execution": {"iopub.execute_input": "2024-03-07T10:11:12.123456Z"}}
    cell["outputs"][0]["metadata"] = {"image/png": {"width": 640, "height": 480}}
    r = scan_bytes("n.ipynb", json.dumps(nb).encode(), POLICY)
    assert (r.verdict, r.findings) == (Verdict.PASS, [])
