"""What the checker does not read does not leave: each file is rebuilt, and the rebuilt form is what is kept.

Each test plants personal data where a file type can carry it out of sight; the data must either be
found (the file is held: review or block) or be absent from the bytes the store keeps. Before the
rebuild existed the submitted bytes were stored as they came (`getattr(..., "rebuilt", data)`).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter
from click.testing import CliRunner
from PIL import Image

from egress_review import render
from egress_review.filetypes import decode_text
from egress_review.findings import FileResult
from egress_review.owndata import DatasetIndex, OwnDataIndex
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from enclave_ops.cli import main
from policies import load_policies
from tests.identifiers import RID

POLICY = load_policies(REPO_ROOT / "policies").egress
PHONE = "13812345678"


def stored(result: FileResult, data: bytes) -> bytes:
    """The bytes the store keeps for a scanned file (before the rebuild: the submitted bytes)."""
    kept = getattr(result, "rebuilt", data)
    return b"" if kept is None else kept


def readable(blob: bytes) -> bytes:
    """Everything a recipient can read from stored bytes: an archive's members unpacked, recursively."""
    if blob.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            return blob + b"".join(readable(z.read(i)) + i.filename.encode() + i.comment + i.extra
                                   for i in z.infolist())
    return blob


def leaks(name: str, data: bytes, planted: str, policy=POLICY) -> bool:
    """Planted data leaves unseen: the file passes and its stored form still holds the data."""
    result = scan_bytes(name, data, policy)
    return result.verdict == "pass" and planted.encode() in readable(stored(result, data))


def png(width: int = 4, height: int = 3, chunks: tuple[tuple[bytes, bytes], ...] = (), trailer: bytes = b"") -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    small = width * height <= 4096  # a huge declared size gets a few bytes of data: a bomb's header
    rows = b"".join(b"\x00" + bytes(i % 256 for i in range(width * 3)) for _ in range(height)) if small else b"\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + b"".join(chunk(k, v) for k, v in chunks) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
            + trailer)


def jpeg(**save: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "JPEG", **save)
    return buf.getvalue()


# --- images ---------------------------------------------------------------------------------------

def test_png_text_chunks_and_bytes_after_iend_do_not_leave():
    clean = png()
    assert scan_bytes("plot.png", clean, POLICY).verdict == "pass"
    hidden = png(chunks=((b"tEXt", b"Comment\x00patient " + RID.encode()),), trailer=f"tel {PHONE}".encode())
    assert not leaks("plot.png", hidden, PHONE) and not leaks("plot.png", hidden, RID)
    result = scan_bytes("plot.png", hidden, POLICY)
    assert result.rebuilt is not None and RID.encode() not in result.rebuilt and PHONE.encode() not in result.rebuilt
    same_pixels = bytes(b & 0xFE for b in Image.open(io.BytesIO(clean)).tobytes())  # lowest bits cleared
    assert Image.open(io.BytesIO(result.rebuilt)).tobytes() == same_pixels
    assert any("after the end" in n for n in result.rebuild_notes) and result.original_sha256 != result.sha256


def test_jpeg_exif_comment_and_trailer_do_not_leave():
    exif = Image.Exif()
    exif[0x013B] = f"Li Hua {PHONE}"  # Artist
    data = jpeg(exif=exif.tobytes(), comment=f"id {RID}".encode()) + f"tel {PHONE}".encode()
    assert not leaks("fig.jpg", data, PHONE) and not leaks("fig.jpg", data, RID)
    result = scan_bytes("fig.jpg", data, POLICY)
    assert result.rebuilt and PHONE.encode() not in result.rebuilt
    assert Image.open(io.BytesIO(result.rebuilt)).size == (8, 8)


def test_broken_and_bomb_images_are_refused_not_passed():
    truncated = png(40, 40)[:-30]
    assert scan_bytes("plot.png", truncated, POLICY).verdict == "block"
    bomb = png(100_000, 100_000)  # the header declares 10^10 pixels; the data is a few bytes
    result = scan_bytes("plot.png", bomb, POLICY)
    assert result.verdict == "block" and result.rebuilt is None


