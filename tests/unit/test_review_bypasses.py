"""Holes in the two-independent-reviewers rule, found by attacking it as a dishonest reviewer or requester.

Each test asserts what happens TODAY, so it passes and documents the hole; its comment says what should
happen. When a hole is closed, its test fails: turn it round into the test of the rule that closed it.

`world`: project `study` (alice, PI; dave, researcher and reviewer); reviewers bob, carol, rita in no project.
`two_projects`: `study` (alice) holds cohort@v1, a tier 2 dataset; reviewers bob and carol in no project.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image

from egress_review import rules, service, workflow
from egress_review.i18n import message
from egress_review.scopes import SCOPE_DOWNLOAD, SCOPE_REQUEST, SERVICE_ACCESS
from egress_review.views import release_record_view, request_view
from enclave import audit
from enclave.access import check_can_start
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.errors import InvalidTransition, NotAllowed, NotFound
from enclave.models import Accreditation, Decision, ExportState, FileOutcome, FileVote
from enclave.projects import add_member, get_project, get_user, today, upsert_user
from enclave.settings import EGRESS_PREFIX, get_settings
from hub.auth import check_can_sign_in_as
from tests.egress_helpers import CLEAN, conflict, decide, resolve, submit, votes
from tests.unit.conftest import hub_service


def approve_and_settle(reviewer: str, rid: int) -> ExportState:
    """An approving review of every file, then the release if the request is approved."""
    decide(reviewer, rid, Decision.APPROVE)
    with session_scope() as s:
        workflow.settle(s, rid)
        return workflow.get_request(s, rid).state


def released_by_bob_and_carol(store: Path) -> int:
    rid = submit(store)
    approve_and_settle("bob", rid)
    assert approve_and_settle("carol", rid) == ExportState.RELEASED
    return rid


def first_file(rid: int) -> str:
    with session_scope() as s:
        return str(workflow.get_request(s, rid).files[0].id)


# --- a vote keeps counting after its reviewer stops being independent ------------------------------


def _lose_independence(who: str, change: str) -> None:
    with session_scope() as s:
        if change == "joins the project":
            add_member(s, "admin", "study", who)
        else:
            upsert_user(s, "admin", who, roles=[])


@pytest.mark.parametrize("change", ["joins the project", "loses the reviewer role"])
def test_a_first_approval_stops_counting_when_its_reviewer_stops_being_independent_before_the_second(
        world: Path, change: str):
    """bob approves; then bob joins `study` (or his reviewer role is taken away, say for misconduct).

    Two reviewers independent at the moment of the decision: carol's approval leaves the request waiting for
    another independent review, bob's review stays on the record as voided with its reason, and rita's
    approval then releases the file on carol's and rita's reviews.
    """
    rid = submit(world)
    approve_and_settle("bob", rid)
    _lose_independence("bob", change)
    assert approve_and_settle("carol", rid) == ExportState.IN_REVIEW
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert [r.reviewer for r in req.reviews] == ["carol"]
        assert [r.reviewer for r in req.voided_reviews] == ["bob"]
        assert "the review by bob no longer counts" in req.voided_reviews[0].void_reason
        assert message(req.voided_reviews[0].void_reason, "zh-CN").startswith("bob 的审核不再计入：")
        assert request_view(req, "carol", reviewer=True)["voided_reviews"][0]["reviewer"] == "bob"
        assert rules.file_outcomes(req) == {req.files[0].id: FileOutcome.PENDING}
        voided = [e for e in audit.query(s) if e["action"] == AuditAction.EXPORT_REVIEW_VOIDED.value]
        assert [e["details"]["reviewer"] for e in voided] == ["bob"]
        with pytest.raises(NotAllowed):
            rules.check_can_review(req, get_user(s, "bob"), get_project(s, "study"))
    assert approve_and_settle("rita", rid) == ExportState.RELEASED
    with session_scope() as s:
        record = workflow.get_request(s, rid).release.record
        assert [r["reviewer"] for r in record["reviews"]] == ["carol", "rita"]
        assert [r["reviewer"] for r in record["voided_reviews"]] == ["bob"]


def test_two_approvals_stored_before_either_reviewer_stopped_being_independent_are_not_released(world: Path):
    """bob and carol approve; bob joins the project before the release runs: the request goes back to review."""
    rid = submit(world)
    approve_and_settle("bob", rid)
    decide("carol", rid, Decision.APPROVE)
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.APPROVED
    _lose_independence("bob", "joins the project")
    with session_scope() as s:
        assert workflow.settle(s, rid) is None
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.IN_REVIEW and req.release is None
        assert not rules.can_release_file(req, req.files[0])


def test_a_review_that_still_counts_is_not_voided_by_a_later_step(world: Path):
    """bob stays independent (an unrelated project change): his approval and carol's release the file."""
    rid = submit(world)
    approve_and_settle("bob", rid)
    with session_scope() as s:
        add_member(s, "admin", "study", "eve")
    assert approve_and_settle("carol", rid) == ExportState.RELEASED
    with session_scope() as s:
        assert workflow.get_request(s, rid).voided_reviews == []


