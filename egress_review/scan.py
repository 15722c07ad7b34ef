"""`enclave egress scan`: every check on every file, also outside a request."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from egress_review import checks, dropped, owndata, rebuild
from egress_review.extract import Segment, read_table, text_segments
from egress_review.filetypes import detect, name_mismatch
from egress_review.findings import FileResult, Finding, Verdict
from egress_review.owndata import OwnDataIndex
from egress_review.sdc import counts_in_prose, differences
from egress_review.tables import check_text_tables
from policies.schema import EgressPolicy

log = logging.getLogger("egress-review")

# Script in a notebook's HTML outputs (plots, widgets) is shown inert to reviewers; HTML and SVG files
# that can run script are refused by the rebuild.
ACTIVE = re.compile(rb"<script|javascript:|\son[a-z]+\s*=|application/javascript", re.IGNORECASE)
TEXT_TYPES = {"csv", "tsv", "txt", "md", "json", "html", "ipynb", "svg", "png", "jpg"}
TABLE_TYPES = {"csv", "tsv", "parquet", "xlsx"}


_pauses = [0, True]  # scans running with the cyclic collector paused (the service scans in threads), and
_pauses_lock = threading.Lock()  # whether it was on when the first of them began


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while files are checked, on again when the last scan ends.

    A large table's checks make hundreds of thousands of short-lived lists, tuples and findings and no
    reference cycles (reference counting frees them); each time enough of them pile up, CPython's
    collector walks every object the process holds, the imported libraries' some 170 000 included,
    and finds nothing: about a tenth of a 20 MB scan. Memory still comes back as it did (only cycles
    wait, until the collector runs again after the scan); a scan's size and time are bounded by the
    policy's limits either way.
    """
    with _pauses_lock:
        if _pauses[0] == 0:
            _pauses[1] = gc.isenabled()
        _pauses[0] += 1
        gc.disable()
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses[0] -= 1
            if _pauses[0] == 0 and _pauses[1]:
                gc.enable()


class _Stop(Exception):
    """The checks on a file stop: the reason is a blocking finding already recorded."""


class _Budget:
    """What the checks of one file may spend: CPU seconds (shared with the members of an archive) and
    findings of one kind. Checked between stages; when spent the file is blocked, never passed, so that
    one small hostile file cannot hold the service for minutes or fill the review record."""

    def __init__(self, findings: list[Finding], policy: EgressPolicy, deadline: float) -> None:
        self.findings, self.policy, self.deadline = findings, policy, deadline
        self.kinds: Counter[tuple[str, str | None]] = Counter()

    def add(self, found: Iterable[Finding]) -> None:
        """Record findings up to the cap per kind; over it, block and stop. Then look at the clock."""
        cap = self.policy.max_findings_per_kind
        for x in found:
            kind = (x.check, x.entity or x.rule)
            self.kinds[kind] += 1
            if self.kinds[kind] > cap:
                self.findings.append(Finding(x.check, Verdict.BLOCK, f"too many findings to list: more than {cap} "
                                             f"of {kind[1] or x.check}; the checks stopped",
                                             entity=x.entity, rule=f"max_findings_per_kind={cap}"))
                raise _Stop
            self.findings.append(x)
        self.clock()

    def clock(self) -> None:
        if time.process_time() > self.deadline:
            self.findings.append(Finding("file-type", Verdict.BLOCK, f"the checks could not finish within "
                                         f"{self.policy.max_check_seconds:g} CPU seconds: refused",
                                         rule=f"max_check_seconds={self.policy.max_check_seconds:g}"))
            raise _Stop


