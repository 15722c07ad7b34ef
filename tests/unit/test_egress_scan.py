"""Automated export checks: content types, personal data wherever it hides, disclosure control, models."""

from __future__ import annotations

import base64
import io
import json
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from enclave_ops.cli import main
from policies import load_policies
from tests.identifiers import RID

POLICY = load_policies(REPO_ROOT / "policies").egress


def scan(name: str, data: bytes, policy=POLICY) -> dict:
    return scan_bytes(name, data, policy).to_dict()


def entities(result: dict) -> set[str]:
    return {f.get("entity") for f in result["findings"]} - {None}


def png_with_text(key: str, text: str, compressed: bool = False) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    body = key.encode() + b"\x00" + (b"\x00" + zlib.compress(text.encode("latin-1")) if compressed else
                                     text.encode("latin-1"))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"zTXt" if compressed else b"tEXt", body)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def test_clean_statistics_pass():
    r = scan("table.csv", b"diagnosis,n,mean_hba1c\nE11,120,7.1\nI10,85,6.2\n")
    assert r["verdict"] == "pass" and r["findings"] == []
    r = scan("notes.md", b"Study period 2019-01-01 to 2023-12-31; p = 0.0123456789; masked 138****5678.")
    assert r["verdict"] == "pass", r


def test_type_by_content_and_names_that_lie():
    assert scan("plot.png", b"a,b\n1,2\n3,4\n")["findings"][0]["rule"] == "content-matches-name"
    r = scan("tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 50)
    assert r["type"] == "binary" and r["verdict"] == "block"
    assert scan("f.png", png_with_text("Comment", "hello"))["type"] == "png"


def test_identifiers_in_text_fullwidth_and_encoded():
    full = RID.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert "CN_RESIDENT_ID" in entities(scan("a.txt", f"证件号 {full}".encode()))
    blob = base64.b64encode(f"patient id card {RID}".encode()).decode()
    r = scan("b.txt", f"payload={blob}".encode())
    assert any(f.get("location", {}).get("decoded") == "base64" for f in r["findings"]) and r["verdict"] == "block"
    r = scan("c.txt", f"hex {b'phone 13812345678'.hex()}".encode())
    assert "CN_PHONE" in entities(r)


def test_identifiers_in_notebook_outputs_and_json_found_image_metadata_dropped():
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "df.head()", "metadata": {}, "outputs": [
            {"output_type": "execute_result", "data": {"text/html": f"<td title='{RID}'>x</td>",
                                                        "text/plain": "ok"}, "metadata": {}},
            {"output_type": "display_data", "data": {"image/png": base64.b64encode(
                png_with_text("Author", "li.hua@hospital.cn")).decode()}, "metadata": {}}]}]}
    result = scan_bytes("analysis.ipynb", json.dumps(nb).encode(), POLICY)
    locs = {(f.entity, f.location.get("cell"), f.location.get("part")) for f in result.findings}
    assert ("CN_RESIDENT_ID", 0, "text/html") in locs
    image = json.loads(result.rebuilt)["cells"][0]["outputs"][1]["data"]["image/png"]
    assert b"li.hua" not in base64.b64decode(image)  # the image output was re-encoded from its pixels
    assert "CN_PHONE" in entities(scan("d.json", json.dumps({"a": [{"tel": "13912345678"}]}).encode()))
    png = scan_bytes("e.png", png_with_text("Description", RID, compressed=True), POLICY)
    assert png.rebuilt and b"zTXt" not in png.rebuilt and "metadata chunks dropped: zTXt" in png.rebuild_notes
    jpeg = b"\xff\xd8\xff\xfe" + struct.pack(">H", 2 + 16) + b"tel 13812345678 " + b"\xff\xd9"
    broken = scan_bytes("f.jpg", jpeg, POLICY)  # a comment and no image: nothing to re-encode
    assert broken.verdict == "block" and broken.rebuilt is None


def test_identifiers_in_tables_name_row_and_column():
    r = scan("t.csv", f"group,contact\nA,13812345678\nB,{RID}\n".encode())
    locs = {(f["entity"], f["location"]["row"], f["location"]["column"]) for f in r["findings"] if "entity" in f}
    assert locs == {("CN_PHONE", 1, "contact"), ("CN_RESIDENT_ID", 2, "contact")}
    assert RID not in json.dumps(r)


def test_small_counts_zeros_and_opensafely_rounding():
    r = scan("c.csv", b"region,n\nA,120\nB,4\nC,0\n")
    rules = {(f["rule"], f["location"]["row"]) for f in r["findings"]}
    assert rules == {("threshold>=10", 2), ("zeros", 3)}
    os_policy = POLICY.model_copy(update={"sdc": POLICY.sdc.model_copy(update={"mode": "opensafely"})})
    r = scan("c.csv", b"region,count\nA,120\nB,7\nC,33\nD,15\n", os_policy)
    assert {(f["rule"], f["location"]["row"]) for f in r["findings"]} == {("redact<=7", 2), ("round-to-5", 3)}


