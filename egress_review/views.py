"""What each person may see of a request: one place, used by the JSON API, the pages and the CLI.

Requesters see their files, findings, state and the comments meant for them once reviewers have
decided; never private notes or who voted how before the end. Reviewers are blind to each other
until both have decided.

Findings come in two forms. Reviewers see them as the checks wrote them (values masked). Requesters
see `requester_finding`: check, verdict, kind (entity or rule), a fixed sentence and a position in
their own file, and never a value, not even masked: what a requester sees can be read outside the
enclave (a personal token, results.json), so it must carry nothing the checks read from data. Of
the own-data check they learn only that the file is held for review, never the dataset, column or
record that matched.
"""

from __future__ import annotations

import re
from typing import Any

from egress_review import rules
from enclave.models import ExportFile, ExportRequest, ExportState

DECIDED = {ExportState.APPROVED, ExportState.RETURNED, ExportState.REJECTED, ExportState.RELEASED,
           ExportState.CONFLICTED, ExportState.REVISED}


# What a requester reads for each check: fixed text, filled only with the kind (an entity or rule name).
REQUESTER_TEXT = {
    "personal-data": "personal data ({kind}) in this file",
    "own-data": "held for review: a reviewer will compare this file with your project's data",
    "disclosure-control": "breaks the disclosure-control rule {kind}",
    "row-level": "looks like row-level data ({kind})",
    "file-type": "breaks the file rule {kind}",
    "active-content": "may contain active content ({kind})",
    "model": "model check: {kind}",
    "rebuild": "cannot be exported in this form ({kind})",
}
UNKNOWN_CHECK = "held for review by the check {check} ({kind})"
# A location a requester may see: a position in their own file. Own-data findings have none at all.
NO_LOCATION = {"own-data"}
# The kind a requester reads for such a check: one fixed word, since which rule matched (dataset value,
# same record, rare combination) would tell her how her file met the project's data (an oracle).
FIXED_KIND = "own-data"
VALUE_LIKE = re.compile(r"\d{4}|@")  # a column or key name that could itself be an identifier


def _requester_location(location: dict[str, Any]) -> dict[str, Any]:
    """Numbers (row, line, offset, cell, score) and short names that do not look like a value."""
    out: dict[str, Any] = {}
    for k, v in location.items():
        if isinstance(v, int | float) or (isinstance(v, str) and len(v) <= 64 and not VALUE_LIKE.search(v)):
            out[k] = v
    return out


def requester_finding(finding: dict[str, Any]) -> dict[str, Any]:
    """The form of a stored finding a requester sees: nothing from the data, nothing of other datasets."""
    check, kind = str(finding.get("check", "")), str(finding.get("entity") or finding.get("rule") or "")
    if check in NO_LOCATION:
        kind = FIXED_KIND
    text = REQUESTER_TEXT.get(check, UNKNOWN_CHECK)
    out: dict[str, Any] = {"check": check, "verdict": finding.get("verdict"), "kind": kind,
                           "detail": text.format(check=check, kind=kind)}
    if check not in NO_LOCATION:
        out["location"] = _requester_location(finding.get("location") or {})
    return out


def requester_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct requester form once: 40 own-data matches become one "held for review"."""
    out: list[dict[str, Any]] = []
    for f in map(requester_finding, findings):
        if f not in out:
            out.append(f)
    return out


def _member_view(member: dict[str, Any], reviewer: bool) -> dict[str, Any]:
    """An archive member as the viewer may see it: for the requester no findings' values and no digests."""
    if reviewer:
        return member
    return {**{k: v for k, v in member.items() if k not in ("sha256", "original_sha256")},
            "findings": requester_findings(member.get("findings", [])),
            "members": [_member_view(m, reviewer) for m in member.get("members", [])]}


def file_view(f: ExportFile, reviewer: bool = False, released: bool = False) -> dict[str, Any]:
    """Requesters get the requester form of every finding, also in archive members; reviewers the full one.

    The digest and size of the stored form go to the requester only once the file is released: what she
    sees can be read outside the enclave (a personal token, results.json), and the digest of a small
    file is its content to anyone who tries the candidates.
    """
    findings = f.scan.get("findings", [])
    shown = reviewer or released
    return {"id": f.id, "name": f.name, "sha256": f.sha256 if shown else None, "bytes": f.size if shown else None,
            "type": f.scan.get("type"),
            "verdict": f.verdict, "findings": findings if reviewer else requester_findings(findings),
            "members": [_member_view(m, reviewer) for m in f.scan.get("members", [])],
            "rules": f.scan.get("rules", {})}


