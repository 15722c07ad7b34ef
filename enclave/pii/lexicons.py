"""The name lexicons a scan reads, derived once from the lists the packages ship and kept in one cache file.

Deriving them (jieba's dictionary sorted into a word table and counted for given-name characters,
pypinyin's tables read for syllables and surname readings, gender-guesser's name dictionary parsed)
costs about half a second of CPU at the start of every cold scan, most of the time a small file's
scan takes. They are derived from packaged files only, never downloaded, and written to one Arrow
file under the enclave's cache directory (`Settings.lexicon_cache`); its name carries a fingerprint
of the format, of the code that derives them and of each source file (path, size, modification
time), so an upgraded package or a changed derivation makes a new file, and the old one is removed.
`scripts/setup.sh` builds it at install time (`python -m enclave.pii.names`); a scan that finds none
builds it then, and where the directory cannot be written, derives the lexicons in memory as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

log = logging.getLogger(__name__)

FORMAT = 1
PREFIX = "name-lexicons-"
Tables = dict[str, pl.DataFrame]  # by name, each a frame of `value` (text) and `number` (an integer or null)


def fingerprint(sources: Iterable[Path], code: Iterable[Path]) -> str:
    """What the derived lexicons depend on: the format, the deriving code (its text) and each source file."""
    # the Unicode tables too: the derivation folds tone marks with unicodedata
    h = hashlib.sha256(f"format {FORMAT} unicode {unicodedata.unidata_version}\n".encode())
    for path in code:
        h.update(path.read_bytes())
    for path in sources:
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _to_frame(tables: Tables) -> pl.DataFrame:
    """One frame: an index (its own length, then each table's name and height), then the tables in turn."""
    index = [("index", len(tables)), *((kind, t.height) for kind, t in tables.items())]
    head = pl.DataFrame({"value": [k for k, _ in index], "number": [n for _, n in index]},
                        schema={"value": pl.Utf8, "number": pl.Int64})
    return pl.concat([head, *(t.select(pl.col("value").cast(pl.Utf8), pl.col("number").cast(pl.Int64))
                              for t in tables.values())])


def _from_frame(frame: pl.DataFrame) -> Tables:
    """The tables back, cut out of the frame by the index (slices: nothing copied)."""
    first = frame.row(0)
    if first[0] != "index":
        raise ValueError("not a lexicon cache file")
    out, at = {}, 1 + int(first[1])
    for kind, height in frame.slice(1, int(first[1])).iter_rows():
        out[str(kind)] = frame.slice(at, int(height))
        at += int(height)
    if at != frame.height:
        raise ValueError("lexicon cache file of the wrong length")
    return out


def _store(directory: Path, name: str, tables: Tables) -> None:
    """Written whole or not at all (a temporary file renamed), and the files of other fingerprints removed."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".arrow")
    try:
        with os.fdopen(fd, "wb") as out:
            _to_frame(tables).write_ipc(out, compression="lz4")
        os.replace(tmp, directory / name)
    finally:
        Path(tmp).unlink(missing_ok=True)
    for old in directory.glob(f"{PREFIX}*.arrow"):
        if old.name != name:
            old.unlink(missing_ok=True)


def load_or_build(directory: Path | None, sources: list[Path], code: list[Path],
                  build: Callable[[], Tables]) -> Tables:
    """The lexicons from the cache file for this fingerprint, else built (and stored when `directory` allows)."""
    if directory is None:
        return build()
    name = f"{PREFIX}{fingerprint(sources, code)}.arrow"
    path = directory / name
    if path.is_file():
        try:
            return _from_frame(pl.read_ipc(path))
        except Exception:  # a damaged cache file is rebuilt, never trusted in part
            log.warning("lexicon cache %s unreadable: rebuilt", path)
    tables = build()
    try:
        _store(directory, name, tables)
    except OSError as exc:  # a read-only home: the lexicons are derived in memory, as without a cache
        log.info("lexicon cache not written to %s: %s", directory, exc)
    return tables
