"""Helpers for the export-review tests: one request, votes on every file, a review, a conflict."""

from __future__ import annotations

from pathlib import Path

from egress_review import workflow
from enclave.db import session_scope
from enclave.models import Decision, ExportState, FileVote
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
CLEAN = ("table.csv", b"diagnosis,n\nE11,120\nI10,85\n")
# A person's name in text is flagged for a human (verdict "review"), not blocked.
FLAGGED = ("notes.txt", b"Contact: Zhang Wei, born 1980-03-04")


def submit(store: Path, files: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]] = (CLEAN,),
           who: str = "alice", project: str = "study") -> int:
    with session_scope() as s:
        return workflow.submit(s, who, project, list(files), "aggregate table for paper", store, POLICY).id


def votes(request_id: int, vote: FileVote = FileVote.APPROVE, comment: str = "") -> dict[str, dict[str, str]]:
    """The same vote (and comment) on every file of the request."""
    with session_scope() as s:
        req = workflow.get_request(s, request_id)
        return {str(f.id): {"decision": vote.value, "comment": comment} for f in req.files}


def decide(reviewer: str, rid: int, decision: Decision = Decision.APPROVE, comment: str = "") -> ExportState:
    """A review voting on every file as the decision implies (approve, ask for changes, or reject)."""
    vote = {Decision.APPROVE: FileVote.APPROVE, Decision.RETURN: FileVote.CHANGES,
            Decision.REJECT: FileVote.REJECT}[decision]
    with session_scope() as s:
        return workflow.review(s, reviewer, rid, decision, votes(rid, vote, comment),
                               comment_to_requester=comment).state


def conflict(store: Path, files: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]] = (CLEAN,),
             who: str = "alice") -> int:
    """A request bob approves (the files that can be approved; he returns blocked ones) and carol rejects."""
    rid = submit(store, files, who=who)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        bob = {str(f.id): {"decision": (FileVote.CHANGES if f.verdict == "block" else FileVote.APPROVE).value,
                           "comment": "checked"} for f in req.files}
        workflow.review(s, "bob", rid, Decision.APPROVE, bob, comment_to_requester="aggregate further")
    assert decide("carol", rid, Decision.REJECT, comment="too granular") == ExportState.CONFLICTED
    return rid


def resolve(resolver: str, rid: int, decision: Decision, vote: FileVote | dict[str, dict[str, str]],
            reason: str = "third reviewer's view") -> ExportState:
    file_votes = vote if isinstance(vote, dict) else votes(rid, vote, comment="checked")
    with session_scope() as s:
        state = workflow.resolve(s, resolver, rid, decision, file_votes, reason).state
        workflow.settle(s, rid)
        return state
