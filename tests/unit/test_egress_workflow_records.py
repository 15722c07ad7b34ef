"""What each step of the export workflow writes down, whole: the request, its reviews and every audit record.

The rules say who may act (rules.py, tested with them); the workflow is where an allowed step becomes a
state, a review and an audit record, and a refused one a refusal on the record. A record that loses the
decision, a file's vote or the reviewers who decided is an audit trail nobody can check, so these tests
compare whole records, not that one exists. Found missing by the mutation benchmark (benchmarks/mutation.py).

The `world` fixture: project `study` (alice, PI; dave, researcher *and* reviewer); reviewers bob, carol, rita
in no project; eve, a researcher in no project.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from egress_review import workflow
from enclave import audit
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound
from enclave.models import Decision, ExportRequest, ExportState, ProjectState
from enclave.projects import create_project, remove_member, today, transition, upsert_user
from tests.egress_helpers import CLEAN, FLAGGED, POLICY, conflict, submit

OTHER = ("other.csv", b"region,n\neast,150\nwest,120\n")
BINARY = ("blob.bin", bytes(range(256)) * 4)  # a type that may not leave: refused, nothing of it kept


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def events(action: str = "export.*") -> list[tuple[str, str, str | None, str, dict[str, Any]]]:
    with session_scope() as s:
        return [(e["actor"], e["action"], e["project"], e["target"], e["details"])
                for e in audit.query(s, action=action)]


def ids(rid: int) -> dict[str, str]:
    with session_scope() as s:
        return {f.name: str(f.id) for f in workflow.get_request(s, rid).files}


def review(who: str, rid: int, decision: Decision, by_name: dict[str, str], comment: str = "",
           private: str = "") -> ExportState:
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        file_votes = {str(f.id): {"decision": by_name[f.name], "comment": "checked"} for f in req.files}
        return workflow.review(s, who, rid, decision, file_votes, comment_to_requester=comment,
                               private_comment=private).state


def state(rid: int) -> ExportState:
    with session_scope() as s:
        return workflow.get_request(s, rid).state


def second_project() -> None:
    """Project `second`, active, led by alice too: she submits there as well."""
    with session_scope() as s:
        create_project(s, "admin", slug="second", title="T", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        transition(s, "admin", "second", ProjectState.APPROVED, "ok")
        transition(s, "admin", "second", ProjectState.ACTIVE, "ok")


# --- submitting -----------------------------------------------------------------------------------


def test_a_submission_records_each_file_by_name_digests_and_verdict_and_keeps_nothing_of_a_refused_one(world: Path):
    rid = submit(world, [CLEAN, FLAGGED, BINARY])
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        kept = [(f.name, f.sha256, f.size, f.verdict) for f in req.files]
        made = (req.project, req.requester, req.justification, req.version, req.revision_of, req.state)
        notes = req.files[1].sha256
    assert made == ("study", "alice", "aggregate table for paper", 1, None, ExportState.SUBMITTED)
    assert kept == [("table.csv", sha(CLEAN[1]), len(CLEAN[1]), "pass"),
                    ("notes.txt", notes, (world / notes[:2] / notes).stat().st_size, "review"),
                    ("blob.bin", sha(b""), 0, "block")]
    assert (world / sha(b"")[:2] / sha(b"")).read_bytes() == b""  # the refused file's bytes are not stored
    assert events() == [("alice", "export.submit", "study", f"request:{rid}", {
        "files": [{"name": "table.csv", "sha256": sha(CLEAN[1]), "original_sha256": sha(CLEAN[1]), "verdict": "pass"},
                  {"name": "notes.txt", "sha256": notes, "original_sha256": sha(FLAGGED[1]), "verdict": "review"},
                  {"name": "blob.bin", "sha256": sha(b""), "original_sha256": sha(BINARY[1]), "verdict": "block"}],
        "revises": None})]


def test_a_submission_checks_two_tables_together_for_a_count_only_their_difference_discloses(world: Path):
    whole, without = ("all.csv", b"region,n\nA,240\nB,180\nC,95\n"), ("no_hiv.csv", b"region,n\nA,240\nB,176\nC,95\n")
    with session_scope() as s:
        req = workflow.submit(s, "alice", "study", [whole, without], "with and without one diagnosis", world, POLICY)
        found = {f.name: [(x["rule"], x["verdict"], "all.csv" in x["detail"]) for x in f.scan["findings"]
                          if x["check"] == "disclosure-control"] for f in req.files}
    assert found == {"all.csv": [], "no_hiv.csv": [("differencing", "review", True)]}


def test_a_submission_compares_the_files_with_the_projects_own_data(two_projects: Path):
    from egress_review.service import Context
    from enclave.settings import get_settings

    own_id, own_phone = f"S{3:08d}", f"139{3:08d}"  # a record of the study's cohort@v1
    with session_scope() as s:
        own = Context(get_settings()).own_index(s, "study")
        req = workflow.submit(s, "alice", "study", [("rows.csv", f"ref,tel\n{own_id},{own_phone}\n".encode())],
                              "rows", two_projects, POLICY, own=own)
        found = {(x["rule"], x["verdict"]) for x in req.files[0].scan["findings"] if x["check"] == "own-data"}
    assert found == {("dataset-value", "block"), ("same-record", "block")}


def test_only_a_pickled_model_submitted_with_its_data_gets_the_membership_inference_test(
        world: Path, monkeypatch: pytest.MonkeyPatch):
    import pickle

    from egress_review import membership
    from egress_review.findings import Finding, Verdict

    asked: list[tuple[bytes, dict[str, Any], float, list[str]]] = []

    def attack(data: bytes, named: dict[str, Any], max_auc: float, static: list[Finding]) -> list[Finding]:
        asked.append((data, named, max_auc, [f.rule or "" for f in static]))
        return [Finding("model", Verdict.REVIEW, "the attack's answer", rule="membership-inference")]

    monkeypatch.setattr(membership, "findings", attack)
    model, named = pickle.dumps({"coef": [0.5, 0.25]}), {"training_data": "out/train.csv", "target": "y"}
    with session_scope() as s:
        plain = workflow.submit(s, "alice", "study", [("model.pkl", model)], "no data named", world, POLICY)
        assert asked == [] and "membership-inference" not in str(plain.files[0].scan["findings"])
        req = workflow.submit(s, "alice", "study", [CLEAN, ("model.pkl", model)], "a model", world, POLICY,
                              model=named)
        mia = [x["detail"] for x in req.files[1].scan["findings"] if x["rule"] == "membership-inference"]
    assert [(a[0], a[1], a[2]) for a in asked] == [(model, named, POLICY.model_attack_auc)]
    assert asked[0][3] and mia == ["the attack's answer"]  # it is given the static check's findings


def test_a_request_without_files_is_refused_and_leaves_no_request_and_no_record(world: Path):
    with session_scope() as s, pytest.raises(EnclaveError) as refused:
        workflow.submit(s, "alice", "study", [], "nothing yet", world, POLICY)
    assert str(refused.value) == "no files in the request"
    with session_scope() as s:
        assert s.query(ExportRequest).count() == 0
    assert events() == []


def test_a_researcher_removed_from_the_project_submits_nothing_more(world: Path):
    submit(world, who="dave")
    with session_scope() as s:
        remove_member(s, "steward", "study", "dave")
    with pytest.raises(NotAllowed, match="no export requests: .*not a member"):
        submit(world, who="dave")
    assert [e[1] for e in events()] == ["export.submit"]


def test_a_revision_is_recorded_on_both_versions_and_names_each_other(world: Path):
    rid = submit(world)
    for who in ("bob", "carol"):
        review(who, rid, Decision.RETURN, {"table.csv": "changes"}, comment="round to tens")
    with session_scope() as s:
        new = workflow.submit(s, "alice", "study", [OTHER], "rounded", world, POLICY, revises=rid)
        new_id, made = new.id, (new.version, new.revision_of, new.state)
    assert made == (2, rid, ExportState.SUBMITTED) and state(rid) == ExportState.REVISED
    after = events()[-3:]
    assert after == [
        ("alice", "export.submit", "study", f"request:{new_id}", {
            "files": [{"name": "other.csv", "sha256": sha(OTHER[1]), "original_sha256": sha(OTHER[1]),
                       "verdict": "pass"}], "revises": rid}),
        ("alice", "export.revised", "study", f"request:{rid}", {"before": "returned", "by": f"request:{new_id}"}),
        ("alice", "export.revise", "study", f"request:{rid}", {"revision": f"request:{new_id}", "version": 2}),
    ]


def test_a_returned_request_is_revised_only_from_its_own_projects_workspace(world: Path):
    second_project()
    rid = submit(world)
    for who in ("bob", "carol"):
        review(who, rid, Decision.RETURN, {"table.csv": "changes"}, comment="round to tens")
    with session_scope() as s, pytest.raises(NotAllowed) as refused:
        workflow.submit(s, "alice", "second", [CLEAN], "from elsewhere", world, POLICY, revises=rid)
    assert str(refused.value) == (f"request {rid} belongs to project 'study': revise it from that project's "
                                  "workspace")
    assert state(rid) == ExportState.RETURNED and [e[1] for e in events()][-1] == "export.returned"


# --- reviewing ------------------------------------------------------------------------------------


def test_each_review_and_the_outcome_are_recorded_with_the_decision_every_vote_and_both_reviewers(world: Path):
    rid = submit(world, [CLEAN, OTHER])
    fid = ids(rid)
    by_name = {"table.csv": "approve", "other.csv": "changes"}
    assert review("bob", rid, Decision.APPROVE, by_name, private="checked the rounding") == ExportState.IN_REVIEW
    assert review("carol", rid, Decision.APPROVE, by_name, comment="other.csv: merge regions") == \
        ExportState.APPROVED
    with session_scope() as s:
        kept = [(r.reviewer, r.decision, r.file_votes, r.comment_to_requester, r.private_comment)
                for r in workflow.get_request(s, rid).reviews]
    ballot = {fid["table.csv"]: {"decision": "approve", "comment": "checked"},
              fid["other.csv"]: {"decision": "changes", "comment": "checked"}}
    assert kept == [("bob", Decision.APPROVE, ballot, "", "checked the rounding"),
                    ("carol", Decision.APPROVE, ballot, "other.csv: merge regions", "")]
    votes = {fid["table.csv"]: "approve", fid["other.csv"]: "changes"}
    assert events()[1:] == [
        ("bob", "export.in_review", "study", f"request:{rid}", {"before": "submitted"}),
        ("bob", "export.review", "study", f"request:{rid}", {"decision": "approve", "files": votes}),
        ("carol", "export.review", "study", f"request:{rid}", {"decision": "approve", "files": votes}),
        ("system", "export.approved", "study", f"request:{rid}", {
            "before": "in_review", "reviewers": ["bob", "carol"],
            "files": {fid["table.csv"]: "approved", fid["other.csv"]: "returned"}}),
    ]


@pytest.mark.parametrize(("decision", "vote", "outcome", "file_outcome"), [
    (Decision.RETURN, "changes", ExportState.RETURNED, "returned"),
    (Decision.REJECT, "reject", ExportState.REJECTED, "rejected"),
])
def test_two_reviews_that_agree_to_withhold_decide_the_request_as_they_agree(world: Path, decision, vote, outcome,
                                                                            file_outcome):
    rid = submit(world)
    for who in ("bob", "carol"):
        review(who, rid, decision, {"table.csv": vote}, comment="too granular")
    fid = ids(rid)["table.csv"]
    assert state(rid) == outcome
    assert events()[-1] == ("system", f"export.{outcome.value}", "study", f"request:{rid}", {
        "before": "in_review", "reviewers": ["bob", "carol"], "files": {fid: file_outcome}})


def test_a_review_given_no_private_comment_keeps_an_empty_one(world: Path):
    rid = submit(world)
    with session_scope() as s:
        votes = {str(f.id): {"decision": "approve", "comment": ""} for f in workflow.get_request(s, rid).files}
        workflow.review(s, "bob", rid, Decision.APPROVE, votes)
    with session_scope() as s:
        kept = [(r.comment_to_requester, r.private_comment) for r in workflow.get_request(s, rid).reviews]
    assert kept == [("", "")]


def test_a_step_stamps_the_request_with_the_time_in_utc_whatever_the_machines_time_zone(world: Path, off_utc: None):
    rid = submit(world)
    with session_scope() as s:
        votes = {str(f.id): {"decision": "approve", "comment": ""} for f in workflow.get_request(s, rid).files}
        before = datetime.now(UTC)
        moved = workflow.review(s, "bob", rid, Decision.APPROVE, votes)  # submitted -> in review
        stamped = (moved.state, moved.updated_at)
    assert stamped[0] == ExportState.IN_REVIEW
    assert stamped[1].utcoffset() == timedelta(0)  # a local (naive) time would read eight hours off
    assert before <= stamped[1] <= datetime.now(UTC)


def test_a_conflict_and_its_resolution_are_recorded_with_the_resolvers_reason_decision_and_votes(world: Path):
    rid = conflict(world)
    fid = ids(rid)["table.csv"]
    assert events()[-1] == ("system", "export.conflicted", "study", f"request:{rid}", {
        "before": "in_review", "reviewers": ["bob", "carol"], "files": {fid: "conflicted"}})
    ballot = {fid: {"decision": "changes", "comment": "merge the rare codes"}}
    with session_scope() as s:
        req = workflow.resolve(s, "rita", rid, Decision.RETURN, ballot, "both have a point")
        kept = (req.state, req.resolution, req.resolved_by, req.resolution_votes)
    assert kept == (ExportState.RETURNED, "both have a point", "rita", ballot)
    assert events()[-1] == ("rita", "export.returned", "study", f"request:{rid}", {
        "before": "conflicted", "reason": "both have a point", "decision": "return", "files": {fid: "changes"}})


def test_a_resolution_approving_with_a_blocked_file_releases_the_rest_and_records_the_blocked_ones_vote(
        world: Path):
    rid = conflict(world, [CLEAN, BINARY])
    fid = ids(rid)
    ballot = {fid["table.csv"]: {"decision": "approve", "comment": "fine"},
              fid["blob.bin"]: {"decision": "changes", "comment": "not a type that leaves"}}
    with session_scope() as s:
        assert workflow.resolve(s, "rita", rid, Decision.APPROVE, ballot, "the table is safe").state == \
            ExportState.APPROVED
        rel = workflow.settle(s, rid)
        assert rel is not None
        out = ([f["name"] for f in rel.record["files"]], [(f["name"], f["outcome"]) for f in rel.record["withheld"]])
    assert out == (["table.csv"], [("blob.bin", "returned")])
    assert [e[1:] for e in events()][-2:] == [
        ("export.approved", "study", f"request:{rid}", {"before": "conflicted", "reason": "the table is safe",
                                                        "decision": "approve",
                                                        "files": {fid["table.csv"]: "approve",
                                                                  fid["blob.bin"]: "changes"}}),
        ("export.released", "study", f"request:{rid}", {"before": "approved", "files": [sha(CLEAN[1])],
                                                        "withheld": [sha(b"")]}),
    ]


def test_a_refused_review_or_resolution_is_recorded_with_the_decision_attempted_and_the_reason(world: Path):
    rid = submit(world)
    fid = ids(rid)["table.csv"]
    with session_scope() as s, pytest.raises(NotFound):
        workflow.review(s, "dave", rid, Decision.REJECT, {fid: {"decision": "reject"}}, "no")
    with session_scope() as s, pytest.raises(InvalidTransition):
        workflow.resolve(s, "bob", rid, Decision.APPROVE, {fid: {"decision": "approve"}}, "mine")
    assert events("export.*.refused") == [
        ("dave", "export.review.refused", "study", f"request:{rid}",
         {"decision": "reject", "reason": f"no export request {rid}"}),
        ("bob", "export.resolve.refused", "study", f"request:{rid}",
         {"decision": "approve", "reason": f"request {rid} is submitted, not conflicted"}),
    ]
    assert state(rid) == ExportState.SUBMITTED


def test_a_withdrawn_request_is_reviewed_by_no_one_and_the_refusal_is_recorded(world: Path):
    rid = submit(world)
    with session_scope() as s:
        workflow.withdraw(s, "alice", rid)
    with pytest.raises(NotFound, match=f"no export request {rid}"):
        review("bob", rid, Decision.APPROVE, {"table.csv": "approve"})
    assert state(rid) == ExportState.WITHDRAWN
    assert [e[:2] for e in events()][1:] == [("alice", "export.withdrawn"), ("bob", "export.review.refused")]


def test_a_reviewer_whose_role_was_taken_away_reviews_nothing(world: Path):
    rid = submit(world)
    review("bob", rid, Decision.APPROVE, {"table.csv": "approve"})
    with session_scope() as s:
        upsert_user(s, "admin", "bob", roles=["researcher"])
        upsert_user(s, "admin", "carol", roles=["researcher"])
    with pytest.raises(NotFound, match=f"no export request {rid}"):
        review("carol", rid, Decision.APPROVE, {"table.csv": "approve"})
    assert state(rid) == ExportState.IN_REVIEW


# --- withdrawing ----------------------------------------------------------------------------------


def test_the_requester_withdraws_a_request_in_review_and_the_step_is_recorded(world: Path):
    rid = submit(world)
    review("bob", rid, Decision.APPROVE, {"table.csv": "approve"})
    with session_scope() as s:
        assert workflow.withdraw(s, "alice", rid).state == ExportState.WITHDRAWN
    assert events()[-1] == ("alice", "export.withdrawn", "study", f"request:{rid}", {"before": "in_review"})


def test_a_decided_request_cannot_be_withdrawn_and_the_attempt_is_recorded(world: Path):
    rid = submit(world)
    for who in ("bob", "carol"):
        review(who, rid, Decision.REJECT, {"table.csv": "reject"}, comment="row-level data")
    with session_scope() as s, pytest.raises(NotAllowed) as refused:
        workflow.withdraw(s, "alice", rid)
    assert str(refused.value) == f"request {rid} is rejected and can no longer be withdrawn"
    assert state(rid) == ExportState.REJECTED
    assert events()[-1] == ("alice", "export.withdraw.refused", "study", f"request:{rid}",
                            {"reason": str(refused.value)})


def test_a_removed_member_cannot_withdraw_her_request_and_a_reviewer_never_can(world: Path):
    rid = submit(world, who="dave")
    with session_scope() as s, pytest.raises(NotAllowed, match="only the requester can withdraw"):
        workflow.withdraw(s, "bob", rid)
    with session_scope() as s:
        remove_member(s, "steward", "study", "dave")
    with session_scope() as s, pytest.raises(NotAllowed, match="no longer a member of project 'study'"):
        workflow.withdraw(s, "dave", rid)
    assert state(rid) == ExportState.SUBMITTED
    assert [e[:2] for e in events("export.withdraw*")] == [("bob", "export.withdraw.refused"),
                                                           ("dave", "export.withdraw.refused")]


# --- claims ---------------------------------------------------------------------------------------


def test_claims_are_kept_with_their_time_and_recorded_with_the_open_claims(world: Path):
    rid = submit(world)
    before = datetime.now().astimezone()
    for who in ("bob", "carol"):
        with session_scope() as s:
            workflow.claim(s, who, rid)
    with session_scope() as s:
        claims = workflow.get_request(s, rid).claims
    assert list(claims) == ["bob", "carol"]
    taken = [datetime.fromisoformat(at) for at in claims.values()]
    assert [at.utcoffset() for at in taken] == [timedelta(0), timedelta(0)]  # in UTC, as every stamp is
    assert all(before <= at <= datetime.now().astimezone() for at in taken)
    with session_scope() as s:
        workflow.unclaim(s, "bob", rid)
    with session_scope() as s, pytest.raises(NotAllowed) as refused:
        workflow.unclaim(s, "rita", rid)
    with session_scope() as s:
        assert list(workflow.get_request(s, rid).claims) == ["carol"]
    target = f"request:{rid}"
    assert events("export.*claim*") == [
        ("bob", "export.claim", "study", target, {"claims": ["bob"]}),
        ("carol", "export.claim", "study", target, {"claims": ["bob", "carol"]}),
        ("bob", "export.unclaim", "study", target, {}),
        ("rita", "export.claim.refused", "study", target, {"unclaim": True, "reason": str(refused.value)}),
    ]
    assert str(refused.value) == f"you have not claimed request {rid}"


def test_a_conflict_has_one_place_to_claim_and_neither_reviewer_takes_it(world: Path):
    rid = conflict(world)
    with session_scope() as s, pytest.raises(NotAllowed, match="third reviewer who reviewed neither side"):
        workflow.claim(s, "bob", rid)
    with session_scope() as s:
        workflow.claim(s, "rita", rid)
    with session_scope() as s:
        upsert_user(s, "admin", "zoe", roles=["reviewer"])
    with session_scope() as s, pytest.raises(NotAllowed) as refused:
        workflow.claim(s, "zoe", rid)
    assert str(refused.value) == f"request {rid} is already claimed by rita"
    target = f"request:{rid}"
    assert [(e[0], e[1], e[2], e[3], e[4].get("reason")) for e in events("export.*claim*")] == [
        ("bob", "export.claim.refused", "study", target, f"you reviewed request {rid}: its conflict must be "
                                                         "resolved by a third reviewer who reviewed neither side"),
        ("rita", "export.claim", "study", target, None),
        ("zoe", "export.claim.refused", "study", target, str(refused.value)),
    ]


# --- the row lock ---------------------------------------------------------------------------------


def test_every_step_that_changes_a_request_reads_it_under_the_row_lock(world: Path, monkeypatch: pytest.MonkeyPatch):
    """Without the lock two steps at once on PostgreSQL both act on what they read before the other wrote."""
    locks: list[bool] = []
    real = workflow.get_request

    def recording(session: Any, request_id: int, *, lock: bool = False) -> ExportRequest:
        locks.append(lock)
        return real(session, request_id, lock=lock)

    rid = conflict(world)
    returned = submit(world)
    for who in ("bob", "carol"):
        review(who, returned, Decision.RETURN, {"table.csv": "changes"}, comment="round")
    fresh = submit(world)
    fid, fresh_fid = ids(rid)["table.csv"], ids(fresh)["table.csv"]
    monkeypatch.setattr(workflow, "get_request", recording)
    steps = {
        "claim": lambda s: workflow.claim(s, "rita", rid),
        "unclaim": lambda s: workflow.unclaim(s, "rita", rid),
        "resolve": lambda s: workflow.resolve(s, "rita", rid, Decision.REJECT, {fid: {"decision": "reject"}}, "no"),
        "revise": lambda s: workflow.submit(s, "alice", "study", [CLEAN], "again", world, POLICY, revises=returned),
        "review": lambda s: workflow.review(s, "bob", fresh, Decision.APPROVE, {fresh_fid: {"decision": "approve"}}),
        "withdraw": lambda s: workflow.withdraw(s, "alice", fresh),
    }
    seen = {}
    for name, step in steps.items():
        locks.clear()
        with session_scope() as s:
            step(s)
        seen[name] = locks[0]
    assert seen == dict.fromkeys(steps, True)


# --- listing --------------------------------------------------------------------------------------


def test_a_requester_lists_her_own_requests_newest_first_and_no_one_elses(world: Path):
    first, theirs, second = submit(world), submit(world, who="dave"), submit(world)
    with session_scope() as s:
        assert [r.id for r in workflow.own_requests(s, "alice")] == [second, first]
        assert [r.id for r in workflow.own_requests(s, "dave")] == [theirs]


def test_a_reviewer_sees_the_requesters_other_requests_in_the_project_only_newest_first(world: Path):
    second_project()
    first, theirs, elsewhere = submit(world), submit(world, who="dave"), submit(world, project="second")
    mine, last = submit(world), submit(world)
    with session_scope() as s:
        req = workflow.get_request(s, mine)
        assert [r.id for r in workflow.earlier_requests(s, req)] == [last, first]  # not `elsewhere`: another project
        assert [r.id for r in workflow.earlier_requests(s, req, limit=1)] == [last]
        assert [r.id for r in workflow.earlier_requests(s, workflow.get_request(s, theirs))] == []
        assert [r.id for r in workflow.earlier_requests(s, workflow.get_request(s, elsewhere))] == []


def test_a_reviewer_sees_at_most_twenty_of_the_requesters_other_requests(world: Path):
    rids = [submit(world) for _ in range(22)]
    with session_scope() as s:
        shown = [r.id for r in workflow.earlier_requests(s, workflow.get_request(s, rids[0]))]
    assert shown == rids[:1:-1]  # the newest twenty of the twenty-one others


def test_a_step_under_the_lock_reads_what_another_wrote_since_and_the_lock_itself_changes_nothing(world: Path):
    """The lock's query reads the row and the reviews again: a session that read the request before another
    reviewer decided must not act on its old copy (a third review, a stuck state)."""
    rid = submit(world)
    with session_scope() as s:
        old = workflow.get_request(s, rid)
        seen = (old.state, list(old.reviews), old.updated_at)
        review("bob", rid, Decision.APPROVE, {"table.csv": "approve"})  # another session, committed
        with session_scope() as other:
            stamped = workflow.get_request(other, rid).updated_at
        locked = workflow.get_request(s, rid, lock=True)
        now = (locked.state, [r.reviewer for r in locked.reviews], locked.updated_at)
    assert seen[:2] == (ExportState.SUBMITTED, [])
    assert now == (ExportState.IN_REVIEW, ["bob"], stamped)


def test_a_refusal_of_a_request_that_does_not_exist_is_recorded_without_a_project(world: Path):
    with session_scope() as s, pytest.raises(NotFound) as refused:
        workflow.withdraw(s, "alice", 999)
    assert str(refused.value) == "no export request 999"
    assert events() == [("alice", "export.withdraw.refused", None, "request:999", {"reason": "no export request 999"})]


def test_a_refusal_that_cannot_be_recorded_still_stands_and_the_operators_are_told(
        world: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    rid = submit(world)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(workflow.audit, "record", broken)
    with session_scope() as s, pytest.raises(NotAllowed, match="only the requester can withdraw"):
        workflow.withdraw(s, "bob", rid)
    logged = [(r.name, r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records
              if r.name == workflow.log.name]
    assert logged == [("egress_review.workflow", "ERROR", "could not audit a refused export.withdraw.refused", True)]
    assert state(rid) == ExportState.SUBMITTED


def test_a_state_the_transitions_do_not_allow_is_refused_and_nothing_is_recorded(world: Path):
    """The last guard under every step: a rejected request never becomes approved, whatever calls for it."""
    rid = submit(world)
    for who in ("bob", "carol"):
        review(who, rid, Decision.REJECT, {"table.csv": "reject"}, comment="row-level data")
    recorded = events()
    with session_scope() as s, pytest.raises(InvalidTransition) as refused:
        req = workflow.get_request(s, rid)
        workflow._move(s, req, ExportState.APPROVED, "system")
    assert str(refused.value) == f"request {rid} cannot go from rejected to approved"
    assert state(rid) == ExportState.REJECTED and events() == recorded


def test_the_versions_of_a_request_whose_first_version_is_gone_start_at_the_oldest_left(world: Path):
    rid = submit(world)
    with session_scope() as s:
        orphan = ExportRequest(project="study", requester="alice", justification="j", version=3, revision_of=999)
        req = workflow.get_request(s, rid)
        assert workflow.versions(s, orphan) == [orphan] and workflow.versions(s, req) == [req]


def test_a_resolution_that_approves_without_approving_a_file_is_refused_and_the_conflict_stays(world: Path):
    rid = conflict(world)
    fid = ids(rid)["table.csv"]
    with session_scope() as s, pytest.raises(NotAllowed) as refused:
        workflow.resolve(s, "rita", rid, Decision.APPROVE, {fid: {"decision": "changes", "comment": "round"}}, "ok")
    assert str(refused.value) == ("approving releases the approved files: approve at least one file, or return or "
                                  "reject the request")
    assert state(rid) == ExportState.CONFLICTED