# --- notebooks ------------------------------------------------------------------------------------

def notebook(cells: list[dict], metadata: dict | None = None) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells}).encode()


def code(source: str, outputs: list[dict], metadata: dict | None = None) -> dict:
    return {"cell_type": "code", "source": source, "metadata": metadata or {}, "execution_count": 1,
            "outputs": outputs}


def test_notebook_metadata_attachments_widgets_and_unknown_outputs_do_not_leave():
    plain = [code("df.shape", [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                "data": {"text/plain": "(120, 4)"}}])]
    assert scan_bytes("a.ipynb", notebook(plain), POLICY).verdict == "pass"
    cells = [code("df.shape", [{"output_type": "execute_result", "execution_count": 1,
                                "metadata": {"note": f"tel {PHONE}"},
                                "data": {"text/plain": "(120, 4)",
                                         "application/vnd.jupyter.widget-view+json": {"model_id": PHONE}}}],
                  metadata={"tags": [f"tel {PHONE}"]}),
             {"cell_type": "markdown", "source": "![x](attachment:x.png)", "metadata": {},
              "attachments": {"x.png": {"image/png": base64.b64encode(png(chunks=(
                  (b"tEXt", b"Author\x00" + PHONE.encode()),))).decode()}}}]
    meta = {"authors": [{"name": f"Li Hua {PHONE}"}], "widgets": {"state": {"x": {"value": PHONE}}}}
    data = notebook(cells, meta)
    assert not leaks("a.ipynb", data, PHONE)
    result = scan_bytes("a.ipynb", data, POLICY)
    assert result.rebuilt is not None and PHONE.encode() not in result.rebuilt
    assert json.loads(result.rebuilt)["cells"][0]["outputs"][0]["data"] == {"text/plain": "(120, 4)"}
    assert any("metadata" in n for n in result.rebuild_notes)


def test_notebook_errors_are_checked_and_tracebacks_dropped():
    err = {"output_type": "error", "ename": "KeyError", "evalue": f"'{PHONE}'",
           "traceback": [f"File x.py line 3, in lookup(id='{RID}')"]}
    data = notebook([code("lookup()", [err])])
    result = scan_bytes("a.ipynb", data, POLICY)
    assert result.verdict == "block" and any(f.location.get("part") == "error" for f in result.findings)
    assert RID.encode() not in stored(result, data)
    quiet = notebook([code("lookup()", [{**err, "evalue": "'x'"}])])
    assert not leaks("a.ipynb", quiet, RID)


def test_notebook_image_outputs_are_reencoded():
    img = base64.b64encode(png(trailer=PHONE.encode())).decode()
    data = notebook([code("plot()", [{"output_type": "display_data", "metadata": {}, "data": {"image/png": img}}])])
    result = scan_bytes("a.ipynb", data, POLICY)
    kept = json.loads(stored(result, data))["cells"][0]["outputs"][0]["data"]["image/png"]
    assert PHONE.encode() not in base64.b64decode(kept)


# --- Parquet --------------------------------------------------------------------------------------

def parquet(df: pl.DataFrame, **kw: object) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf, **kw)
    return buf.getvalue()


def test_parquet_key_value_metadata_does_not_leave():
    df = pl.DataFrame({"g": ["a", "b"], "n": [120, 85]})
    assert scan_bytes("t.parquet", parquet(df), POLICY).verdict == "pass"
    data = parquet(df, metadata={"author": f"Li Hua {PHONE}"})
    assert not leaks("t.parquet", data, PHONE)
    held = scan_bytes("t.parquet", data, POLICY)  # dropped, and a reviewer is told the original carried it
    assert held.verdict == "review" and {f.rule for f in held.findings} == {"dropped-metadata"}


