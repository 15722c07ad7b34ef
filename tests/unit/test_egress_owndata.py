"""The own-data check compares outputs with the requesting project's approved datasets, never anyone else's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from enclave_ops.cli import main


def test_the_projects_own_data_is_recognised_in_outputs_and_no_other_projects(enclave_home: Path, two_projects):
    out = enclave_home / "out"
    out.mkdir()
    (out / "summary.csv").write_text("region,n\nA,120\nB,95\n")
    (out / "leak.txt").write_text(f"follow up S{7:08d} and S{9:08d}\n")
    (out / "rows.csv").write_text("id,tel\n" + f"S{3:08d},139{3:08d}\n")
    (out / "theirs.txt").write_text(f"call 137{5:08d} and 137{6:08d}\n")  # the clinic's, not the study's
    names = ("summary.csv", "leak.txt", "rows.csv", "theirs.txt")
    res = CliRunner().invoke(main, ["egress", "scan", *(str(out / n) for n in names), "--project", "study", "--json"])
    rows = {Path(r["path"]).name: r for r in json.loads(res.output)}
    assert rows["summary.csv"]["verdict"] == "pass" and rows["summary.csv"]["own_data_datasets"] == ["cohort@v1"]
    leak = [f for f in rows["leak.txt"]["findings"] if f["check"] == "own-data"]
    assert len(leak) == 2 and all(f["rule"] == "dataset-value" and "cohort@v1" in f["detail"] for f in leak)
    own = {f["rule"] for f in rows["rows.csv"]["findings"] if f["check"] == "own-data"}
    assert own == {"dataset-value", "same-record"}
    assert not [f for f in rows["theirs.txt"]["findings"] if f["check"] == "own-data"]
    # the clinic's own project does see them: the index is there, it is just not the study's
    res = CliRunner().invoke(main, ["egress", "scan", str(out / "theirs.txt"), "--project", "clinic", "--json"])
    assert {f["rule"] for f in json.loads(res.output)[0]["findings"] if f["check"] == "own-data"} == {
        "dataset-value"}


def test_without_a_project_the_scan_compares_with_no_dataset(enclave_home: Path, two_projects):
    (enclave_home / "leak.txt").write_text(f"follow up S{7:08d} and 137{5:08d}\n")
    res = CliRunner().invoke(main, ["egress", "scan", str(enclave_home / "leak.txt"), "--json"])
    row = json.loads(res.output)[0]
    assert row["own_data_datasets"] == [] and not [f for f in row["findings"] if f["check"] == "own-data"]
    res = CliRunner().invoke(main, ["egress", "scan", str(enclave_home / "leak.txt")])
    assert "own-data check not run: give --project" in res.output


def test_an_unknown_project_is_named_not_scanned_against_everything(enclave_home: Path, two_projects):
    (enclave_home / "note.txt").write_text("fine\n")
    res = CliRunner().invoke(main, ["egress", "scan", str(enclave_home / "note.txt"), "--project", "nosuch"])
    assert res.exit_code != 0 and "nosuch" in res.output and "Traceback" not in res.output
