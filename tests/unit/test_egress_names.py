"""A file's name must say what it is: an unknown extension matches nothing, no extension only plain text."""

from __future__ import annotations

import pytest

from egress_review.filetypes import name_matches
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.mark.parametrize("name,detected,ok", [
    ("table.csv", "csv", True),
    ("TABLE.CSV", "csv", True),
    ("table.dat", "csv", False),         # an extension the enclave does not know matches nothing
    ("model.bin", "pickle", False),
    ("plot.xyz", "png", False),
    (".gitignore", "txt", True),          # a dot file has no extension: plain text
    ("README", "txt", True),              # no extension: plain text only
    ("counts", "csv", True),
    ("results", "png", False),
    ("results", "pickle", False),
    ("my.dir/README", "png", False),      # the folder's dot is not the file's extension
    ("my.dir/README", "txt", True),
    ("out.zip!inner/x.csv", "csv", True),  # a zip member: its own name counts
    ("out.zip!inner/x.csv", "png", False),
    ("out.zip!LICENSE", "pickle", False),
])
def test_names_match_content_only_for_known_extensions(name: str, detected: str, ok: bool):
    assert name_matches(name, detected) is ok


def test_an_unknown_extension_is_a_blocking_finding_that_says_so():
    r = scan_bytes("plot.xyz", PNG, POLICY).to_dict()
    finding = next(f for f in r["findings"] if f["rule"] == "content-matches-name")
    assert r["verdict"] == "block" and "'.xyz', which is not a known type" in finding["detail"]
    r = scan_bytes("figure", PNG, POLICY).to_dict()
    assert any("has no extension" in f["detail"] for f in r["findings"]) and r["verdict"] == "block"