@pytest.mark.parametrize("column", [
    pl.Series("contact", [["a", PHONE], ["b"]]),
    pl.Series("contact", [{"who": "x", "tel": PHONE}, {"who": "y", "tel": None}]),
    pl.Series("contact", [[{"tel": RID}], []]),
    pl.Series("contact", [PHONE.encode(), b"x"]),
    pl.Series("contact", [PHONE, "x"]).cast(pl.Categorical),
], ids=["list", "struct", "list-of-struct", "binary", "categorical"])
def test_parquet_nested_binary_and_categorical_values_are_checked(column: pl.Series):
    data = parquet(pl.DataFrame({"g": ["a", "b"], "n": [120, 85]}).with_columns(column))
    result = scan_bytes("t.parquet", data, POLICY)
    assert result.verdict == "block" and any(f.location.get("column") == "contact" for f in result.findings)


def test_parquet_list_column_with_the_projects_own_data_index_is_no_traceback():
    own = OwnDataIndex(b"k" * 32, [DatasetIndex("cohort@v1", values={"d": [("identifier", "id", 1)]})])
    data = parquet(pl.DataFrame({"g": ["a", "b"], "names": [["Li Hua"], ["x"]]}))
    result = scan_bytes("t.parquet", data, POLICY, own=own)  # raised InvalidOperationError before
    assert result.type == "parquet"


def test_parquet_binary_that_is_not_text_and_decimals():
    result = scan_bytes("t.parquet", parquet(pl.DataFrame({"blob": [b"\x89PNG\x00\x01", b"\x00"]})), POLICY)
    assert result.verdict == "block" and result.rebuilt is None
    ids = pl.DataFrame({"id_no": pl.Series("id_no", [int(RID), 1], pl.Decimal(20, 0))})
    assert scan_bytes("t.parquet", parquet(ids), POLICY).verdict != "pass"


# --- spreadsheets ---------------------------------------------------------------------------------

def workbook(build) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("Table 1")
    ws.write_row(0, 0, ["group", "n"])
    ws.write_row(1, 0, ["a", 120])
    ws.write_row(2, 0, ["b", 85])
    build(wb, ws)
    wb.close()
    return buf.getvalue()


def test_xlsx_clean_workbook_passes():
    assert scan_bytes("t.xlsx", workbook(lambda wb, ws: None), POLICY).verdict == "pass"


def _hidden(wb, ws):
    h = wb.add_worksheet("lookup")
    h.write_row(0, 0, ["who", "phone"])
    h.write_row(1, 0, ["x", PHONE])
    h.hide()


def _very_hidden(wb, ws):
    h = wb.add_worksheet("lookup")
    h.write_row(0, 0, ["who", "id"])
    h.write_row(1, 0, ["x", RID])
    h.very_hidden()


@pytest.mark.parametrize("build", [
    _hidden, _very_hidden,
    lambda wb, ws: ws.write_comment("B2", f"call {PHONE}"),
    lambda wb, ws: wb.define_name("contact", f'="{PHONE}"'),
    lambda wb, ws: wb.set_properties({"author": f"Li Hua {PHONE}", "comments": PHONE}),
    lambda wb, ws: wb.set_custom_property("contact", PHONE),
    lambda wb, ws: ws.write_formula("C2", f'=IF(A2="{PHONE}",1,0)', None, 0),
    lambda wb, ws: ws.set_header(f"&Ctel {PHONE}"),
], ids=["hidden-sheet", "very-hidden-sheet", "comment", "defined-name", "properties", "custom-property",
        "formula", "header"])
def test_xlsx_hidden_places_are_read_or_dropped(build):
    data = workbook(build)
    planted = RID if build is _very_hidden else PHONE
    assert not leaks("t.xlsx", data, planted)
    if build in (_hidden, _very_hidden):
        result = scan_bytes("t.xlsx", data, POLICY)
        assert result.verdict == "block" and {f.location.get("sheet") for f in result.findings} == {"lookup"}


