"""`enclave egress scan`: every check on every file, also outside a request."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

from egress_review import checks, owndata
from egress_review.extract import read_table, text_segments
from egress_review.filetypes import detect, name_mismatch
from egress_review.findings import FileResult, Finding, Verdict
from egress_review.owndata import OwnDataIndex
from egress_review.sdc import counts_in_prose
from egress_review.tables import check_text_tables
from policies.schema import EgressPolicy

ACTIVE = re.compile(rb"<script|javascript:|\son[a-z]+\s*=|application/javascript", re.IGNORECASE)
TEXT_TYPES = {"csv", "tsv", "txt", "md", "json", "html", "ipynb", "svg", "png", "jpg"}
TABLE_TYPES = {"csv", "tsv", "parquet", "xlsx"}


def scan_bytes(name: str, data: bytes, policy: EgressPolicy, depth: int = 0,
               own: OwnDataIndex | None = None) -> FileResult:
    ftype = detect(data, name)
    result = FileResult(name, ftype, hashlib.sha256(data).hexdigest())
    f = result.findings
    if len(data) > policy.max_file_bytes:
        f.append(Finding("file-type", Verdict.BLOCK, f"{len(data)} bytes: over the limit of {policy.max_file_bytes}",
                         rule=f"max_file_bytes={policy.max_file_bytes}"))
    if mismatch := name_mismatch(name, ftype):
        f.append(Finding("file-type", Verdict.BLOCK, mismatch, rule="content-matches-name"))
    if ftype == "zip":
        if policy.archives == "refuse" or depth > 2:
            f.append(Finding("file-type", Verdict.BLOCK, "archives are refused by policy", rule="archives"))
            return result
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                if info.file_size > policy.max_file_bytes:
                    f.append(Finding("file-type", Verdict.BLOCK, f"member {info.filename} too large",
                                     rule=f"max_file_bytes={policy.max_file_bytes}"))
                    continue
                result.members.append(scan_bytes(f"{name}!{info.filename}", z.read(info), policy, depth + 1, own))
        return result
    if ftype == "pickle":
        f.extend(checks.pickle_model(data))
        return result
    if ftype not in policy.allowed_types:
        f.append(Finding("file-type", Verdict.BLOCK, f"type {ftype} is not allowed to leave",
                         rule="allowed_types=" + ",".join(policy.allowed_types)))
        if ftype in ("binary", "pdf"):
            return result
    if ftype == "pdf":
        f.append(Finding("file-type", Verdict.REVIEW, "PDF text is not extracted automatically: a reviewer must "
                         "read it", rule="manual-check"))
        return result
    df = read_table(data, ftype) if ftype in TABLE_TYPES else None
    if ftype in TABLE_TYPES and df is None:
        f.append(Finding("file-type", Verdict.BLOCK, f"{ftype} could not be read", rule="readable"))
    if df is not None:
        f.extend(checks.pii_in_table(df))
        f.extend(checks.row_level(df, policy))
        f.extend(checks.disclosure_control(df, policy.sdc))
        f.extend(checks.formulas(df))
        if own:
            f.extend(owndata.in_table(own, df))
    elif ftype in TEXT_TYPES:
        segments = list(text_segments(data, ftype))
        f.extend(checks.pii_in_segments(segments))
        f.extend(checks.residual_df(segments, policy.sdc))
        f.extend(counts_in_prose(segments, policy.sdc))
        f.extend(check_text_tables(data, ftype, policy))
        if own:
            f.extend(owndata.in_segments(own, segments))
    if ftype in ("html", "svg", "ipynb") and ACTIVE.search(data):
        f.append(Finding("active-content", Verdict.REVIEW, "may contain script; shown inert to reviewers",
                         rule="inert-rendering"))
    return result


def scan_path(path: Path, policy: EgressPolicy, own: OwnDataIndex | None = None) -> FileResult:
    result = scan_bytes(path.name, path.read_bytes(), policy, own=own)
    result.path = str(path)
    return result


def rules_used(policy: EgressPolicy) -> dict[str, object]:
    """Recorded with every result: the rules and thresholds the verdicts rest on."""
    return {"allowed_types": policy.allowed_types, "max_file_bytes": policy.max_file_bytes,
            "archives": policy.archives, "row_cap": policy.row_cap, "sdc": policy.sdc.model_dump()}
