"""Dataset ingestion: accepted formats, checks at the door, and bad input that leaves nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from datasets_mount.synthetic import cohort
from enclave import audit
from enclave.db import session_scope
from enclave_ops.cli import main
from tests.identifiers import faker_resident_ids


def run(*args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(main, [*args, "--json"])
    return res.exit_code, json.loads(res.output)


@pytest.fixture
def imports(enclave_home: Path) -> Path:
    d = enclave_home / "import"
    d.mkdir(parents=True)
    return d


def ingest(path: Path, name: str = "cohort", version: str = "v1", tier: str = "2", *extra: str) -> tuple[int, dict]:
    return run("dataset", "ingest", str(path), "--name", name, "--version", version, "--tier", tier, *extra)


def stored(enclave_home: Path) -> list[str]:
    root = enclave_home / "datasets"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_csv_in_utf8_and_gbk_tsv_excel_parquet_folder(imports: Path, enclave_home: Path):
    df = cohort(10_000)
    folder = imports / "batch"
    folder.mkdir()
    df.write_csv(folder / "a.csv")
    (folder / "b.csv").write_bytes(df.write_csv().encode("gb18030"))
    df.write_csv(folder / "c.tsv", separator="\t")
    df.write_parquet(folder / "d.parquet")
    df.write_excel(folder / "e.xlsx")
    code, rep = ingest(folder)
    assert code == 0, rep
    assert [f["rows"] for f in rep["files"]] == [10_000] * 5
    assert [f["source"].get("encoding") for f in rep["files"]][:3] == ["utf-8", "gb18030", "utf-8"]
    assert rep["files"][0]["kanon"]["quasi_identifiers"] == ["age_band", "sex", "region"]
    code, shown = run("dataset", "show", "cohort@v1")
    assert {f["path"] for f in shown["files"]} == {"a.parquet", "b.parquet", "c.parquet", "d.parquet", "e.parquet"}
    assert pl.read_parquet(Path(shown["location"]) / "b.parquet")["region"].to_list() == df["region"].to_list()
    assert run("dataset", "verify")[1]["ok"] is True


def test_verify_names_a_changed_file(imports: Path, enclave_home: Path):
    cohort(50).write_csv(imports / "x.csv")
    assert ingest(imports / "x.csv", "cohort", "v1", "2", "--quasi", "sex")[0] == 0
    target = enclave_home / "datasets" / "cohort" / "v1" / "x.parquet"
    os.chmod(target, 0o644)
    target.write_bytes(target.read_bytes() + b"tamper")
    code, rep = run("dataset", "verify")
    assert code == 1 and rep["datasets"][0]["problems"] == ["x.parquet: content changed (sha256 differs)"]


def test_direct_identifiers_refuse_the_dataset_and_name_the_column(imports: Path, enclave_home: Path):
    ids = faker_resident_ids(40)
    df = cohort(40).with_columns(pl.Series("id_no", ids))
    df.write_csv(imports / "ids.csv")
    code, rep = ingest(imports / "ids.csv")
    assert code == 2
    assert "column 'id_no' holds direct identifiers (CN_RESIDENT_ID, 40 rows" in rep["error"]
    assert not any(v in json.dumps(rep) for v in ids)  # counts, never values
    assert stored(enclave_home) == []
    with session_scope() as s:
        assert [r["action"] for r in audit.query(s, action="dataset.*")] == ["dataset.refused"]
    code, rep = ingest(imports / "ids.csv", "cohort", "v1", "2", "--override-reason", "column is hashed later")
    assert code == 0
    with session_scope() as s:
        assert {r["action"] for r in audit.query(s, action="dataset.*")} >= {"dataset.override", "dataset.ingest"}


def test_k_anonymity_reports_smallest_class_and_records_below_k(imports: Path):
    df = pl.DataFrame({"age": [30] * 10 + [41, 41, 77], "sex": ["F"] * 10 + ["M", "M", "F"], "y": list(range(13))})
    df.write_csv(imports / "k.csv")
    code, rep = ingest(imports / "k.csv")
    assert code == 2
    k = rep["files"][0]["kanon"]
    assert (k["smallest_class"], k["records_below_k"], k["k"]) == (1, 3, 5)
    code, rep = ingest(imports / "k.csv", "cohort", "v1", "2", "--quasi", "nope")
    assert code == 2 and "not in the table: nope" in rep["error"]


@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty"),
    (b"a,b\n", "no data rows"),
    (b"a,b\n\xff\xfe\xff,1\n", "neither UTF-8 nor GBK"),
    (b"PAR1\x00\x00garbage", "malformed or truncated parquet"),
])
def test_bad_files_get_clear_errors_and_nothing_is_stored(imports: Path, enclave_home: Path, content, expected):
    (imports / "bad.csv").write_bytes(content)
    code, rep = ingest(imports / "bad.csv")
    assert code == 2 and expected in rep["error"], rep
    assert stored(enclave_home) == []


def test_mixed_types_truncated_parquet_duplicates_and_paths(imports: Path, enclave_home: Path, tmp_path: Path):
    rows = "\n".join(str(i) for i in range(40))
    (imports / "mixed.csv").write_text("value\n" + rows + "\nn/a\n")
    code, rep = ingest(imports / "mixed.csv")
    assert code == 2 and "column 'value' mixes numbers and text (1 of 41" in rep["error"]
    cohort(100).write_parquet(imports / "t.parquet")
    data = (imports / "t.parquet").read_bytes()
    (imports / "t.parquet").write_bytes(data[: len(data) // 2])
    code, rep = ingest(imports / "t.parquet")
    assert code == 2 and "t.parquet" in rep["error"]
    cohort(20).write_csv(imports / "ok.csv")
    assert ingest(imports / "ok.csv", "cohort", "v1", "2", "--quasi", "sex")[0] == 0
    code, rep = ingest(imports / "ok.csv")
    assert code == 2 and "already exists; versions are never overwritten" in rep["error"]
    outside = tmp_path / "elsewhere.csv"
    cohort(20).write_csv(outside)
    code, rep = ingest(outside, "other")
    assert code == 2 and "outside the import area" in rep["error"]
    (imports / "link.csv").symlink_to(outside)
    code, rep = ingest(imports / "link.csv", "other")
    assert code == 2 and "outside the import area" in rep["error"]
    code, rep = ingest(imports / "ok.csv", "ident", "v1", "4")
    assert code == 2 and "refused by policy" in rep["error"]
    assert stored(enclave_home) == ["cohort", "cohort/v1", "cohort/v1/ok.parquet"]


def test_index_holds_keyed_digests_and_dummy_has_no_real_rows(imports: Path, enclave_home: Path):
    df = cohort(2000)
    df.write_csv(imports / "c.csv")
    code, rep = ingest(imports / "c.csv", "cohort", "v1", "2", "--quasi", "sex,region")
    assert code == 0, rep
    index = pl.read_parquet(enclave_home / "index" / "cohort" / "v1" / "c.parquet")
    ids = index.filter(pl.col("kind") == "identifier")
    assert set(ids["column"]) == {"study_id"} and ids.height == 2000
    import hashlib

    assert "S00000000" not in index["digest"].to_list()
    assert hashlib.sha256(b"S00000000").hexdigest()[:32] not in index["digest"].to_list()
    from enclave.pii.keyed import digest
    from enclave.settings import get_settings

    key = bytes.fromhex(get_settings().secret("dataset-index.key"))
    assert digest(key, "S00000007") in ids["digest"].to_list()
    assert (enclave_home / "index" / "cohort" / "v1" / "c.parquet").stat().st_mode & 0o077 == 0
    dummy = pl.read_parquet(enclave_home / "dummy" / "cohort" / "v1" / "c.parquet")
    real = pl.read_parquet(enclave_home / "datasets" / "cohort" / "v1" / "c.parquet")
    assert dummy.columns == df.columns and dummy.schema == real.schema
    assert not set(dummy["study_id"]) & set(df["study_id"])
    assert dummy["hba1c"].min() >= df["hba1c"].min() and dummy["hba1c"].max() <= df["hba1c"].max()
    assert set(dummy["region"]) <= set(df["region"])


def test_multi_sheet_workbook_is_refused_rather_than_partly_read(imports: Path, enclave_home: Path):
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(imports / "two.xlsx"))
    for sheet in ("cases", "controls"):
        ws = wb.add_worksheet(sheet)
        ws.write_row(0, 0, ["sex", "y"])
        for r in range(1, 11):
            ws.write_row(r, 0, ["F", r])
    wb.close()
    code, rep = ingest(imports / "two.xlsx")
    assert code == 2 and "the workbook has 2 sheets (cases, controls)" in rep["error"]
    assert stored(enclave_home) == []