def test_xlsx_every_sheet_is_checked_on_its_own_and_text_stays_text():
    def two(wb, ws):
        s = wb.add_worksheet("Table 2")
        s.write_row(0, 0, ["region", "n"])
        s.write_row(1, 0, ["north", 4])
        s.write_string(2, 0, '=HYPERLINK("http://x")')
        s.write_number(2, 1, 50)

    result = scan_bytes("t.xlsx", workbook(two), POLICY)
    small = [f for f in result.findings if f.check == "disclosure-control"]
    assert result.verdict == "block" and [(f.location["sheet"], f.location["row"]) for f in small] == [("Table 2", 1)]
    wb = openpyxl.load_workbook(io.BytesIO(result.rebuilt))
    assert wb.sheetnames == ["Table 1", "Table 2"] and wb["Table 2"]["A3"].data_type == "s"


# --- archives -------------------------------------------------------------------------------------

def archive(members: dict[str, bytes], comment: bytes = b"", member_comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.comment = member_comment
            z.writestr(info, data)
        z.comment = comment
    return buf.getvalue()


TABLE = b"g,n\na,120\nb,85\n"


def test_zip_comments_do_not_leave_and_member_names_are_checked():
    assert scan_bytes("out.zip", archive({"t.csv": TABLE}), POLICY).verdict == "pass"
    data = archive({"t.csv": TABLE}, comment=f"tel {PHONE}".encode(), member_comment=RID.encode())
    assert not leaks("out.zip", data, PHONE) and not leaks("out.zip", data, RID)
    named = archive({f"patients/{RID}.csv": TABLE})
    assert scan_bytes("out.zip", named, POLICY).verdict == "block"


def test_zip_directory_entries_carrying_data_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("t.csv", TABLE)
        z.writestr(zipfile.ZipInfo("notes/"), f"tel {PHONE}".encode())
    result = scan_bytes("out.zip", buf.getvalue(), POLICY)
    assert result.verdict == "block" and any(f.rule == "directory-data" for f in result.findings)


@pytest.mark.parametrize("caps, members, rule", [
    ({"max_zip_members": 5}, {f"t{i}.csv": TABLE for i in range(6)}, "max_zip_members"),
    ({"max_zip_total_bytes": 1000}, {"a.csv": TABLE * 40, "b.csv": TABLE * 40}, "max_zip_total_bytes"),
    ({}, {"big.csv": b"g,n\n" + b"a,120\n" * 400_000}, "max_zip_ratio"),
], ids=["members", "total", "ratio"])
def test_zip_caps_from_policy(caps: dict, members: dict, rule: str):
    result = scan_bytes("out.zip", archive(members), POLICY.model_copy(update=caps))
    assert result.verdict == "block" and rule in {f.rule for f in result.findings}


def test_nested_archives_share_one_unpacking_budget():
    inner = archive({"a.csv": TABLE * 30})
    outer = archive({f"{i}.zip": inner for i in range(4)})
    policy = POLICY.model_copy(update={"max_zip_total_bytes": 3 * len(TABLE) * 30 + 4 * len(inner)})
    result = scan_bytes("out.zip", outer, policy)
    assert result.verdict == "block" and result.rebuilt is None


# --- markup and text ------------------------------------------------------------------------------

def test_html_comments_declarations_and_unterminated_tails_are_read():
    page = b"<html><body><p>n = 120</p></body></html>"
    assert scan_bytes("r.html", page, POLICY).verdict == "pass"
    for hidden in (f"<!-- tel {PHONE} -->", f"<!DOCTYPE x [<!ENTITY a '{PHONE}'>]>", f"<p>x</p><!-- {PHONE}",
                   f"<![CDATA[{PHONE}]]>"):
        assert not leaks("r.html", page.replace(b"<body>", b"<body>" + hidden.encode()), PHONE), hidden


def test_svg_chart_is_a_normal_output_and_script_in_markup_is_refused():
    chart = (b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect width="40" height="30"/>'
             b"<text x='1' y='45'>n = 120</text></svg>")
    assert scan_bytes("fig.svg", chart, POLICY).verdict == "pass"
    assert not leaks("fig.svg", chart.replace(b"</svg>", f"<!-- {RID} --></svg>".encode()), RID)
    for active in (b"<script>fetch('x')</script>", b'<a href=" jav&#x09;ascript:alert(1)">x</a>',
                   b'<rect onload="x()"/>', b"<foreignObject><iframe src='x'></iframe></foreignObject>"):
        result = scan_bytes("fig.svg", chart.replace(b"</svg>", active + b"</svg>"), POLICY)
        assert result.verdict == "block" and result.findings[0].rule == "no-script", active


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig", "gb18030", "big5"])
def test_text_in_other_encodings_is_decoded_and_stored_as_utf8(encoding: str):
    text = "地區,例數\n臺北,120\n高雄,85\n"
    assert decode_text(text.encode(encoding)) == text
    result = scan_bytes("t.csv", text.encode(encoding), POLICY)
    assert result.verdict == "pass" and result.rebuilt == text.encode()
    phone = scan_bytes("t.csv", f"地區,電話\n臺北,{PHONE}\n".encode(encoding), POLICY)
    assert phone.verdict == "block"


def test_text_is_checked_to_its_end():
    data = b"step done: n = 120\n" * 20_000 + f"tel {PHONE}\n".encode()  # 380 kB, far past any sniffed head
    assert scan_bytes("log.txt", data, POLICY).verdict == "block"


# --- where the rebuilt form goes ------------------------------------------------------------------

def test_the_store_keeps_the_rebuilt_form_and_the_record_the_original_digest(two_projects: Path):
    from egress_review import workflow
    from enclave.db import session_scope

    data = png(trailer=f"tel {PHONE}".encode())
    with session_scope() as s:
        req = workflow.submit(s, "alice", "study", [("plot.png", data)], "a figure", two_projects, POLICY)
        f = req.files[0]
        blob = (two_projects / f.sha256[:2] / f.sha256).read_bytes()
        assert PHONE.encode() not in blob and blob.startswith(b"\x89PNG") and f.size == len(blob)
        assert f.scan["original_sha256"] != f.sha256 and f.scan["rebuilt"]


def test_cli_scan_says_what_was_rebuilt(tmp_path: Path):
    (tmp_path / "plot.png").write_bytes(png(chunks=((b"tEXt", b"Comment\x00x"),)))
    res = CliRunner().invoke(main, ["egress", "scan", str(tmp_path / "plot.png")])
    assert res.exit_code == 0 and "rebuilt: metadata chunks dropped: tEXt" in res.output


def test_reviewer_view_says_when_it_shows_part_of_a_file():
    data = b"".join(f"step {i}\n".encode() for i in range(render.MAX_LINES + 10))
    shown = render.render(data, {"type": "txt", "findings": []}, "/img")
    assert any(n.startswith("ONLY PART OF THIS FILE IS SHOWN") and str(render.MAX_LINES + 10) in n
               for n in shown.notes)
    short = render.render(b"step 1\n", {"type": "txt", "findings": []}, "/img")
    assert not any("ONLY PART" in n for n in short.notes)


def test_reviewer_view_shows_each_sheet_with_its_own_findings():
    result = scan_bytes("t.xlsx", workbook(_hidden), POLICY)
    shown = render.render(result.rebuilt, result.to_dict(), "/img")
    first, lookup = shown.html.split('<h4 class="sheet">lookup</h4>')
    assert "<mark" not in first and '<mark class="hit block" title="personal-data: CN_PHONE' in lookup
    assert PHONE in lookup.split("<mark")[1] and any("'lookup' was hidden" in n for n in shown.notes)


def test_script_bearing_markup_is_refused_but_kept_as_source_for_reviewers():
    data = b"<html><body><p>n = 120</p><script>fetch('x')</script></body></html>"
    result = scan_bytes("r.html", data, POLICY)
    assert result.verdict == "block" and result.rebuilt == data
    assert "fetch(" in render.render(result.rebuilt, result.to_dict(), "/img").html


def test_images_embedded_as_data_uris_are_reencoded_and_binary_payloads_dropped():
    tagged = base64.b64encode(png(chunks=((b"tEXt", b"Author\x00" + PHONE.encode()),))).decode()
    page = f'<html><body><img src="data:image/png;base64,{tagged}"></body></html>'.encode()
    assert not leaks("r.html", page, PHONE)
    md = notebook([{"cell_type": "markdown", "metadata": {}, "source": f"![fig](data:image/png;base64,{tagged})"}])
    assert not leaks("a.ipynb", md, PHONE)
    blob = base64.b64encode(b"\x00\x01" + PHONE.encode() + b"\xff").decode()
    result = scan_bytes("notes.md", f"see data:application/octet-stream;base64,{blob}\n".encode(), POLICY)
    assert blob.encode() not in stored(result, b"") and any("data dropped" in n for n in result.rebuild_notes)


def test_a_cell_far_away_does_not_make_a_sheet_of_empty_rows():
    def far(wb, ws):
        ws.write(200_000, 3000, "note")

    result = scan_bytes("t.xlsx", workbook(far), POLICY)
    sheet = openpyxl.load_workbook(io.BytesIO(result.rebuilt))["Table 1"]
    assert (sheet.max_row, sheet.max_column) == (4, 3) and sheet.cell(4, 3).value == "note"


def test_parquet_with_every_column_type_the_checks_read_is_rebuilt_not_refused():
    from datetime import date, datetime, time, timedelta
    from decimal import Decimal

    df = pl.DataFrame({
        "region": pl.Series(["north", "south"]).cast(pl.Categorical), "n": [120, 85], "share": [0.4, 0.6],
        "ok": [True, False], "day": [date(2024, 1, 1), date(2024, 2, 1)],
        "at": pl.Series([datetime(2024, 1, 1, 8), datetime(2024, 1, 2, 9)]).dt.replace_time_zone("Asia/Shanghai"),
        "clock": [time(8), time(9)], "wait": [timedelta(days=1), timedelta(hours=3)],
        "cost": pl.Series("cost", [Decimal("12.50"), Decimal("3.25")], pl.Decimal(10, 2)),
        "tags": [["a", "b"], []], "pair": [{"k": "x", "v": 1}, {"k": "y", "v": 2}], "raw": [b"abc", b"de"],
        "nothing": pl.Series("nothing", [None, None], pl.Null),
    })
    result = scan_bytes("t.parquet", parquet(df), POLICY)
    assert result.rebuilt is not None and not [f for f in result.findings if f.check == "rebuild"]
    back = pl.read_parquet(io.BytesIO(result.rebuilt))
    assert back.schema["region"] == pl.String and back.drop("region").equals(df.drop("region"))


def test_a_lone_carriage_return_is_text_not_a_failure():
    result = scan_bytes("r.md", b"group,n\na,120\rb,85\nc,90\n", POLICY)  # csv.Error in the type sniffing before
    assert result.type == "md" and result.verdict == "pass"


def test_a_rebuild_is_the_same_bytes_every_time_and_rebuilding_it_changes_nothing():
    """One content address per content: the same table submitted twice is stored once."""
    import time as clock

    files = {"t.csv": TABLE, "fig.png": png(), "fig.jpg": jpeg(), "t.xlsx": workbook(_hidden),
             "t.parquet": parquet(pl.DataFrame({"g": ["a"], "n": [120]})), "out.zip": archive({"t.csv": TABLE}),
             "a.ipynb": notebook([code("df.shape", [])]), "t.json": b'{"n": 120}',
             "fig.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><text>n = 120</text></svg>'}

    def rebuilt() -> dict[str, bytes | None]:
        return {name: scan_bytes(name, data, POLICY).rebuilt for name, data in files.items()}

    first = rebuilt()
    clock.sleep(2.1)  # zip and workbook times have a resolution of two seconds and one second
    assert rebuilt() == first and all(first.values())
    assert all(scan_bytes(name, kept, POLICY).rebuilt == kept for name, kept in first.items() if kept)


@pytest.mark.parametrize("data", [b"a\x00b\x00\x00\x00c\x00", b"\x00\x01\x02\x03" * 50, b"ab\x00\x00cd" * 10,
                                  "表".encode("utf-16-le") * 40])
def test_zero_bytes_that_are_not_utf16_text_stay_binary(data: bytes):
    """Zeros on both sides of the byte pairs, a NUL character, or no zero byte worth the name: not text."""
    assert decode_text(data) is None