def scan_bytes(name: str, data: bytes, policy: EgressPolicy, depth: int = 0,
               own: OwnDataIndex | None = None, budget: list[int] | None = None,
               deadline: float | None = None) -> FileResult:
    """Rebuild the file into its known form, then check that form; `result.rebuilt` is what may be stored.

    Never raises: a file that makes a reader fail in a way nobody foresaw is refused (`block`) with the
    reason, never passed. `budget` is what archives may still unpack to, shared by nested archives;
    `deadline` (process time) is when the checks must have finished, shared by an archive's members.
    """
    if deadline is None:
        deadline = time.process_time() + policy.max_check_seconds
    try:
        with _cycle_collector_paused():
            return _scan(name, data, policy, depth, own,
                         [policy.max_zip_total_bytes] if budget is None else budget, deadline)
    except (Exception, pl.exceptions.PanicException) as exc:  # the last line of defence, tested by fuzzing
        log.exception("scan of %r failed: refused", name)  # the operators see the bug; the requester a reason
        digest = hashlib.sha256(data).hexdigest()
        result = FileResult(name, None, digest, original_sha256=digest)
        result.findings.append(Finding("file-type", Verdict.BLOCK, f"the file cannot be read fully "
                                       f"({type(exc).__name__}): refused", rule="readable"))
        return result


def _scan(name: str, data: bytes, policy: EgressPolicy, depth: int, own: OwnDataIndex | None,
          budget: list[int], deadline: float) -> FileResult:
    ftype = detect(data, name)
    digest = hashlib.sha256(data).hexdigest()
    result = FileResult(name, ftype, digest, original_sha256=digest)
    f = result.findings
    if len(data) > policy.max_file_bytes:
        f.append(Finding("file-type", Verdict.BLOCK, f"{len(data)} bytes: over the limit of {policy.max_file_bytes}",
                         rule=f"max_file_bytes={policy.max_file_bytes}"))
    if mismatch := name_mismatch(name, ftype):
        f.append(Finding("file-type", Verdict.BLOCK, mismatch, rule="content-matches-name"))
    if ftype == "zip":
        _archive(result, data, policy, depth, own, budget, deadline)
        return result
    if ftype == "pickle":
        f.extend(checks.pickle_model(data))
        _as_submitted(result, data, "a model is stored as submitted: it never passes automatically")
        return result
    if ftype not in policy.allowed_types:
        f.append(Finding("file-type", Verdict.BLOCK, f"type {ftype} is not allowed to leave",
                         rule="allowed_types=" + ",".join(policy.allowed_types)))
        if ftype in ("binary", "pdf"):
            return result
    if ftype == "pdf":
        f.append(Finding("file-type", Verdict.REVIEW, "PDF text is not extracted automatically: a reviewer must "
                         "read it", rule="manual-check"))
        _as_submitted(result, data, "a PDF is stored as submitted: a reviewer reads all of it")
        return result
    rb = rebuild.rebuild(ftype, data, policy)
    f.extend(rb.findings)
    result.rebuild_notes.extend(rb.notes)
    if rb.data is None:
        return result
    result.rebuilt, result.sha256 = rb.data, digest if rb.data == data else hashlib.sha256(rb.data).hexdigest()
    with contextlib.suppress(_Stop):  # the blocking finding that says why is recorded
        _check(result, ftype, rb, policy, own, _Budget(f, policy, deadline))
    return result


def _as_submitted(result: FileResult, data: bytes, why: str) -> None:
    result.rebuilt = data
    result.rebuild_notes.append(why)


def _table_checks(df: pl.DataFrame, policy: EgressPolicy, own: OwnDataIndex | None) -> list[Finding]:
    out = [*checks.pii_in_table(df), *checks.row_level(df, policy), *checks.disclosure_control(df, policy.sdc),
           *checks.formulas(df)]
    if own:
        out.extend(owndata.in_table(own, df))
    return out


def _pii(segments: list[Segment], spend: _Budget) -> None:
    """The personal-data checks on all segments at once (the pre-filters' one pass over them), looking at the
    file's clock between the texts they read; the caps per kind apply to what they found."""
    spend.add(checks.pii_in_segments(segments, clock=spend.clock))


