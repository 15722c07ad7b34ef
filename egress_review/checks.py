"""The automated checks; each returns findings, never a bare yes/no, and names the rule it applied."""

from __future__ import annotations

import pickletools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import polars as pl

from egress_review.extract import Segment
from egress_review.findings import Finding, Verdict
from egress_review.pickle_globals import is_safe
from egress_review.records import row_level  # noqa: F401
from egress_review.sdc import disclosure_control, residual_df  # noqa: F401
from egress_review.tables import formulas  # noqa: F401  (disclosure control, record shape, formulas: own modules)
from enclave.pii import normalize
from enclave.pii.cells import hidden_in_cells
from enclave.pii.columns import float_column_identifiers, float_identifiers, person_columns, split_identifiers
from enclave.pii.engine import CHUNK, Part, analyze, quick
from enclave.pii.entities import BLOCKING as ENTITY_BLOCKING
from enclave.pii.entities import Entity
from enclave.pii.normalize import _ESCAPES, decoded_texts, expand_scientific
from enclave.pii.prefilter import _PYTHON_ONLY_SPACE, DIGIT_ID_MIN, candidates, loosened, recognizers_of, replaced
from enclave.pii.recognizers import RECOGNIZERS, Match, Recognizer
from policies.schema import EgressPolicy

BLOCKING = ENTITY_BLOCKING  # which kinds block and which go to review is declared on the Entity vocabulary
STORING_MODELS = ("sklearn.svm", "sklearn.neighbors")
TREE_MODELS = ("sklearn.tree", "sklearn.ensemble._forest", "sklearn.ensemble._gb", "sklearn.ensemble._iforest")


# Text worth handing to the recognisers at all: digits (any script), @, capitalised word pairs (also
# upper-case or accented: pinyin), titles, Chinese, spelled digits, character codes, invisible characters, blobs.
CANDIDATE = re.compile(r"\d{6}|\d[\d\s-]{8,}\d|@|[A-Z][\w'’-]*\s+(?:[A-Z]\.\s+)?[A-Z]|[\u4e00-\u9fff]"
                       r"|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\b|[A-Z]{1,3}\d{6,}|[:=]\s*[A-Z][a-z]|&#|\\[uxU][0-9A-Fa-f]"
                       r"|[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]|[A-Za-z0-9+/=]{20,}|wxid_"
                       r"|(?i:\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b[\s,-]+\b(?:zero|one|two|three|four|"
                       r"five|six|seven|eight|nine)\b)"
                       r"|\d (?:[a-z]+ ){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|close"
                       r"|crescent)\b"  # a lower-case street address
                       r"|\d{3}[./_xX]\d{4}[./_xX]\d{4}|[(（]\d{3}[)）]|\d(?:[.,/_;|]\d){10,}"  # other separators
                       rf"|{_ESCAPES.pattern}")  # every character code `fold` decodes (`%31`, `\x31`, `&#49;`)
NAME_HINT = r"[A-Z][a-z]+\s+(?:[A-Z]\.\s+)?[A-Z][a-z]+|(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+[A-Z]|[A-Z]{2,}\s+[A-Z][a-z]"
# CPU seconds the recognisers may spend on free text read outside a file's own budget (dropped metadata): the
# policy's default `max_check_seconds`, the one number for it. A hostile text dense in number runs (each one
# asked of libphonenumber and the digit recognisers) could otherwise keep the scan busy for many minutes.
CHECK_SECONDS: float = EgressPolicy.model_fields["max_check_seconds"].default
FREE_TEXT = 40  # a table cell longer than this with spaces in it is free text: presidio's recognisers read it


def _finding(m: Match, location: dict[str, object]) -> Finding:
    verdict = Verdict.BLOCK if m.entity.blocks else Verdict.REVIEW
    return Finding("personal-data", verdict, f"{m.entity} {m.masked}", entity=m.entity, rule=m.rule,
                   location=location)


def _texts_of(seg: Segment) -> list[Segment]:
    """A segment, the blobs encoded inside it (base64/base32/hex, maybe compressed), and floats written out."""
    out = [seg]
    out += [Segment(text, {**seg.location, "decoded": kind}) for kind, text in decoded_texts(seg.text)]
    expanded = expand_scientific(seg.text)
    if expanded:
        out.append(Segment(expanded, {**seg.location, "decoded": "scientific-notation"}))
    return out


