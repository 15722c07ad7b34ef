"""Export requests cannot smuggle files through links, `..`, devices, races, hidden characters or sheer size,
and the workspace is read as the workspace user, never as root."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from egress_review import reader
from egress_review.collect import CollectError, collect, collect_one
from enclave.settings import WORKSPACE_GID, WORKSPACE_UID
from tests.conftest import flipping

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reading as the workspace user needs root to start")

INSIDE, SECRET = b"inside the workspace\n", b"SECRET host file\n"


def make_workspace(tmp_path: Path) -> Path:
    """A workspace owned by the workspace user, next to host files the workspace user could read."""
    os.chmod(tmp_path, 0o755)
    w = tmp_path / "workspace"
    (w / "results").mkdir(parents=True)
    (w / "results" / "table.csv").write_text("g,n\na,50\n")
    (tmp_path / "dataset.csv").write_text("secret rows\n")
    os.chown(w, WORKSPACE_UID, WORKSPACE_GID)
    os.chmod(w, 0o770)
    return w


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


def test_a_plain_file_is_collected(ws: Path):
    assert collect_one(ws, "results/table.csv", 1000) == ("results/table.csv", b"g,n\na,50\n")
    assert collect_one(ws, "/workspace/results/table.csv", 1000)[0] == "results/table.csv"


@pytest.mark.parametrize("path,message", [
    ("../dataset.csv", "only paths inside"),
    ("/etc/passwd", "only paths inside"),
    ("results/../../dataset.csv", "only paths inside"),
    ("results/missing.csv", "no such file"),
    ("results/ta\x1bble.csv", "control characters"),
])
def test_paths_outside_or_odd_are_refused(ws: Path, path: str, message: str):
    with pytest.raises(CollectError, match=message):
        collect_one(ws, path, 1000)


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "\u200b",
                                  "\u2060", "\ufeff", "\u00ad", "\u3164", "\ufe0f"])
def test_names_with_invisible_or_direction_changing_characters_are_refused(ws: Path, char: str):
    name = f"results/report{char}vsc.csv"
    (ws / name).write_text("g,n\na,50\n")
    with pytest.raises(CollectError, match=f"invisible or direction-changing characters \\(U\\+{ord(char):04X}\\)"
                       ) as exc:
        collect_one(ws, name, 1000)
    assert char not in str(exc.value)  # the message spells the character out instead of showing it


@pytest.mark.parametrize("name,message", [
    ("results/\ufb01le.csv", "compatibility characters"),   # the ligature fi reads as "file.csv"
    ("results/\uff46ile.csv", "compatibility characters"),  # a full-width f
    ("results/A\u030a.csv", "normal form"),                 # A and a combining ring: the decomposed form of Å
])
def test_names_that_read_as_another_name_are_refused(ws: Path, name: str, message: str):
    with pytest.raises(CollectError, match=message):
        collect_one(ws, name, 1000)


def test_chinese_names_with_full_width_punctuation_are_collected(ws: Path):
    name = "results/报告（终稿）.csv"
    (ws / name).write_text("g,n\na,50\n")
    assert collect_one(ws, name, 1000)[0] == name


def test_links_devices_and_size(ws: Path):
    (ws / "link.csv").symlink_to(ws.parent / "dataset.csv")
    with pytest.raises(CollectError, match="symbolic links"):
        collect_one(ws, "link.csv", 1000)
    (ws / "dirlink").symlink_to(ws.parent)
    with pytest.raises(CollectError, match="'dirlink' is a symbolic link"):
        collect_one(ws, "dirlink/dataset.csv", 1000)
    (ws / "results" / "deeper").symlink_to("..")
    with pytest.raises(CollectError, match="'deeper' is a symbolic link"):
        collect_one(ws, "results/deeper/results/table.csv", 1000)
    os.link(ws / "results" / "table.csv", ws / "hard.csv")
    with pytest.raises(CollectError, match="2 hard links"):
        collect_one(ws, "hard.csv", 1000)
    os.mkfifo(ws / "pipe")
    with pytest.raises(CollectError, match="not a regular file"):
        collect_one(ws, "pipe", 1000)
    with pytest.raises(CollectError, match="not a regular file"):
        collect_one(ws, "results", 1000)
    with open(ws / "sparse.bin", "wb") as fh:
        fh.truncate(10**9)  # a sparse file: tiny on disk, huge to read
    with pytest.raises(CollectError, match="over the limit"):
        collect_one(ws, "sparse.bin", 16 * 1024**2)


def test_files_are_read_as_the_workspace_user_not_root(ws: Path):
    """A file in the workspace that only root may read (left by a mistake, or a hard link) stays unread."""
    (ws / "root-only.csv").write_bytes(SECRET)
    os.chmod(ws / "root-only.csv", 0o600)
    with pytest.raises(CollectError, match="workspace user cannot read it"):
        collect_one(ws, "root-only.csv", 1000)


def test_the_reader_refuses_to_keep_root():
    with pytest.raises(SystemExit, match="never reads as root"):
        reader.become(0, 0)


def test_one_bad_file_means_nothing_is_read(ws: Path):
    (ws / "ok.csv").write_text("g,n\na,50\n")
    (ws / "bad.csv").symlink_to(ws.parent / "dataset.csv")
    sunk: list[bytes] = []
    with pytest.raises(CollectError, match="bad.csv: 'bad.csv' is a symbolic link") as exc:
        collect(ws, ["ok.csv", "bad.csv", "missing.csv"], 1000, 10_000, lambda chunks: sunk.extend(chunks))
    assert "missing.csv: no such file" in str(exc.value) and sunk == []


def test_the_request_total_is_limited(ws: Path):
    for i in range(3):
        (ws / f"part{i}.csv").write_bytes(b"x" * 600)
    with pytest.raises(CollectError, match="add up to 1800 bytes, over the limit of 1500 per request"):
        collect(ws, ["part0.csv", "part1.csv", "part2.csv"], 1000, 1500, lambda chunks: b"".join(chunks))


def test_files_arrive_in_chunks_and_a_request_is_never_in_memory_whole(ws: Path):
    """Five files of 3 MiB go to the sink chunk by chunk: the collector's own memory stays near one chunk."""
    size = 3 * 1024**2
    for i in range(5):
        (ws / f"big{i}.bin").write_bytes(os.urandom(size))
    seen: list[int] = []

    def sink(chunks):  # type: ignore[no-untyped-def]
        total = 0
        for c in chunks:
            seen.append(len(c))
            total += len(c)
        return total

    tracemalloc.start()
    try:
        got = collect(ws, [f"big{i}.bin" for i in range(5)], size, 5 * size, sink)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [n for _, n in got] == [size] * 5
    assert max(seen) <= reader.CHUNK and peak < 3 * reader.CHUNK, (max(seen), peak)