def _check(result: FileResult, ftype: str, rb: rebuild.Rebuilt, policy: EgressPolicy,
           own: OwnDataIndex | None, spend: _Budget) -> None:
    """Every check, on the rebuilt form only: what leaves is what was read. Each stage's findings go
    through `spend`, which stops the checks (and blocks the file) when the file's budget is spent."""
    f = result.findings
    add = spend.add
    spend.clock()  # the rebuild counts too
    data = rb.data or b""
    tables = rb.tables
    if tables is None and ftype in TABLE_TYPES:
        df = read_table(data, ftype)
        tables = None if df is None else [("", df)]
        if df is None:
            f.append(Finding("file-type", Verdict.BLOCK, f"{ftype} could not be read", rule="readable"))
    _pii(rb.segments, spend)
    if tables is not None:
        for sheet, df in tables:
            found = _table_checks(df, policy, own)
            for x in found if sheet else ():
                x.location = {"sheet": sheet, **x.location}
            add(found)
        add(differences([(df, {"sheet": sheet}) for sheet, df in tables], policy.sdc))
    elif ftype in TEXT_TYPES:
        segments = list(text_segments(data, ftype))
        _pii(segments, spend)
        add(checks.residual_df(segments, policy.sdc))
        add(counts_in_prose(segments, policy.sdc))
        add(check_text_tables(data, ftype, policy))
        if own:
            add(owndata.in_segments(own, segments))
    if ftype == "ipynb" and ACTIVE.search(data):
        f.append(Finding("active-content", Verdict.REVIEW, "may contain script; shown inert to reviewers",
                         rule="inert-rendering"))


def _archive(result: FileResult, data: bytes, policy: EgressPolicy, depth: int, own: OwnDataIndex | None,
             budget: list[int], deadline: float) -> None:
    """Members read within the caps, each scanned and rebuilt; their names are text the checks read."""
    f = result.findings
    if policy.archives == "refuse" or depth > 2:
        f.append(Finding("file-type", Verdict.BLOCK, "archives are refused by policy", rule="archives"))
        return
    try:
        entries, notes = rebuild.zip_entries(data, policy)
    except rebuild.Refused as exc:
        f.append(rebuild.refusal(str(exc), exc.rule))
        return
    unpacked = sum(len(d) for _, d in entries)
    if unpacked > budget[0]:
        f.append(rebuild.refusal(f"nested archives unpack to more than {policy.max_zip_total_bytes} bytes in all",
                                 "max_zip_total_bytes"))
        return
    budget[0] -= unpacked
    result.rebuild_notes.extend(notes)
    f.extend(dropped.findings(dropped.archive_texts(data)))
    f.extend(checks.pii_in_segments([Segment(n, {"member": n, "part": "member name"}) for n, _ in entries]))
    for member, content in entries:
        result.members.append(scan_bytes(f"{result.path}!{member}", content, policy, depth + 1, own, budget,
                                         deadline))
    if all(m.rebuilt is not None for m in result.members):
        result.rebuilt = rebuild.pack_zip([(n, m.rebuilt or b"") for (n, _), m in zip(entries, result.members,
                                                                                      strict=True)])
        result.sha256 = hashlib.sha256(result.rebuilt).hexdigest()


def scan_path(path: Path, policy: EgressPolicy, own: OwnDataIndex | None = None) -> FileResult:
    result = scan_bytes(path.name, path.read_bytes(), policy, own=own)
    result.path = str(path)
    return result


def rules_used(policy: EgressPolicy) -> dict[str, object]:
    """Recorded with every result: the rules and thresholds the verdicts rest on."""
    return {"allowed_types": policy.allowed_types, "max_file_bytes": policy.max_file_bytes,
            "archives": policy.archives, "row_cap": policy.row_cap, "sdc": policy.sdc.model_dump(),
            "max_zip_members": policy.max_zip_members, "max_zip_total_bytes": policy.max_zip_total_bytes,
            "max_zip_ratio": policy.max_zip_ratio, "max_image_pixels": policy.max_image_pixels,
            "max_image_bytes": policy.max_image_bytes, "images": policy.images,
            "max_check_seconds": policy.max_check_seconds, "max_findings_per_kind": policy.max_findings_per_kind}