def test_dominance_p_percent_and_residual_df():
    r = scan("d.csv", b"sector,n,total,top1,top2\nA,40,1000,850,100\nB,40,1000,300,200\n")
    assert {f["rule"].split()[0] for f in r["findings"]} == {"dominance", "p%=0.1"}
    assert all(f["location"]["row"] == 1 for f in r["findings"])
    r = scan("ols.txt", b"OLS Regression Results\nNo. Observations: 12\nDf Residuals: 8\n")
    assert r["findings"][0]["rule"] == "residual_df>=10"
    assert scan("ols2.txt", b"Df Residuals: 480\n")["verdict"] == "pass"


def test_row_level_extracts():
    df = pl.DataFrame({"patient_id": [f"P{i}" for i in range(30)], "y": list(range(30))})
    buf = io.BytesIO()
    df.write_parquet(buf)
    r = scan("x.parquet", buf.getvalue())
    assert any(f["rule"] == "identifying-column" and f["location"]["column"] == "patient_id" for f in r["findings"])
    big = pl.DataFrame({"g": ["a", "b"] * 3000, "v": [1.5] * 6000}).write_csv().encode()
    assert any(f["rule"] == "row_cap=5000" for f in scan("big.csv", big)["findings"])


def test_archives_are_unpacked_or_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ok.csv", "g,n\na,50\n")
        z.writestr("inner/ids.txt", f"id {RID}")
    r = scan("out.zip", buf.getvalue())
    assert r["verdict"] == "block" and [m["verdict"] for m in r["members"]] == ["pass", "block"]
    refuse = POLICY.model_copy(update={"archives": "refuse"})
    assert scan("out.zip", buf.getvalue(), refuse)["findings"][0]["rule"] == "archives"


def _fit(model):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return model.fit(X, (X[:, 0] > 0).astype(int))


def test_pickled_models_are_inspected_without_being_run():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    for model in (SVC(), KNeighborsClassifier()):
        r = scan("model.pkl", pickle.dumps(_fit(model)))
        assert r["type"] == "pickle" and r["verdict"] == "block"
        assert {"binary-output", "stores-rows"} <= {f["rule"] for f in r["findings"]}
    leafy = scan("tree.pkl", pickle.dumps(_fit(DecisionTreeClassifier(min_samples_leaf=1))))
    assert leafy["verdict"] == "block" and any("min_samples_leaf=1" in f["detail"] for f in leafy["findings"])
    forest = scan("rf.pkl", pickle.dumps(_fit(RandomForestClassifier(n_estimators=3, min_samples_leaf=2))))
    assert forest["verdict"] == "block"
    safe = scan("tree.pkl", pickle.dumps(_fit(DecisionTreeClassifier(min_samples_leaf=10)), protocol=2))
    # never passes automatically, but a reviewer may approve it
    assert safe["verdict"] == "review" and {f["rule"] for f in safe["findings"]} == {"binary-output"}
    evil = b"cos\nsystem\n(S'touch /tmp/pwned-by-egress-test'\ntR."
    r = scan("evil.pkl", b"\x80\x02" + evil)
    assert r["verdict"] == "block" and "os.system" in json.dumps(r["findings"])
    assert not Path("/tmp/pwned-by-egress-test").exists()


def test_spreadsheet_formulas_are_flagged():
    r = scan("t.csv", b"g,n,link\na,120,=HYPERLINK(\"http://x\")\nb,130,-5\n")
    f = [x for x in r["findings"] if x["rule"] == "spreadsheet-formula"]
    assert r["verdict"] == "review" and f[0]["location"] == {"row": 1, "column": "link"} and len(f) == 1


def test_per_project_disclosure_control():
    from policies.schema import DisclosureControl

    policy = POLICY.model_copy(update={"project_sdc": {"os-study": DisclosureControl(mode="opensafely")}})
    table = b"g,n\na,12\nb,15\n"
    assert scan("t.csv", table, policy.for_project("other"))["verdict"] == "pass"
    r = scan("t.csv", table, policy.for_project("os-study"))
    assert r["verdict"] == "block" and r["findings"][0]["rule"] == "round-to-5"


def test_script_bearing_html_is_refused_only_when_present():
    assert scan("p.html", b"<html><body><p>n=120</p></body></html>")["verdict"] == "pass"
    r = scan("x.html", b"<html><body><img src=x onerror=alert(1)></body></html>")
    assert r["findings"][0]["rule"] == "no-script" and r["verdict"] == "block"


def test_cli_json_shape(tmp_path: Path):
    (tmp_path / "a.csv").write_text("g,n\na,3\n")
    (tmp_path / "b.csv").write_text("g,n\na,30\n")
    res = CliRunner().invoke(main, ["egress", "scan", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--json"])
    assert res.exit_code == 1
    rows = json.loads(res.output)
    assert [r["verdict"] for r in rows] == ["block", "pass"]
    f = rows[0]["findings"][0]
    assert {"check", "rule", "detail", "location", "verdict"} <= set(f) and f["location"] == {"row": 1, "column": "n"}
    assert rows[0]["rules"]["sdc"]["threshold"] == 10