def test_a_conflict_whose_approving_reviewer_stops_being_independent_goes_back_to_review(world: Path):
    """bob approves, carol rejects; bob joins the project: rita cannot release on carol's rejection and her own
    approval. The conflict is gone with bob's review, the request waits for a second review, and rita is told."""
    rid = conflict(world)
    _lose_independence("bob", "joins the project")
    with pytest.raises(InvalidTransition, match="not conflicted"):
        resolve("rita", rid, Decision.APPROVE, FileVote.APPROVE)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.IN_REVIEW and [r.reviewer for r in req.reviews] == ["carol"]
    assert decide("rita", rid, Decision.REJECT, comment="agree with carol") == ExportState.REJECTED


def test_a_resolution_whose_resolver_stops_being_independent_before_the_release_goes_back_to_the_conflict(
        world: Path):
    """rita resolves bob's and carol's conflict by approving; she loses the reviewer role before the release runs:
    nothing is released, the request is conflicted again, and another resolver decides."""
    rid = conflict(world)
    with session_scope() as s:
        workflow.resolve(s, "rita", rid, Decision.APPROVE, votes(rid, FileVote.APPROVE, "checked"), "safe table")
    _lose_independence("rita", "loses the reviewer role")
    with session_scope() as s:
        assert workflow.settle(s, rid) is None
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.CONFLICTED and not req.resolved_by and req.release is None
        assert [e["details"]["resolver"] for e in audit.query(s)
                if e["action"] == AuditAction.EXPORT_RESOLUTION_VOIDED.value] == ["rita"]
    with session_scope() as s:
        upsert_user(s, "admin", "zoe", roles=["reviewer"])
    assert resolve("zoe", rid, Decision.APPROVE, FileVote.APPROVE) == ExportState.APPROVED
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.RELEASED


# --- one identity, two usernames -----------------------------------------------------------------


def test_one_identity_at_the_provider_cannot_sign_in_under_a_second_username(world: Path):
    """alice's account is bound to her identity at the provider ("<issuer> <sub>"); the same identity comes back
    under a second username when the username claim changes (sub to preferred_username) or the provider renames
    her. The second account is refused at sign-in, so she can never review her own request as `alice-idp`;
    her own account, and another identity under a new username, still sign in."""
    subject = "https://idp.example.org 2f1c0a57-alice"
    with session_scope() as s:
        alice = get_user(s, "alice")
        alice.idp_subject = subject
        with pytest.raises(NotAllowed, match="already bound to account 'alice'"):
            check_can_sign_in_as(None, subject, alice)
        with pytest.raises(NotAllowed, match="already bound to account 'alice'"):
            check_can_sign_in_as(get_user(s, "bob"), subject, alice)
        check_can_sign_in_as(alice, subject, alice)
        check_can_sign_in_as(None, "https://idp.example.org someone-new", None)


# --- accreditation: the workspace stops, the export path does not --------------------------------