# What `normalize.decoded_texts` and `expand_scientific` look for, loosened for polars (`prefilter.loosened`: a
# superset): a text none of these patterns matches has no blob to decode and no float to write out.
BLOB_GATE = "|".join(loosened(rx) for rx in (
    normalize.HEX, normalize.B32, normalize.B64, normalize.B64_SHORT, normalize.B32_LOWER, normalize.B85,
    normalize.A85, normalize.HEX_SPACED, normalize.OCTAL_ESCAPES, normalize.CSS_ESCAPES, normalize.CHAR_CODES,
    normalize.SCIENTIFIC))


def _all_texts(segments: list[Segment]) -> list[Segment]:
    """`_texts_of` every segment, in order; decoded only where polars finds a pattern a decoder reads."""
    if not segments:
        return []
    column = replaced(pl.Series([s.text for s in segments], dtype=pl.Utf8), _PYTHON_ONLY_SPACE, " ")
    maybe = column.str.contains(BLOB_GATE).to_list()
    return [t for seg, blob in zip(segments, maybe, strict=True) for t in (_texts_of(seg) if blob else (seg,))]


def _segment_matches(text: str, parts: Part, recognizers: Sequence[Recognizer], scientific: bool) -> list[Match]:
    """What `analyze` finds in one text, with only the parts and recognisers the pre-filters picked."""
    if not CANDIDATE.search(text) and not any(r.labelled for r in recognizers):
        return []  # the pre-filters picked a labelled recogniser for its label: 'wechat: anna_k_88' has no digits
    if len(text) > CHUNK:  # chunks may cut a run of Chinese characters: read it all
        parts, recognizers = Part.ALL, RECOGNIZERS
    found = analyze(text, parts, recognizers)
    if scientific:
        found += [m for m in float_identifiers(text) if not any(f.start == m.start for f in found)]
    return found


def pii_in_segments(segments: Iterable[Segment], clock: Callable[[], None] | None = None) -> list[Finding]:
    """Personal data in free text (lines of a log, notebook outputs, member names), read like a table column.

    Every text (with the blobs decoded inside it and floats written out) is one cell of a one-column
    frame: the vectorised pre-filters (`enclave.pii.prefilter`) pick the texts and the parts of `analyze`
    that could find anything, in one pass over all of them, each distinct picked text is analysed once,
    and the findings come out in the order of the texts, as reading them one by one gave.

    `clock` is the file's budget (`scan._Budget.clock`: it stops the checks when the file's CPU seconds,
    `max_check_seconds`, are spent), consulted between texts; without one (dropped metadata) the policy's
    default number of seconds applies and an unfinished text is refused.
    """
    texts = _all_texts(list(segments))
    if not texts:
        return []
    column = pl.Series("value", [s.text for s in texts], dtype=pl.Utf8)
    cand = candidates(column, presidio=pl.repeat(True, len(column), eager=True), digit_dense=True)
    scientific = [s.location.get("decoded") == "scientific-notation" for s in texts]
    picked = cand.with_columns(sci=pl.Series(scientific).gather(cand["row"])).group_by(
        "value", "parts", "bits", "sci").agg(pl.col("row"))
    by_row: dict[int, list[Match]] = {}
    deadline = time.process_time() + CHECK_SECONDS
    for i, (value, parts, bits, sci, rows) in enumerate(picked.iter_rows()):
        if i % 64 == 0:
            if clock is not None:
                clock()
            elif time.process_time() > deadline:
                return [_over_budget(len(texts), len(by_row))]
        found = _segment_matches(value, Part(parts), recognizers_of(bits), sci)
        for row in rows if found else ():
            by_row[row] = found
    return [_finding(m, {**texts[row].location, "offset": m.start}) for row in sorted(by_row) for m in by_row[row]]


def _over_budget(texts: int, with_findings: int) -> Finding:
    return Finding("personal-data", Verdict.BLOCK, f"the text is too dense in candidate values (numbers, names) to be "
                   f"checked in full within {CHECK_SECONDS:g} s of CPU ({texts} lines or values, {with_findings} "
                   "with personal data before the check stopped): refused, split it or export an aggregate",
                   rule=f"max_check_seconds={CHECK_SECONDS:g}")


