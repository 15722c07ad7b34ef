"""Per-file outcomes, versions and claims at their boundaries: a file leaves only when two people approved it
and it has no blocking finding; a returned request comes back as its next version; claims are counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress_review import rules, workflow
from egress_review.findings import advice, guidance_topic, person_text
from egress_review.i18n import message
from egress_review.views import release_files, release_record_view, request_view
from enclave import audit
from enclave.db import session_scope
from enclave.errors import NotAllowed, NotFound
from enclave.models import Decision, ExportState, FileOutcome
from tests.egress_helpers import CLEAN, POLICY, submit
from tests.identifiers import RID

BLOCKED = ("ids.txt", f"id {RID}".encode())
OTHER = ("other.csv", b"region,n\neast,150\nwest,120\n")


def review(who: str, rid: int, decision: Decision, by_name: dict[str, tuple[str, str]], comment: str = "") -> None:
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        file_votes = {str(f.id): {"decision": by_name[f.name][0], "comment": by_name[f.name][1]} for f in req.files}
        workflow.review(s, who, rid, decision, file_votes, comment_to_requester=comment)
        workflow.settle(s, rid)


def outcomes(rid: int) -> dict[str, FileOutcome]:
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        return {f.name: rules.file_outcomes(req)[f.id] for f in req.files}


def test_approving_releases_the_file_both_approved_and_never_the_blocked_one(world: Path):
    rid = submit(world, [CLEAN, BLOCKED])
    votes = {"table.csv": ("approve", ""), "ids.txt": ("changes", "drop the ID column")}
    review("bob", rid, Decision.APPROVE, votes)
    assert outcomes(rid) == {"table.csv": FileOutcome.PENDING, "ids.txt": FileOutcome.PENDING}
    review("carol", rid, Decision.APPROVE, votes)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.RELEASED
        assert [f.name for f in release_files(req)] == ["table.csv"]
        record = release_record_view(req.release.record)
        assert [f["name"] for f in record["files"]] == ["table.csv"]
        assert [(f["name"], f["outcome"]) for f in record["withheld"]] == [("ids.txt", "returned")]
        blocked = next(f for f in req.files if f.name == "ids.txt")
        with pytest.raises(NotAllowed, match="blocking findings"):
            rules.check_can_release_file(req, blocked)
        mine = request_view(req, "alice")
        assert [d["name"] for d in mine["downloads"]] == ["table.csv"]
        assert mine["file_comments"][str(blocked.id)] == ["drop the ID column", "drop the ID column"]


def test_a_file_one_reviewer_approves_and_the_other_withholds_is_a_conflict(world: Path):
    rid = submit(world, [CLEAN, OTHER])
    review("bob", rid, Decision.APPROVE, {"table.csv": ("approve", ""), "other.csv": ("approve", "")})
    review("carol", rid, Decision.APPROVE, {"table.csv": ("approve", ""), "other.csv": ("reject", "too fine")})
    assert outcomes(rid) == {"table.csv": FileOutcome.APPROVED, "other.csv": FileOutcome.CONFLICTED}
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.CONFLICTED and req.release is None and release_files(req) == []


def test_a_resolution_releases_only_what_a_reviewer_approved(world: Path):
    rid = submit(world, [CLEAN, OTHER])
    review("bob", rid, Decision.APPROVE, {"table.csv": ("approve", ""), "other.csv": ("changes", "merge regions")})
    review("carol", rid, Decision.REJECT, {"table.csv": ("reject", "no"), "other.csv": ("reject", "no")}, "no")
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        ids = {f.name: str(f.id) for f in req.files}
        both = {ids["table.csv"]: {"decision": "approve"}, ids["other.csv"]: {"decision": "approve"}}
        with pytest.raises(rules.DecisionRefused) as refused:
            workflow.resolve(s, "rita", rid, Decision.APPROVE, both, "fine")
        assert refused.value.problems == [(f"file-{ids['other.csv']}", "file 'other.csv' was approved by neither "
                                           "reviewer: a resolution cannot release it on one person's approval")]
    with session_scope() as s:
        workflow.resolve(s, "rita", rid, Decision.APPROVE, {ids["table.csv"]: {"decision": "approve"},
                                                             ids["other.csv"]: {"decision": "reject"}}, "table only")
        workflow.settle(s, rid)
        req = workflow.get_request(s, rid)
        assert [f.name for f in release_files(req)] == ["table.csv"]
        assert request_view(req, "alice")["resolution"] == "table only"


def test_approving_needs_one_approved_file_and_says_why_each_other_is_withheld(world: Path):
    rid = submit(world, [CLEAN, OTHER])
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        ids = {f.name: str(f.id) for f in req.files}
        none = {fid: {"decision": "changes", "comment": "x"} for fid in ids.values()}
        with pytest.raises(rules.DecisionRefused, match="approve at least one file") as refused:
            rules.check_decision(req, Decision.APPROVE, none, "")
        assert [field for field, _ in refused.value.problems] == ["decision"]
        unexplained = {ids["table.csv"]: {"decision": "approve"}, ids["other.csv"]: {"decision": "reject"}}
        with pytest.raises(rules.DecisionRefused) as refused:
            rules.check_decision(req, Decision.APPROVE, unexplained, "")
        assert refused.value.problems == [(f"comment-{ids['other.csv']}",
                                           "file 'other.csv' is withheld: say why in its comment to the requester")]
        rules.check_decision(req, Decision.APPROVE, unexplained, "other.csv is too fine")  # the request's comment
        missing = {ids["table.csv"]: {"decision": ""}}
        with pytest.raises(rules.DecisionRefused) as refused:
            rules.check_decision(req, Decision.RETURN, missing, "")
        assert [f for f, _ in refused.value.problems] == [f"file-{ids['table.csv']}", f"file-{ids['other.csv']}",
                                                          "comment_to_requester"]


def test_returning_releases_nothing_even_of_a_file_both_approved(world: Path):
    rid = submit(world, [CLEAN, OTHER])
    votes = {"table.csv": ("approve", ""), "other.csv": ("changes", "merge regions")}
    review("bob", rid, Decision.RETURN, votes, "fix other.csv")
    review("carol", rid, Decision.RETURN, votes, "fix other.csv")
    assert outcomes(rid)["table.csv"] == FileOutcome.APPROVED
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.RETURNED
        assert not any(rules.can_release_file(req, f) for f in req.files) and release_files(req) == []


def test_a_returned_request_is_revised_as_its_next_version_by_its_requester_only(world: Path):
    rid = submit(world, [CLEAN, OTHER])
    with session_scope() as s, pytest.raises(NotAllowed, match="only a returned request can be revised"):
        workflow.submit(s, "alice", "study", [CLEAN], "again", world, POLICY, revises=rid)
    votes = {"table.csv": ("approve", ""), "other.csv": ("changes", "merge regions")}
    review("bob", rid, Decision.RETURN, votes, "fix other.csv")
    review("carol", rid, Decision.RETURN, votes, "fix other.csv")
    with session_scope() as s, pytest.raises(NotFound, match=f"no export request {rid}"):
        workflow.submit(s, "dave", "study", [CLEAN], "mine now", world, POLICY, revises=rid)  # a member, not hers
    with session_scope() as s:
        new = workflow.submit(s, "alice", "study", [CLEAN, ("other.csv", b"region,n\nall,270\n")], "merged",
                              world, POLICY, revises=rid)
        assert (new.version, new.revision_of) == (2, rid)
        assert [v.id for v in workflow.versions(s, new)] == [rid, new.id]
        assert workflow.get_request(s, rid).state == ExportState.REVISED
        assert [e["details"]["revision"] for e in audit.query(s, action="export.revise")] == [f"request:{new.id}"]
        new_id = new.id
    with session_scope() as s, pytest.raises(NotAllowed, match="is revised: only a returned request"):
        workflow.submit(s, "alice", "study", [CLEAN], "third", world, POLICY, revises=rid)  # once only
    with session_scope() as s:  # the new version is open to the same reviewers
        assert rules.can_review(workflow.get_request(s, new_id), *workflow.parties(s, "bob",
                                                                                  workflow.get_request(s, new_id)))


def test_claims_fill_the_open_places_and_end_with_a_decision(world: Path):
    rid = submit(world)
    with session_scope() as s:
        workflow.claim(s, "bob", rid)
    with session_scope() as s, pytest.raises(NotAllowed, match="already claimed request"):
        workflow.claim(s, "bob", rid)
    with session_scope() as s:
        workflow.claim(s, "carol", rid)
    with session_scope() as s, pytest.raises(NotAllowed, match="already claimed by bob, carol"):
        workflow.claim(s, "rita", rid)
    review("bob", rid, Decision.APPROVE, {"table.csv": ("approve", "")})
    with session_scope() as s:
        assert rules.open_claims(workflow.get_request(s, rid)) == ["carol"]  # bob's claim ended with his review
    with session_scope() as s, pytest.raises(NotAllowed, match="already claimed by carol"):
        workflow.claim(s, "rita", rid)  # one place left, and carol holds it
    with session_scope() as s:
        workflow.unclaim(s, "carol", rid)
    with session_scope() as s:
        workflow.claim(s, "rita", rid)
        actions = [(e["actor"], e["action"]) for e in audit.query(s, action="export.*claim*")]
    assert actions == [("bob", "export.claim"), ("bob", "export.claim.refused"), ("carol", "export.claim"),
                       ("rita", "export.claim.refused"), ("rita", "export.claim.refused"), ("carol", "export.unclaim"),
                       ("rita", "export.claim")]


def test_a_requester_who_is_a_reviewer_cannot_claim_or_review_her_own_request(world: Path):
    rid = submit(world, who="dave")  # dave: researcher and reviewer, member of the project
    with session_scope() as s, pytest.raises(NotAllowed, match="cannot review your own"):
        workflow.claim(s, "dave", rid)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        me, project = workflow.parties(s, "dave", req)
        assert not rules.can_claim(req, me, project) and not rules.can_review(req, me, project)


def test_finding_texts_say_where_and_what_in_the_readers_language():
    count = {"check": "disclosure-control", "verdict": "block", "detail": "count 4 below threshold 10",
             "rule": "threshold>=10", "location": {"row": 3, "column": "n"}}
    assert person_text(count, "zh-CN", values=True) == "第 3 行 n 列：计数 4 低于阈值 10"
    assert person_text(count, "en", values=True) == "row 3, column n: count 4 is below the threshold of 10"
    assert person_text(count, "zh-CN") == "第 3 行 n 列：计数低于阈值 10"  # a requester's form: no value
    assert guidance_topic(count) == "small-counts" and "取整" in advice(count, "zh-CN")
    requester = {"check": "disclosure-control", "verdict": "block", "kind": "round-to-5", "location": {"line": 2}}
    assert person_text(requester, "en") == "line 2: a count not rounded to a multiple of 5"
    pid = {"check": "personal-data", "entity": "CN_RESIDENT_ID", "location": {"line": 1}}
    assert person_text(pid, "zh-CN") == "第 1 行：个人信息：居民身份证号" and guidance_topic(pid) == "personal-data"
    assert person_text({"check": "new-check", "kind": "r1"}, "en") == "check new-check: r1"


def test_form_problems_are_said_in_chinese_each_in_its_own_words():
    joined = "file 'a.csv' has blocking findings and cannot be approved as is; resolving a conflict needs a reason"
    assert message(joined, "zh-CN") == "文件“a.csv”有阻止性检查结果，不能按原样批准；裁决冲突必须填写理由"
    assert message(joined, "en") == joined
    assert message("something new", "zh-CN") == "something new"