def test_a_lapsed_accreditation_stops_downloads_and_new_requests_as_it_stops_the_workspace(two_projects: Path):
    """alice's accreditation lapses after her request was released: she may no longer work with the project's
    tier 2 data, so `check_can_download` and `check_can_submit` refuse her as `check_can_start` does, and the
    refused download is on the record."""
    rid = released_by_bob_and_carol(two_projects)
    with session_scope() as s:
        assert workflow.downloadable_file(s, "alice", rid, first_file(rid))[1].name == CLEAN[0]
        s.add(Accreditation(username="alice", level=2, training_completed=today() - timedelta(days=400),
                            expires=today() - timedelta(days=1), recorded_by="admin"))
    with session_scope() as s:
        with pytest.raises(NotAllowed, match="lapsed"):
            check_can_start(s, "alice", "study")
        alice, study = get_user(s, "alice"), get_project(s, "study")
        with pytest.raises(NotAllowed, match="no export requests: your accreditation .* lapsed"):
            rules.check_can_submit(alice, study)
        with pytest.raises(NotAllowed, match="no downloads: your accreditation .* lapsed"):
            rules.check_can_download(workflow.get_request(s, rid), alice, study)
    with session_scope() as s, pytest.raises(NotAllowed, match="lapsed"):
        workflow.downloadable_file(s, "alice", rid, first_file(rid))
    with session_scope() as s:
        assert [e["action"] for e in audit.query(s, user="alice")][-1] == AuditAction.EXPORT_DOWNLOAD_REFUSED.value


def test_a_current_accreditation_for_the_projects_tier_keeps_downloads_and_requests_open(two_projects: Path):
    """The same release with alice's accreditation current until tomorrow: nothing is refused."""
    rid = released_by_bob_and_carol(two_projects)
    with session_scope() as s:
        s.add(Accreditation(username="alice", level=2, training_completed=today() - timedelta(days=30),
                            expires=today() + timedelta(days=1), recorded_by="admin"))
    with session_scope() as s:
        alice, study = get_user(s, "alice"), get_project(s, "study")
        rules.check_can_submit(alice, study)
        assert workflow.downloadable_file(s, "alice", rid, first_file(rid))[1].name == CLEAN[0]


# --- what leaves with the requester's view of files that never leave -----------------------------


SECRET = 3  # a small count the reviewers withhold


def test_no_digest_or_size_of_a_file_not_released_reaches_the_requester(world: Path):
    """alice adds a file holding one small number; both reviewers withhold it and release the table.

    What a requester sees can be read outside the enclave (a personal token, results.json), and the digest of
    a low-entropy file is its content to anyone who tries the candidates: her view carries a file's digest and
    size only once it is released, before review none, and results.json lists the withheld file by name and
    outcome. The full record in the database keeps every digest for reviewers and the audit.
    """
    secret_file = ("count.txt", f"north {SECRET}\n".encode())
    rid = submit(world, [CLEAN, secret_file])
    with session_scope() as s:
        before_review = request_view(workflow.get_request(s, rid), "alice")
        assert [(f["sha256"], f["bytes"]) for f in before_review["files"]] == [(None, None), (None, None)]
        assert all(f["sha256"] for f in request_view(workflow.get_request(s, rid), "bob", reviewer=True)["files"])
    for reviewer in ("bob", "carol"):
        with session_scope() as s:
            req = workflow.get_request(s, rid)
            file_votes = {str(f.id): {"decision": (FileVote.APPROVE if f.name == CLEAN[0] else FileVote.REJECT).value,
                                      "comment": "checked"} for f in req.files}
            workflow.review(s, reviewer, rid, Decision.APPROVE, file_votes, comment_to_requester="count withheld")
            workflow.settle(s, rid)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert req.state == ExportState.RELEASED
        after = {f["name"]: f for f in request_view(req, "alice")["files"]}
        stored = {f.name: f.sha256 for f in req.files}
        results = release_record_view(req.release.record)  # what alice downloads as results.json
        assert req.release.record["withheld"][0]["sha256"] == stored["count.txt"]  # kept for the record
    assert after["count.txt"]["sha256"] is None and after["count.txt"]["bytes"] is None
    assert after[CLEAN[0]]["sha256"] == stored[CLEAN[0]] and after[CLEAN[0]]["bytes"]
    assert [(f["name"], f["outcome"], sorted(f)) for f in results["withheld"]] == \
        [("count.txt", "rejected", ["id", "name", "outcome", "verdict"])]
    assert stored["count.txt"] not in str(results)


# --- refusals that leave no record ---------------------------------------------------------------


