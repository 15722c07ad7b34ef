"""Holes in the two-independent-reviewers rule, found by attacking it as a dishonest reviewer or requester.

Each test asserts what happens TODAY, so it passes and documents the hole; its comment says what should
happen. When a hole is closed, its test fails: turn it round into the test of the rule that closed it.

`world`: project `study` (alice, PI; dave, researcher and reviewer); reviewers bob, carol, rita in no project.
`two_projects`: `study` (alice) holds cohort@v1, a tier 2 dataset; reviewers bob and carol in no project.
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image

from egress_review import rules, service, workflow
from egress_review.scopes import SCOPE_DOWNLOAD, SCOPE_REQUEST, SERVICE_ACCESS
from egress_review.views import release_record_view, request_view
from enclave import audit
from enclave.access import check_can_start
from enclave.checksums import content_path
from enclave.db import session_scope
from enclave.errors import NotAllowed, NotFound
from enclave.models import Accreditation, Decision, ExportState, FileVote
from enclave.projects import add_member, get_project, get_user, today, upsert_user
from enclave.settings import EGRESS_PREFIX, get_settings
from hub.auth import check_can_sign_in_as
from tests.egress_helpers import CLEAN, decide, submit
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


@pytest.mark.parametrize("change", ["joins the project", "loses the reviewer role"])
def test_a_first_approval_still_counts_towards_the_release_after_its_reviewer_stops_being_independent(
        world: Path, change: str):
    """bob approves; then bob joins `study` (or his reviewer role is taken away, say for misconduct).

    SHOULD: bob's vote no longer counts, since the rule says an approver is an independent reviewer and
    "taking a role away, removing a member ... stops the next request at once": carol's approval leaves the
    request waiting for another independent review. TODAY: `review` counts every stored review when the
    second arrives and `check_can_release_file` never asks again who the approvers are, so carol's approval
    releases the file on one independent approval. Fix: a `check_can_count_review(review, request, project)`
    that applies `_check_independent` to each deciding reviewer (and the resolver) as of now, used by
    `review` before it decides the outcome and by `check_can_release_file` (so downloads stop too).
    """
    rid = submit(world)
    approve_and_settle("bob", rid)
    with session_scope() as s:
        if change == "joins the project":
            add_member(s, "admin", "study", "bob")
        else:
            upsert_user(s, "admin", "bob", roles=[])
    with session_scope() as s:
        req, bob, study = workflow.get_request(s, rid), get_user(s, "bob"), get_project(s, "study")
        with pytest.raises(NotAllowed):  # bob could not cast that vote now
            rules.check_can_review(req, bob, study)
    assert approve_and_settle("carol", rid) == ExportState.RELEASED
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert [r["reviewer"] for r in req.release.record["reviews"]] == ["bob", "carol"]
        assert rules.can_release_file(req, req.files[0])
        assert workflow.downloadable_file(s, "alice", rid, first_file(rid))[1].name == CLEAN[0]


# --- one identity, two usernames -----------------------------------------------------------------


def test_one_identity_at_the_provider_under_two_usernames_counts_as_two_people(world: Path):
    """alice's account is bound to her identity at the provider ("<issuer> <sub>"); the same identity gets a
    second account when the username claim changes (sub to preferred_username) or the provider renames her.

    SHOULD: the second account is refused at sign-in (an identity binds one account), and in any case
    `_check_independent` refuses a reviewer whose `idp_subject` is the requester's or a member's. TODAY:
    `check_can_sign_in_as` asks only whether the named account is bound to another identity, never whether
    the identity is bound to another account, and the rules compare usernames only, so alice reviews her own
    request as `alice-idp` and her approval and bob's release it. Fix: `check_can_sign_in_as` refuses a
    subject already bound to another username; `_check_independent` compares `idp_subject` (when set) with
    the requester's and every past member's, as it compares usernames.
    """
    subject = "https://idp.example.org 2f1c0a57-alice"
    with session_scope() as s:
        get_user(s, "alice").idp_subject = subject
        check_can_sign_in_as(None, subject)  # the new username has no account yet: nothing refuses it
        upsert_user(s, "idp", "alice-idp", roles=["reviewer"]).idp_subject = subject
    rid = submit(world)
    with session_scope() as s:
        req, study = workflow.get_request(s, rid), get_project(s, "study")
        assert get_user(s, "alice-idp").idp_subject == get_user(s, "alice").idp_subject
        rules.check_can_review(req, get_user(s, "alice-idp"), study)  # allowed: one person, her own request
    approve_and_settle("alice-idp", rid)
    assert approve_and_settle("bob", rid) == ExportState.RELEASED


# --- accreditation: the workspace stops, the export path does not --------------------------------


def test_a_lapsed_accreditation_stops_the_workspace_but_not_downloads_or_new_requests(two_projects: Path):
    """alice's accreditation lapses after her request was released: she may no longer work with the project's
    tier 2 data.

    SHOULD: `check_can_download` ("only while they may still work in the project") and `check_can_submit`
    ("the same answer as starting a workspace") refuse her, as `enclave.access.check_can_start` does. TODAY:
    both ask `startability` (state, membership, role) and never the accreditation, so she downloads the
    released files with a personal token and may still revise a returned request from the browser (the
    revision reads her workspace folder without a running workspace). Fix: the rules take the graded answer
    (`graded_startability`, passed in by `workflow.parties` so rules.py stays free of sessions) in
    `check_can_submit` and `check_can_download`.
    """
    rid = released_by_bob_and_carol(two_projects)
    with session_scope() as s:
        s.add(Accreditation(username="alice", level=2, training_completed=today() - timedelta(days=400),
                            expires=today() - timedelta(days=1), recorded_by="admin"))
    with session_scope() as s:
        with pytest.raises(NotAllowed, match="lapsed"):
            check_can_start(s, "alice", "study")
        alice, study = get_user(s, "alice"), get_project(s, "study")
        assert rules.can_submit(alice, study)
        assert workflow.downloadable_file(s, "alice", rid, first_file(rid))[1].name == CLEAN[0]


# --- what leaves with the requester's view of files that never leave -----------------------------


SECRET = 3  # a small count the reviewers withhold


def test_the_digest_of_a_withheld_file_leaves_in_the_requesters_view_and_gives_its_content_away(world: Path):
    """alice adds a file holding one small number; both reviewers withhold it and release the table.

    SHOULD: nothing computed from a withheld file's content leaves the enclave: what a requester sees "can be
    read outside the enclave (a personal token, results.json), so it must carry nothing the checks read from
    data" (views.py). TODAY: `file_view` gives the requester every file's sha256 and size from the moment she
    submits (before any review, through the API with a personal token), and results.json lists each withheld
    file's sha256: a digest of a low-entropy file is its content, found outside by trying the candidates.
    Fix: the requester's forms (`file_view(reviewer=False)`, `release_record_view`) carry a digest only for
    released files (withheld ones by name and outcome), and sizes only of released files.
    """
    secret_file = ("count.txt", f"north {SECRET}\n".encode())
    rid = submit(world, [CLEAN, secret_file])
    with session_scope() as s:
        before_review = request_view(workflow.get_request(s, rid), "alice")
        leaked_early = next(f["sha256"] for f in before_review["files"] if f["name"] == "count.txt")
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
        results = release_record_view(req.release.record)  # what alice downloads as results.json
    withheld = {f["name"]: f["sha256"] for f in results["withheld"]}
    assert set(withheld) == {"count.txt"} and withheld["count.txt"] == leaked_early
    found = [n for n in range(10_000) if hashlib.sha256(f"north {n}\n".encode()).hexdigest() == leaked_early]
    assert found == [SECRET]
    assert content_path(world, leaked_early).read_bytes() == secret_file[1]  # the stored form is the file itself


# --- refusals that leave no record ---------------------------------------------------------------


def test_a_refused_look_at_a_request_page_leaves_no_audit_record_though_a_refused_file_view_does(world: Path):
    """eve (no member, no reviewer) and dave (a member, so no independent reviewer) probe request numbers.

    SHOULD: every refused look is on the record, as a refused file view, review or download is: probing
    which request numbers exist, or a removed member coming back for her requests, is what an auditor looks
    for. TODAY: the request page and the JSON API call `workflow.visible_request`, whose refusal is not
    audited; only `visible_file` (and the decision steps) wrap it in `refusals_audited`. Fix: a
    `workflow.viewable(session, username, request_id)` that runs `rules.check_can_see` inside
    `refusals_audited(..., AuditAction.EXPORT_VIEW_REFUSED, ...)`, used by the page and the API.
    """
    rid = submit(world)
    for who in ("eve", "dave"):
        with session_scope() as s, pytest.raises(NotFound):
            workflow.visible_request(s, who, rid)
        with session_scope() as s, pytest.raises(NotFound):
            workflow.visible_file(s, who, rid, first_file(rid))
    with session_scope() as s:
        refused = [(e["actor"], e["action"]) for e in audit.query(s) if e["actor"] in ("eve", "dave")]
    assert refused == [("eve", "export.inspect.refused"), ("dave", "export.inspect.refused")]


# --- a personal token gets the reviewer's form through the pages -------------------------------


def test_a_reviewers_personal_token_gets_the_reviewer_form_and_file_bytes_from_the_pages_not_the_api(
        world: Path, own_hub_auth: None, monkeypatch: pytest.MonkeyPatch):
    """bob's personal token from the hub's token page inherits his scopes, `access:services!service=egress-review`
    among them (`extra_user_scopes`), and works from any machine or from inside a workspace he has pasted it into.

    SHOULD: what `rules.check_can_see_via_api` says of tokens ("the reviewer form of another project's request,
    with its findings, is never served through it") holds for every route, so a token gets the requester form
    of one's own requests only. TODAY: the rule is asked by `RequestApi` alone; the request page, the file page
    and the image bytes accept the same token (`Handler.get_current_user` tries the header first) and serve
    bob the reviewer form with findings and the raw stored image, while the API refuses him. Fix: a
    `check_can_see_as(request, user, project, by_token)` in rules.py that is `check_can_see_via_api` when the
    token authenticated the call, asked by `visible_request`/`visible_file` with `handler.authenticated_by_token`.
    """
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    rid = submit(get_settings().egress_store, [("plot.png", buf.getvalue())])  # the store the service reads
    fid = first_file(rid)
    inherited = [SERVICE_ACCESS, f"{SCOPE_REQUEST}!user=bob", f"{SCOPE_DOWNLOAD}!user=bob"]  # bob's own scopes
    tokens = {"bob-personal": {"name": "bob", "kind": "user", "scopes": inherited}}
    with hub_service(service, monkeypatch, tokens) as port, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}{EGRESS_PREFIX}", timeout=30,
                         headers={"Authorization": "token bob-personal"}) as c:
        api, page = c.get(f"api/requests/{rid}"), c.get(f"requests/{rid}")
        image = c.get(f"requests/{rid}/files/{fid}/image")
    assert api.status_code == 404
    assert page.status_code == 200 and 'id="review-form"' in page.text
    assert image.status_code == 200 and image.content == buf.getvalue()