def pii_in_table(df: pl.DataFrame) -> list[Finding]:
    """Vectorised pre-filters pick, per cell, the recognisers that could find anything in it
    (`enclave.pii.prefilter`); each distinct picked value is read once, by those recognisers only.

    Our recognisers read every cell they could match; presidio's phone, e-mail and SSN recognisers
    also read English free text. Column headers are read too, floats are written out as the
    integers they hold, and identifiers split across adjacent columns are put back together.
    """
    out: list[Finding] = []
    cells = []
    for index, col in enumerate(df.columns):
        s = df[col]
        if s.dtype.is_float():
            out += [_finding(m, {"row": row + 1, "column": col}) for row, m in float_column_identifiers(s)]
            continue
        if s.dtype not in (pl.Utf8,) and not s.dtype.is_integer():
            continue
        # an integer holds an identifier only with DIGIT_ID_MIN digits or more
        shortest = DIGIT_ID_MIN if s.dtype.is_integer() else 1
        cells.append(pl.DataFrame({"row": pl.int_range(0, df.height, eager=True), "value": s.cast(pl.Utf8)}).filter(
            pl.col("value").str.len_chars() >= shortest).with_columns(column=pl.lit(index, dtype=pl.Int64)))
    out += _cell_findings(pl.concat(cells), df.columns) if cells else []
    for (left, right), row, m in split_identifiers(df):
        out.append(_finding(m, {"row": row + 1, "column": left, "joined_with": right}))
    out += [_finding(m, where) for where, m in hidden_in_cells(df)]  # one digit per cell, encoded cells
    position = {col: i for i, col in enumerate(df.columns)}  # `df.columns` builds a new list on every call
    out.sort(key=lambda f: (f.location["row"], position[f.location["column"]]))
    for col in df.columns:
        out.extend(_finding(m, {"column": col, "header": True}) for m in quick(col))
    return out + [_person_column(col, rows) for col, rows in person_columns(df)]


def _cell_findings(cells: pl.DataFrame, columns: list[str]) -> list[Finding]:
    """The findings in a table's cells (`row`, `value`, `column` index): the pre-filters run once over the
    distinct values of every column together (one pass, not one per column), each picked value is read once,
    and only the cells holding a value with findings are looked up again (the caller orders the findings by
    row and column: cells are not grouped by value first)."""
    text = cells["value"].unique()
    free = text.str.contains(NAME_HINT) & (text.str.len_chars() > FREE_TEXT) & text.str.contains(" ", literal=True)
    cand = candidates(text, presidio=free, digit_dense=text.str.len_chars() <= FREE_TEXT)  # identifiers, codes
    found: dict[str, list[Match]] = {}
    picked = cand.select("value", "parts", "bits", free=free.gather(cand["row"]))
    for value, parts, bits, is_free in zip(*(picked[c].to_list() for c in picked.columns), strict=True):
        needed, recognizers = Part(parts), recognizers_of(bits)
        if len(value) > CHUNK:  # chunks may cut a run of Chinese characters: read it all
            needed, recognizers = Part.ALL, RECOGNIZERS
        matches = analyze(value, needed, recognizers) if is_free else quick(value, needed, recognizers)
        if matches:
            found[value] = matches
    if not found:
        return []
    out: list[Finding] = []
    hits = cells.filter(pl.col("value").is_in(pl.Series(list(found), dtype=pl.Utf8).implode()))
    for row, value, index in zip(hits["row"].to_list(), hits["value"].to_list(), hits["column"].to_list(),
                                 strict=True):
        where = {"row": row + 1, "column": columns[index]}
        out.extend(_finding(m, dict(where)) for m in found[value])
    return out


def _person_column(column: str, rows: int) -> Finding:
    return Finding("personal-data", Verdict.REVIEW, f"column '{column}' is labelled as a person's name: its values "
                   f"({rows} rows) are personal data whatever they look like", entity=Entity.PERSON,
                   rule="name-column", location={"column": column})


MIN_LEAF = 5
PICKLE_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
                  "SHORT_BINSTRING"}
PICKLE_MEMO_STORE = {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}
PICKLE_MEMO_GET = {"GET", "BINGET", "LONG_BINGET"}
PICKLE_INTS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"}
PICKLE_UNREAD_GLOBAL = "<a global that cannot be read without running the pickle>"


def _fitted_leaf_settings(leaves: list[int], classes: list[str]) -> list[int]:
    """The min_samples_leaf values the fitted trees were grown with.

    A fitted ensemble pickles its own setting, each fitted tree's (the same value) and once more the
    unfitted template estimator's default (1). A value seen once beside one seen at least twice is
    that template; anything else counts, so trees grown with small leaves still block.
    """
    if not any(c.startswith("sklearn.ensemble.") for c in classes):
        return leaves
    counts = Counter(leaves)
    if len(counts) > 1 and max(counts.values()) >= 2:
        return [v for v in leaves if counts[v] > 1]
    return leaves


def _python3_name(qualified: str) -> str:
    """A global as Python 3 loads it: protocols 0-2 write Python 2's module names ('__builtin__.object',
    'copy_reg._reconstructor'), which unpickling maps with the standard library's own table (fix_imports)."""
    import _compat_pickle

    module, _, name = qualified.rpartition(".")
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return ".".join(_compat_pickle.NAME_MAPPING[(module, name)])
    return f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}" if module else qualified