def test_a_refused_look_at_a_request_is_on_the_record_as_a_refused_file_view_is(world: Path):
    """eve (no member, no reviewer) and dave (a member, so no independent reviewer) probe request numbers:
    every refused look is recorded (`export.view.refused`), as a refused file view is, and a look allowed is not."""
    rid = submit(world)
    for who in ("eve", "dave"):
        with session_scope() as s, pytest.raises(NotFound):
            workflow.viewable(s, who, rid)
        with session_scope() as s, pytest.raises(NotFound):
            workflow.visible_file(s, who, rid, first_file(rid))
    with session_scope() as s, pytest.raises(NotFound):
        workflow.viewable(s, "eve", rid + 100)
    with session_scope() as s:
        workflow.viewable(s, "bob", rid)
        refused = [(e["actor"], e["action"], e["target"]) for e in audit.query(s)
                   if e["actor"] in ("eve", "dave", "bob")]
    assert refused == [("eve", "export.view.refused", f"request:{rid}"),
                       ("eve", "export.inspect.refused", f"request:{rid}"),
                       ("dave", "export.view.refused", f"request:{rid}"),
                       ("dave", "export.inspect.refused", f"request:{rid}"),
                       ("eve", "export.view.refused", f"request:{rid + 100}")]


# --- a personal token gets the reviewer's form through the pages -------------------------------


def test_a_reviewers_personal_token_gets_no_request_page_file_or_image_only_the_requesters_own(
        world: Path, own_hub_auth: None, monkeypatch: pytest.MonkeyPatch):
    """bob's personal token from the hub's token page inherits his scopes, `access:services!service=egress-review`
    among them (`extra_user_scopes`), and works from any machine or from inside a workspace he has pasted it into.

    A token gets the requester form of one's own requests only, on every route: bob's token is told "no export
    request" by the request page, the file page, the image bytes and the review form, as by the API, and is
    refused on the record; his browser session is not. alice's token gets her own request page without the
    stored content, and no file page or image bytes of a file not released.
    """
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    rid = submit(get_settings().egress_store, [("plot.png", buf.getvalue())])  # the store the service reads
    fid = first_file(rid)
    tokens = {"bob-personal": {"name": "bob", "kind": "user",
                               "scopes": [SERVICE_ACCESS, f"{SCOPE_REQUEST}!user=bob", f"{SCOPE_DOWNLOAD}!user=bob"]},
              "alice-personal": {"name": "alice", "kind": "user",
                                 "scopes": [SERVICE_ACCESS, f"{SCOPE_REQUEST}!user=alice",
                                            f"{SCOPE_DOWNLOAD}!user=alice"]}}
    paths = [f"api/requests/{rid}", f"requests/{rid}", f"requests/{rid}/files/{fid}",
             f"requests/{rid}/files/{fid}/image"]
    with hub_service(service, monkeypatch, tokens) as port, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}{EGRESS_PREFIX}", timeout=30) as c:
        bob = {p: c.get(p, headers={"Authorization": "token bob-personal"}) for p in paths}
        review = c.post(f"requests/{rid}/review", headers={"Authorization": "token bob-personal"},
                        data={"decision": "approve", f"file-{fid}": "approve", f"comment-{fid}": "ok"})
        alice = {p: c.get(p, headers={"Authorization": "token alice-personal"}) for p in paths}
    assert {p: r.status_code for p, r in bob.items()} == dict.fromkeys(paths, 404)
    assert review.status_code == 404
    assert alice[f"api/requests/{rid}"].status_code == 200 and alice[f"requests/{rid}"].status_code == 200
    assert "inline-content" not in alice[f"requests/{rid}"].text
    assert alice[f"requests/{rid}/files/{fid}"].status_code == 403
    assert alice[f"requests/{rid}/files/{fid}/image"].status_code == 403
    assert buf.getvalue() not in b"".join(r.content for r in [*bob.values(), *alice.values()])
    with session_scope() as s:
        actions = [e["action"] for e in audit.query(s, user="bob")]
        assert AuditAction.EXPORT_VIEW_REFUSED.value in actions and AuditAction.EXPORT_INSPECT_REFUSED.value in actions
        assert AuditAction.EXPORT_INSPECT.value not in actions
