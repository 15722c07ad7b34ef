"""k-anonymity at the door, at k − 1, k and k + 1, with k read from the shipped dataset policy.

`check_table` is the one decision ingestion takes on a table (`datasets_mount/ingest.py` refuses a file with
problems); the CLI test in test_ingest.py shows the refusal end to end.
"""

from __future__ import annotations

import polars as pl
import pytest

from datasets_mount.checks import check_table, choose_quasi, k_anonymity
from datasets_mount.reader import IngestError
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICIES = load_policies(REPO_ROOT / "policies")
K = POLICIES.datasets.k_anonymity


def classes(*sizes: int) -> pl.DataFrame:
    """One equivalence class per size on (age_band, sex), with a non-identifying outcome column."""
    bands, sexes = [], []
    for i, size in enumerate(sizes):
        bands += [f"{20 + 10 * (i // 2)}-{29 + 10 * (i // 2)}"] * size
        sexes += ["F" if i % 2 == 0 else "M"] * size
    return pl.DataFrame({"age_band": bands, "sex": sexes, "outcome": [i % 2 for i in range(len(bands))]})


def test_shipped_k_is_at_least_two():
    assert K >= 2  # k - 1 below must still be a class


@pytest.mark.parametrize(("smallest", "ok"), [(K - 1, False), (K, True), (K + 1, True)])
def test_k_anonymity_at_k_minus_one_k_and_k_plus_one(smallest: int, ok: bool):
    df = classes(K + 3, smallest, 2 * K)
    result = k_anonymity(df, ["age_band", "sex"], K)
    assert result.ok is ok
    assert (result.smallest_class, result.classes, result.k) == (smallest, 3, K)
    assert result.records_below_k == (0 if ok else smallest)


@pytest.mark.parametrize(("smallest", "refused"), [(K - 1, True), (K, False), (K + 1, False)])
def test_a_table_with_a_class_smaller_than_k_has_a_problem_naming_it(smallest: int, refused: bool):
    fc = check_table("t.csv", classes(2 * K, smallest), POLICIES, None)
    assert fc.kanon is not None and fc.kanon.quasi_identifiers == ["age_band", "sex"]
    if refused:
        assert fc.problems == [f"quasi-identifiers age_band, sex are not {K}-anonymous: smallest class has "
                               f"{smallest} records, {smallest} records are in classes below k"]
    else:
        assert fc.problems == []


def test_records_below_k_counts_every_record_in_every_small_class():
    result = k_anonymity(classes(1, K - 1, K, 3 * K), ["age_band", "sex"], K)
    assert (result.records_below_k, result.smallest_class, result.classes, result.ok) == (K, 1, 4, False)


def test_a_single_record_class_is_caught_at_k_equal_two():
    df = classes(2, 1)
    assert not k_anonymity(df, ["age_band", "sex"], 2).ok
    assert k_anonymity(df, ["age_band", "sex"], 1).ok


def test_quasi_identifiers_are_suggested_by_name_whatever_the_case():
    df = pl.DataFrame({"Age_Band": ["20-29"], "SEX": ["F"], "outcome": [1]})
    assert choose_quasi(df, None, POLICIES) == ["Age_Band", "SEX"]


def test_declared_quasi_identifiers_replace_the_suggested_ones():
    df = classes(K, K)
    assert choose_quasi(df, ["sex"], POLICIES) == ["sex"]
    fc = check_table("t.csv", classes(1, 2 * K), POLICIES, ["outcome"])
    assert fc.kanon is not None and fc.kanon.quasi_identifiers == ["outcome"]


def test_declared_quasi_identifier_missing_from_the_table_is_an_error_naming_it():
    with pytest.raises(IngestError, match="not in the table: postcode, dob"):
        choose_quasi(classes(K), ["sex", "postcode", "dob"], POLICIES)


def test_a_table_without_quasi_identifiers_has_no_k_anonymity_result():
    fc = check_table("t.csv", pl.DataFrame({"outcome": [1, 0, 1]}), POLICIES, None)
    assert fc.kanon is None and fc.problems == []


def test_a_column_of_direct_identifiers_is_a_problem_even_when_k_anonymous():
    df = classes(K, K).with_columns(pl.Series("contact", ["13812345678"] * (2 * K)))
    fc = check_table("t.csv", df, POLICIES, None)
    assert fc.kanon is not None and fc.kanon.ok
    assert len(fc.problems) == 1 and fc.problems[0].startswith("column 'contact' holds direct identifiers (CN_PHONE")
    assert "13812345678" not in str(fc.to_dict())


def test_the_check_of_a_table_names_it_and_reports_its_shape_and_classes():
    df = classes(K, K + 1).with_columns(pl.Series("contact", ["13812345678"] * (2 * K + 1)))
    fc = check_table("visits.csv", df, POLICIES, None)
    assert (fc.file, fc.rows, fc.columns) == ("visits.csv", 2 * K + 1, 4)
    assert [(i["column"], i["entity"]) for i in fc.identifiers] == [("contact", "CN_PHONE")]
    d = fc.to_dict()
    assert d["kanon"] == {"quasi_identifiers": ["age_band", "sex"], "k": K, "smallest_class": K, "classes": 2,
                          "records_below_k": 0}
    assert d["file"] == "visits.csv" and d["identifiers"] == fc.identifiers
    assert sorted(d) == ["columns", "file", "identifiers", "kanon", "problems", "rows", "source"]  # the report's keys
    assert check_table("t.csv", pl.DataFrame({"outcome": [1]}), POLICIES, None).to_dict()["kanon"] is None