def _requester_votes(votes: dict[str, dict[str, str]] | None, comments: bool) -> dict[str, dict[str, str]]:
    """Per-file decisions; a file comment where the page shows it to the requester: on a file not approved."""
    out: dict[str, dict[str, str]] = {}
    for fid, v in (votes or {}).items():
        out[fid] = {"decision": v.get("decision", "")}
        if comments and v.get("decision") != "approve" and rules.has_text(v.get("comment", "")):
            out[fid]["comment"] = v["comment"]
    return out


def release_record_view(record: dict[str, Any]) -> dict[str, Any]:
    """results.json as the requester downloads it: no more than the request page shows her.

    Requester findings; per review its decision and per-file decisions, with file comments only on files
    not approved (as `request_view` shows them); no reviewer names, no notes beside approvals. The files
    withheld are listed with their outcome. The full record stays in the database for reviewers and the audit.
    """
    hidden = {"reviews", "resolved_by", "resolution_files"}
    return {**{k: v for k, v in record.items() if k not in hidden},
            "files": [{**f, "findings": requester_findings(f.get("findings", []))} for f in record.get("files", [])],
            "reviews": [{"decision": r.get("decision"), "at": r.get("at"),
                         "files": _requester_votes(r.get("files"), True)}
                        for r in record.get("reviews", [])],
            "resolution_files": _requester_votes(record.get("resolution_files"), True) or None,
            "withheld": [{k: v for k, v in f.items() if k not in ("sha256", "bytes")}
                         for f in record.get("withheld", [])]}


def release_files(req: ExportRequest) -> list[ExportFile]:
    """The files the release record lists as released (all of them in records older than per-file outcomes),
    each allowed again by `rules.check_can_release_file` at the time of the download."""
    if req.state != ExportState.RELEASED or req.release is None:
        return []
    listed = req.release.record.get("files", [])
    ids = {f.get("id") for f in listed} if all("id" in f for f in listed) else {f.id for f in req.files}
    return [f for f in req.files if f.id in ids and rules.can_release_file(req, f)]


def requester_file_comments(req: ExportRequest) -> dict[str, list[str]]:
    """Per file, what each reviewer (and the resolver) wrote when not approving it: those are for the requester.

    A comment beside an approval explains it to the other reviewers (why a flagged file is fine) and stays
    with them.
    """
    out: dict[str, list[str]] = {}
    votes = [r.file_votes for r in req.reviews] + ([req.resolution_votes] if req.resolved_by else [])
    for file_votes in votes:
        for fid, v in (file_votes or {}).items():
            if v.get("decision") != "approve" and rules.has_text(v.get("comment", "")):
                out.setdefault(str(fid), []).append(v["comment"])
    return out


def request_view(req: ExportRequest, viewer: str, detail: bool = True, reviewer: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": req.id, "project": req.project, "requester": req.requester, "state": req.state.value,
        "created_at": req.created_at.isoformat(), "updated_at": req.updated_at.isoformat(),
        "files": len(req.files), "verdict": max((f.verdict for f in req.files),
                                                key=lambda v: {"pass": 0, "review": 1, "block": 2}[v], default="pass"),
        "reviews_done": len(req.reviews), "version": req.version or 1, "revision_of": req.revision_of,
        "claims": rules.open_claims(req) if reviewer else [],
    }
    if not detail:
        return out
    out["justification"] = req.justification
    released = {f.id for f in release_files(req)}
    out["files"] = [file_view(f, reviewer, f.id in released) for f in req.files]
    if req.state in DECIDED:
        outcomes = rules.file_outcomes(req)
        for fv in out["files"]:
            fv["outcome"] = outcomes[fv["id"]].value
            fv["released"] = fv["id"] in released
    if reviewer:
        visible = set(rules.visible_reviews(req, viewer))
        out["reviews"] = [{"reviewer": r.reviewer, "decision": r.decision.value, "files": r.file_votes,
                           "comment_to_requester": r.comment_to_requester, "private_comment": r.private_comment,
                           "at": r.created_at.isoformat()} for r in req.reviews if r.reviewer in visible]
        out["resolution"] = req.resolution or None
        out["voided_reviews"] = [{"reviewer": r.reviewer, "reason": r.void_reason} for r in req.voided_reviews]
    elif req.state in DECIDED:
        out["comments"] = [r.comment_to_requester for r in req.reviews if rules.has_text(r.comment_to_requester)]
        out["file_comments"] = requester_file_comments(req)
        for fv in out["files"]:
            fv["comments"] = out["file_comments"].get(str(fv["id"]), [])
        out["resolution"] = req.resolution or None
    if req.state == ExportState.RELEASED and viewer == req.requester:
        out["downloads"] = [{"id": f.id, "name": f.name, "sha256": f.sha256,
                             "path": f"api/requests/{req.id}/download/{f.id}"} for f in release_files(req)]
        out["results"] = f"api/requests/{req.id}/download/results.json"
    return out
