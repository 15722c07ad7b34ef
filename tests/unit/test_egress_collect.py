"""Export requests cannot smuggle files through links, `..`, devices or sheer size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egress_review.collect import CollectError, collect


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    w = tmp_path / "workspace"
    (w / "results").mkdir(parents=True)
    (w / "results" / "table.csv").write_text("g,n\na,50\n")
    (tmp_path / "dataset.csv").write_text("secret rows\n")
    return w


def test_a_plain_file_is_collected(ws: Path):
    assert collect(ws, "results/table.csv", 1000) == ("results/table.csv", b"g,n\na,50\n")
    assert collect(ws, "/workspace/results/table.csv", 1000)[0] == "results/table.csv"


@pytest.mark.parametrize("path,message", [
    ("../dataset.csv", "only paths inside"),
    ("/etc/passwd", "only paths inside"),
    ("results/../../dataset.csv", "only paths inside"),
    ("results/missing.csv", "no such file"),
    ("results/ta\x1bble.csv", "control characters"),
])
def test_paths_outside_or_odd_are_refused(ws: Path, path: str, message: str):
    with pytest.raises(CollectError, match=message):
        collect(ws, path, 1000)


def test_links_devices_and_size(ws: Path):
    (ws / "link.csv").symlink_to(ws.parent / "dataset.csv")
    with pytest.raises(CollectError, match="symbolic links"):
        collect(ws, "link.csv", 1000)
    (ws / "dirlink").symlink_to(ws.parent)
    with pytest.raises(CollectError, match="'dirlink' is a symbolic link"):
        collect(ws, "dirlink/dataset.csv", 1000)
    os.link(ws.parent / "dataset.csv", ws / "hard.csv")
    with pytest.raises(CollectError, match="2 hard links"):
        collect(ws, "hard.csv", 1000)
    os.mkfifo(ws / "pipe")
    with pytest.raises(CollectError, match="not a regular file"):
        collect(ws, "pipe", 1000)
    with open(ws / "sparse.bin", "wb") as fh:
        fh.truncate(10**9)  # a sparse file: tiny on disk, huge to read
    with pytest.raises(CollectError, match="over the limit"):
        collect(ws, "sparse.bin", 16 * 1024**2)