@pytest.fixture
def racing_workspace(tmp_path: Path) -> tuple[Path, Path, Path]:
    """`flip/` is a real folder; `flipl` a link to a host folder holding a file of the same name."""
    ws = make_workspace(tmp_path)
    (ws / "flip").mkdir()
    (ws / "flip" / "data.csv").write_bytes(INSIDE)
    (tmp_path / "host").mkdir(mode=0o755)
    (tmp_path / "host" / "data.csv").write_bytes(SECRET)
    os.chmod(tmp_path / "host" / "data.csv", 0o644)  # readable by the workspace user: only the lookup protects
    (ws / "flipl").symlink_to("../host")
    return ws, ws / "flip", ws / "flipl"


@pytest.mark.parametrize("openat2", [True, False], ids=["openat2", "openat-walk"])
def test_a_folder_swapped_for_a_link_in_a_race_never_opens_a_host_file(racing_workspace, openat2: bool,
                                                                       monkeypatch: pytest.MonkeyPatch):
    """Thousands of opens while another process swaps the folder and the link thousands of times."""
    ws, a, b = racing_workspace
    monkeypatch.setattr(reader, "_have_openat2", None if openat2 else False)
    root = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    read, refused = [], 0
    try:
        with flipping(a, b, 2.0) as swaps:
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                try:
                    fd = reader.open_beneath(root, "flip/data.csv")
                except OSError:
                    refused += 1
                    continue
                read.append(os.read(fd, 100))
                os.close(fd)
    finally:
        os.close(root)
    assert swaps[0] > 1000 and len(read) + refused > 1000, (swaps, len(read), refused)
    assert set(read) == {INSIDE} and refused > 0, (len(read), refused)


def test_export_requests_during_a_folder_link_race_never_get_a_byte_from_outside(racing_workspace):
    """The whole collection (child process as the workspace user, streamed back) under the same race."""
    ws, a, b = racing_workspace
    got, refusals, refused = [], set(), 0
    with flipping(a, b, 30.0) as swaps:  # at least 3 s and 20 collections (each starts a reader), at most 30 s
        start = time.monotonic()
        while time.monotonic() - start < 30 and (time.monotonic() - start < 3 or len(got) + refused < 20):
            try:
                got.append(collect_one(ws, "flip/data.csv", 1000)[1])
            except CollectError as exc:
                refusals.add(str(exc))
                refused += 1
    assert swaps[0] > 1000 and len(got) + refused >= 20, (swaps, len(got), refused)
    assert set(got) <= {INSIDE} and got, (got[:3], refusals)
    assert refusals <= {"flip/data.csv: 'flip' is a symbolic link; symbolic links are refused",
                        "flip/data.csv: a symbolic link is on the path; symbolic links are refused"}
