"""The name lexicons' cache file: what it holds is what the packaged lists give, and it follows them."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from enclave.pii import lexicons, names


def _tables() -> lexicons.Tables:
    return {"words": pl.DataFrame({"value": ["a", "ab"], "number": [3, 0]}),
            "names": pl.DataFrame({"value": ["Ann"], "number": [None]}, schema={"value": pl.Utf8, "number": pl.Int64})}


def _same(a: lexicons.Tables, b: lexicons.Tables) -> bool:
    return list(a) == list(b) and all(a[k].equals(b[k]) for k in a)


def test_the_cached_lexicons_are_the_ones_derived_from_the_packaged_lists(tmp_path: Path):
    built = lexicons.load_or_build(tmp_path, names._lexicon_sources(), [Path(names.__file__)], names._derive_lexicons)
    read = lexicons.load_or_build(tmp_path, names._lexicon_sources(), [Path(names.__file__)],
                                  lambda: pytest.fail("the cache file was not read"))
    assert _same(built, read)
    words, total, longest = names._derive_word_table()
    assert read["words"].select(word="value", freq="number").equals(words)
    assert dict(read["totals"].iter_rows()) == {"total": total, "longest": longest}
    given, known = names._derive_name_lexicon()
    assert set(read["given"]["value"]) == given and set(read["known"]["value"]) == known
    assert set(read["pinyin_surnames"]["value"]) == names._derive_pinyin_surnames()
    assert set(read["pinyin_syllables"]["value"]) == names._derive_pinyin_syllables()
    assert set(read["english_first_names"]["value"]) == names._derive_english_first_names()


def test_a_changed_source_list_makes_a_new_cache_file_and_removes_the_old(tmp_path: Path):
    source, code, cache = tmp_path / "dict.txt", tmp_path / "code.py", tmp_path / "cache"
    source.write_text("a 3 n\n")
    code.write_text("# v1\n")
    lexicons.load_or_build(cache, [source], [code], _tables)
    first = sorted(p.name for p in cache.iterdir())
    source.write_text("a 3 n\nab 1 n\n")
    calls = []
    lexicons.load_or_build(cache, [source], [code], lambda: calls.append(1) or _tables())
    assert calls == [1]  # derived again
    second = sorted(p.name for p in cache.iterdir())
    assert len(first) == len(second) == 1 and first != second


def test_a_changed_derivation_makes_a_new_cache_file(tmp_path: Path):
    source, code = tmp_path / "dict.txt", tmp_path / "code.py"
    source.write_text("a 3 n\n")
    code.write_text("# v1\n")
    before = lexicons.fingerprint([source], [code])
    code.write_text("# v2\n")
    assert lexicons.fingerprint([source], [code]) != before


def test_a_damaged_cache_file_is_rebuilt_not_trusted(tmp_path: Path):
    source, code = tmp_path / "dict.txt", tmp_path / "code.py"
    source.write_text("a 3 n\n")
    code.write_text("# v1\n")
    lexicons.load_or_build(tmp_path / "cache", [source], [code], _tables)
    (cached,) = (tmp_path / "cache").iterdir()
    cached.write_bytes(cached.read_bytes()[:40])
    assert _same(lexicons.load_or_build(tmp_path / "cache", [source], [code], _tables), _tables())
    assert _same(lexicons.load_or_build(tmp_path / "cache", [source], [code], lambda: pytest.fail("not read")),
                 _tables())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_an_unwritable_cache_directory_still_gives_the_lexicons(tmp_path: Path):
    source, code, cache = tmp_path / "dict.txt", tmp_path / "code.py", tmp_path / "cache"
    source.write_text("a 3 n\n")
    code.write_text("# v1\n")
    cache.mkdir()
    cache.chmod(0o500)
    assert _same(lexicons.load_or_build(cache, [source], [code], _tables), _tables())


def test_a_cache_directory_that_cannot_be_made_still_gives_the_lexicons(tmp_path: Path):
    source, code = tmp_path / "dict.txt", tmp_path / "code.py"
    source.write_text("a 3 n\n")
    code.write_text("# v1\n")
    (tmp_path / "file").write_text("not a directory")
    assert _same(lexicons.load_or_build(tmp_path / "file" / "cache", [source], [code], _tables), _tables())
