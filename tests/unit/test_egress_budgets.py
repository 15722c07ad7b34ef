"""Tiny uploads that would hold the checker for minutes: the zip ratio applies to every member of 64 KiB
or more and to the whole archive, findings of one kind are capped, and the checks of one file have a CPU
budget. Each limit blocks the file (never passes it) and says which limit it was."""

from __future__ import annotations

import io
import zipfile

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def rules(result) -> set[str | None]:
    found = [*result.findings, *(f for m in result.members for f in m.findings)]
    return {f.rule for f in found if f.verdict == Verdict.BLOCK}


def test_a_member_of_exactly_one_mib_that_unpacks_a_thousandfold_is_refused():
    result = scan_bytes("out.zip", archive({"f.txt": b"a" * (1 << 20)}), POLICY)
    assert result.verdict == Verdict.BLOCK and "max_zip_ratio" in rules(result) and not result.members
    small = scan_bytes("out.zip", archive({"f.txt": b"a" * (64 << 10)}), POLICY)
    assert small.verdict == Verdict.BLOCK and "max_zip_ratio" in rules(small)


def test_an_archive_of_small_members_that_unpacks_far_beyond_its_size_is_refused():
    members = {f"f{i}.txt": b"a" * (60 << 10) for i in range(200)}  # each under 64 KiB; 12 MB from ~60 KB
    result = scan_bytes("out.zip", archive(members), POLICY)
    assert result.verdict == Verdict.BLOCK and "max_zip_ratio" in rules(result) and not result.members


def test_an_ordinary_archive_of_tables_still_passes():
    table = "".join(f"region{i},{100 + i * 7}\n" for i in range(2000)).encode()
    assert scan_bytes("out.zip", archive({"t.csv": b"region,count\n" + table}), POLICY).verdict == Verdict.PASS


def test_findings_over_the_cap_stop_the_checks_and_block_the_file():
    phones = " ".join(f"1381234{i:04d}" for i in range(3000)).encode()
    capped = POLICY.model_copy(update={"max_findings_per_kind": 50})
    result = scan_bytes("many.txt", phones, capped)
    assert result.verdict == Verdict.BLOCK
    assert any(f.detail.startswith("too many findings to list") for f in result.findings)
    assert len(result.findings) <= 52


def test_checks_that_overrun_their_cpu_budget_block_the_file_never_pass_it():
    safe = b"region,count\n" + "".join(f"r{i},{100 + i}\n" for i in range(3000)).encode()
    assert scan_bytes("t.csv", safe, POLICY).verdict == Verdict.PASS
    hurried = POLICY.model_copy(update={"max_check_seconds": 1e-6})
    result = scan_bytes("t.csv", safe, hurried)
    assert result.verdict == Verdict.BLOCK
    assert any(f.detail.startswith("the checks could not finish within") for f in result.findings)


def test_the_members_of_an_archive_share_one_cpu_budget():
    table = b"region,count\n" + "".join(f"r{i},{100 + i}\n" for i in range(500)).encode()
    hurried = POLICY.model_copy(update={"max_check_seconds": 1e-6})
    result = scan_bytes("out.zip", archive({"a.csv": table, "b.csv": table}), hurried)
    assert result.verdict == Verdict.BLOCK
    assert all(any("could not finish" in f.detail for f in m.findings) for m in result.members)