def pickle_model(data: bytes) -> list[Finding]:
    """Read a pickle's opcodes without running it: which classes it would build and their settings."""
    classes: list[str] = []
    leaves: list[int] = []
    memo: dict[int, object] = {}
    pushed: list[object] = []  # what the last opcodes pushed: a string, or None for anything else
    walked: list[str] = []  # globals whose name is a dotted path: from protocol 4 on, loading follows it
    strings: dict[str, None] = {}  # the text the pickle carries (feature names, vocabularies, labels), once each
    end = len(data)
    try:
        for op, arg, pos in pickletools.genops(data):
            name = op.name
            if name == "STOP":
                end = pos + 1
            if name in ("FRAME", "PROTO", "STOP"):
                continue
            if name in PICKLE_STRINGS and isinstance(arg, str):
                strings[arg] = None
            if name in PICKLE_MEMO_STORE:  # the memo bookkeeping between a key and its value
                memo[len(memo) if name == "MEMOIZE" else int(arg)] = pushed[-1] if pushed else None
                continue
            top = pushed[-1] if pushed else None
            if top == "min_samples_leaf" and name in PICKLE_INTS:
                leaves.append(arg)
            if name in ("GLOBAL", "INST"):
                classes.append(str(arg).replace(" ", "."))
                walked += [classes[-1]] if "." in str(arg).partition(" ")[2] else []
            elif name == "STACK_GLOBAL":
                # module and name are the two strings pushed just before, directly or from the memo (protocol 4+)
                module, attr = (pushed[-2:] if len(pushed) >= 2 else [None, None])
                ok = isinstance(module, str) and isinstance(attr, str)
                classes.append(f"{module}.{attr}" if ok else PICKLE_UNREAD_GLOBAL)
                walked += [classes[-1]] if ok and "." in str(attr) else []
            elif name.startswith("EXT"):  # a global from the copyreg extension registry: unknown here
                classes.append(PICKLE_UNREAD_GLOBAL)
            value = arg if name in PICKLE_STRINGS else memo.get(arg) if name in PICKLE_MEMO_GET else None
            pushed = [*pushed[-1:], value if isinstance(value, str) else None]
    except Exception as exc:  # a malformed pickle is as unreadable as any binary
        return [Finding("model", Verdict.BLOCK, f"pickle cannot be parsed: {exc}", rule="binary-output")]
    built = sorted({_python3_name(c) for c in classes})
    out = [Finding("model", Verdict.REVIEW, "pickled object: not human-readable, never passes automatically "
                   f"(builds {', '.join(built[:8]) or 'no classes'})", rule="binary-output")]
    # a dotted name walks attributes from the module named ('sklearn.datasets._base' + 'os.system' is
    # os.system): what it reaches is not what the safe module prefix says, so it never counts as safe
    unsafe = sorted({*(c for c in built if not is_safe(c)), *(_python3_name(c) for c in walked)})
    if unsafe:
        out.append(Finding("model", Verdict.BLOCK, f"loading it would call {', '.join(unsafe[:5])}: not a model",
                           rule="pickle-globals"))
    if end < len(data):  # `pickle.load` again on the same file reads what follows
        out.append(Finding("model", Verdict.BLOCK, f"{len(data) - end} bytes after the pickle's end: a second pickle "
                           "or hidden data, which the checks do not read", rule="pickle-trailing-data"))
    out.extend(pii_in_segments([Segment(text, {"part": "pickle strings"}) for text in strings]))
    if "_codecs.encode" in built and any(t.lower().replace("-", "_") in ("rot13", "rot_13") for t in strings):
        out.append(Finding("model", Verdict.BLOCK, "text rot13-encoded in the pickle, decoded on loading: the "
                           "checks read only what it looks like before", rule="pickle-encoded-text"))
    if any(c.startswith(STORING_MODELS) for c in classes):
        out.append(Finding("model", Verdict.BLOCK, "SVM / k-NN models store training rows", rule="stores-rows"))
    if any(c.startswith(TREE_MODELS) for c in classes):
        small = sorted({v for v in _fitted_leaf_settings(leaves, classes) if v < MIN_LEAF})
        if small:
            out.append(Finding("model", Verdict.BLOCK, f"tree-based model with min_samples_leaf={small[0]}: leaves "
                               "this small memorise rows", rule=f"min_samples_leaf>={MIN_LEAF}"))
        elif not leaves:
            out.append(Finding("model", Verdict.REVIEW, "tree-based model: min_samples_leaf could not be read",
                               rule=f"min_samples_leaf>={MIN_LEAF}"))
    return out
