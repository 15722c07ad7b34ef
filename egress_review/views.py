"""What each person may see of a request: one place, used by the JSON API, the pages and the CLI.

Requesters see their files, findings, state and the comments meant for them once reviewers have
decided; never private notes or who voted how before the end. Reviewers are blind to each other
until both have decided.
"""

from __future__ import annotations

from typing import Any

from egress_review import rules
from enclave.models import ExportFile, ExportRequest, ExportState

DECIDED = {ExportState.APPROVED, ExportState.RETURNED, ExportState.REJECTED, ExportState.RELEASED,
           ExportState.CONFLICTED}


def file_view(f: ExportFile) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "sha256": f.sha256, "bytes": f.size, "type": f.scan.get("type"),
            "verdict": f.verdict, "findings": f.scan.get("findings", []), "members": f.scan.get("members", []),
            "rules": f.scan.get("rules", {})}


def release_files(req: ExportRequest) -> list[ExportFile]:
    return list(req.files) if req.state == ExportState.RELEASED else []


def request_view(req: ExportRequest, viewer: str, detail: bool = True, reviewer: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": req.id, "project": req.project, "requester": req.requester, "state": req.state.value,
        "created_at": req.created_at.isoformat(), "updated_at": req.updated_at.isoformat(),
        "files": len(req.files), "verdict": max((f.verdict for f in req.files),
                                                key=lambda v: {"pass": 0, "review": 1, "block": 2}[v], default="pass"),
        "reviews_done": len(req.reviews),
    }
    if not detail:
        return out
    out["justification"] = req.justification
    out["files"] = [file_view(f) for f in req.files]
    if reviewer:
        visible = set(rules.visible_reviews(req, viewer))
        out["reviews"] = [{"reviewer": r.reviewer, "decision": r.decision.value, "files": r.file_votes,
                           "comment_to_requester": r.comment_to_requester, "private_comment": r.private_comment,
                           "at": r.created_at.isoformat()} for r in req.reviews if r.reviewer in visible]
        out["resolution"] = req.resolution or None
    elif req.state in DECIDED:
        out["comments"] = [r.comment_to_requester for r in req.reviews if r.comment_to_requester.strip()]
        out["file_comments"] = {str(fid): v["comment"] for r in req.reviews for fid, v in r.file_votes.items()
                                if v.get("comment", "").strip() and r.decision.value != "approve"}
        out["resolution"] = req.resolution or None
    if req.state == ExportState.RELEASED and viewer == req.requester:
        out["downloads"] = [{"id": f.id, "name": f.name, "sha256": f.sha256,
                             "path": f"api/requests/{req.id}/download/{f.id}"} for f in release_files(req)]
        out["results"] = f"api/requests/{req.id}/download/results.json"
    return out
