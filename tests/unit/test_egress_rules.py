"""Each rule of `egress_review.rules` against the actor it is meant to stop, decided from the database now.

The `world` fixture: project `study` (alice, PI; dave, researcher *and* reviewer), reviewers bob, carol
and rita in no project, researcher eve in no project. A role taken away, a member removed or a project
suspended changes the next answer: nothing is remembered from a login.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from egress_review import rules, workflow
from enclave.db import session_scope
from enclave.errors import EnclaveError, InvalidTransition, NotAllowed, NotFound
from enclave.models import Decision, ExportRequest, ExportState, FileVote, Project, ProjectState, User
from enclave.projects import add_member, get_project, get_user, remove_member, today, transition, upsert_user
from tests.egress_helpers import conflict, decide, resolve, submit

STOPPED = [ProjectState.SUSPENDED, ProjectState.EXPIRED, ProjectState.CLOSED]


@contextmanager
def seen_by(username: str, rid: int) -> Iterator[tuple[ExportRequest, User, Project]]:
    """The request, the user and the request's project, fresh from the database."""
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        yield req, get_user(s, username), get_project(s, req.project)


def refused(check: Callable[..., None], username: str, rid: int, error: type[EnclaveError] = NotAllowed) -> str:
    """The reason `check` gives `username` for request `rid`."""
    with seen_by(username, rid) as (req, user, project), pytest.raises(error) as exc:
        check(req, user, project)
    return str(exc.value)


def allowed(check: Callable[..., None], username: str, rid: int) -> bool:
    with seen_by(username, rid) as (req, user, project):
        check(req, user, project)
    return True


def change(fn: Callable[[Session], object]) -> None:
    with session_scope() as s:
        fn(s)


def stop(state: ProjectState) -> Callable[[Session], object]:
    return lambda s: transition(s, "admin", "study", state, "committee decision")


def released(store: Path) -> int:
    rid = submit(store)
    decide("bob", rid)
    decide("carol", rid)
    change(lambda s: workflow.settle(s, rid))
    return rid


# --- submit -------------------------------------------------------------------------------------


def submit_check(username: str, on=None) -> None:
    with session_scope() as s:
        rules.check_can_submit(get_user(s, username), get_project(s, "study"), on)


def test_a_member_researcher_of_an_active_project_may_submit(world: Path):
    submit_check("alice")
    submit_check("dave")
    with session_scope() as s:
        assert rules.can_submit(get_user(s, "alice"), get_project(s, "study"))
        assert not rules.can_submit(get_user(s, "eve"), get_project(s, "study"))


def test_someone_outside_the_project_cannot_submit(world: Path):
    with pytest.raises(NotAllowed, match="no export requests: you are not a member of project 'study'"):
        submit_check("eve")


def test_a_removed_member_cannot_submit_at_once(world: Path):
    submit(world, who="dave")
    change(lambda s: remove_member(s, "admin", "study", "dave"))
    with pytest.raises(NotAllowed, match="not a member of project 'study'"):
        submit_check("dave")
    with pytest.raises(NotAllowed, match="not a member"):
        submit(world, who="dave")


def test_a_member_whose_researcher_role_was_removed_cannot_submit(world: Path):
    change(lambda s: upsert_user(s, "admin", "alice", roles=[]))
    with pytest.raises(NotAllowed, match="does not have the researcher role"):
        submit_check("alice")


@pytest.mark.parametrize("state", STOPPED)
def test_no_requests_in_a_stopped_project(world: Path, state: ProjectState):
    change(stop(state))
    with pytest.raises(NotAllowed, match=f"project 'study' is {state.value}, not active"):
        submit(world)


def test_no_requests_after_the_expiry_date_even_before_the_project_is_marked_expired(world: Path):
    submit_check("alice", on=today() + timedelta(days=8))
    with pytest.raises(NotAllowed, match="expired on"):
        submit_check("alice", on=today() + timedelta(days=9))


# --- review -------------------------------------------------------------------------------------


def test_an_independent_reviewer_may_review(world: Path):
    rid = submit(world)
    assert allowed(rules.check_can_review, "bob", rid)
    with seen_by("bob", rid) as (req, bob, project):
        assert rules.can_review(req, bob, project)


def test_a_requester_who_is_a_reviewer_cannot_review_their_own(world: Path):
    rid = submit(world, who="dave")
    assert "cannot review your own export request" in refused(rules.check_can_review, "dave", rid)


def test_a_reviewer_who_is_a_member_of_the_project_cannot_review(world: Path):
    rid = submit(world)
    assert "member of project 'study' and cannot review" in refused(rules.check_can_review, "dave", rid)


def test_a_researcher_cannot_review(world: Path):
    rid = submit(world, who="dave")
    assert "only users with the reviewer role can review" in refused(rules.check_can_review, "eve", rid)


def test_a_reviewer_whose_role_was_removed_cannot_review_at_once(world: Path):
    rid = submit(world)
    change(lambda s: upsert_user(s, "admin", "bob", roles=["researcher"]))
    assert "only users with the reviewer role" in refused(rules.check_can_review, "bob", rid)
    with pytest.raises(NotFound, match=f"no export request {rid}"):  # she may no longer see it either
        decide("bob", rid)


def test_a_reviewer_added_to_the_project_cannot_review_its_requests(world: Path):
    rid = submit(world)
    change(lambda s: add_member(s, "admin", "study", "bob"))
    assert "member of project 'study'" in refused(rules.check_can_review, "bob", rid)


def test_a_member_removed_for_one_review_and_added_back_is_never_independent(world: Path):
    rid = submit(world)
    change(lambda s: remove_member(s, "steward", "study", "dave"))
    assert "were a member of project 'study'" in refused(rules.check_can_review, "dave", rid)
    with pytest.raises(NotFound):
        decide("dave", rid)
    change(lambda s: add_member(s, "steward", "study", "dave"))
    assert "were a member of project 'study'" in refused(rules.check_can_review, "dave", rid)
    with session_scope() as s:  # and he is a member again, with his one row
        assert [m.user.username for m in get_project(s, "study").members] == ["alice", "dave"]


def test_the_pi_is_never_an_independent_reviewer_even_off_the_member_list(world: Path):
    change(lambda s: upsert_user(s, "admin", "alice", roles=["researcher", "reviewer"]))
    rid = submit(world, who="dave")
    change(lambda s: remove_member(s, "steward", "study", "alice"))
    assert "were a member of project 'study'" in refused(rules.check_can_review, "alice", rid)


def test_a_removed_member_stops_being_a_member_but_keeps_her_history(world: Path):
    change(lambda s: remove_member(s, "steward", "study", "dave"))
    with session_scope() as s:
        project, dave = get_project(s, "study"), get_user(s, "dave")
        assert [m.user.username for m in project.members] == ["alice"] and dave.memberships == []
        assert [(m.user.username, m.removed_at is not None) for m in project.member_history] == [
            ("alice", False), ("dave", True)]
    with session_scope() as s, pytest.raises(NotFound, match="not a member"):
        remove_member(s, "steward", "study", "dave")


@pytest.mark.parametrize("state", STOPPED)
def test_no_reviews_in_a_stopped_project(world: Path, state: ProjectState):
    rid = submit(world)
    change(stop(state))
    reason = refused(rules.check_can_review, "bob", rid)
    assert f"is {state.value}, not active" in reason and "cannot be reviewed now" in reason


def test_no_review_after_the_expiry_date(world: Path):
    rid = submit(world)
    with seen_by("bob", rid) as (req, bob, project), pytest.raises(NotAllowed, match="expired on"):
        rules.check_can_review(req, bob, project, on=today() + timedelta(days=30))


def test_one_review_each_two_in_all_and_only_while_open(world: Path):
    rid = submit(world)
    decide("bob", rid)
    assert "already reviewed" in refused(rules.check_can_review, "bob", rid)
    decide("carol", rid, Decision.REJECT, comment="too granular")
    assert "conflicted, not open for review" in refused(rules.check_can_review, "rita", rid)


def test_the_two_review_limit_holds_even_in_an_open_state(world: Path):
    rid = submit(world)
    decide("bob", rid)
    decide("carol", rid)
    with seen_by("rita", rid) as (req, rita, project):
        req.state = ExportState.IN_REVIEW  # as a stale read would see it
        with pytest.raises(NotAllowed, match="already has 2 reviews"):
            rules.check_can_review(req, rita, project)


@pytest.mark.parametrize("check", [rules.check_can_review, rules.check_can_resolve, rules.check_can_download,
                                   rules.check_can_see])
def test_a_rule_asked_about_another_projects_request_is_a_programming_error(world: Path, check):
    rid = submit(world)
    with seen_by("alice", rid) as (req, alice, project):
        project.slug = "other"
        with pytest.raises(ValueError, match="belongs to 'study', not 'other'"):
            check(req, alice, project)
        project.slug = "study"


# --- resolve ------------------------------------------------------------------------------------


def test_only_a_third_reviewer_may_resolve(world: Path):
    rid = conflict(world)
    assert allowed(rules.check_can_resolve, "rita", rid)
    for who in ("bob", "carol"):
        assert "reviewed neither side" in refused(rules.check_can_resolve, who, rid)
    assert "reviewer role can resolve" in refused(rules.check_can_resolve, "alice", rid)
    assert "member of project 'study' and cannot resolve" in refused(rules.check_can_resolve, "dave", rid)


def test_a_requester_who_is_a_reviewer_cannot_resolve_their_own(world: Path):
    rid = conflict(world, who="dave")
    assert "cannot resolve your own" in refused(rules.check_can_resolve, "dave", rid)


def test_only_a_conflicted_request_is_resolved(world: Path):
    rid = submit(world)
    assert "not conflicted" in refused(rules.check_can_resolve, "rita", rid, InvalidTransition)


def test_a_reviewer_whose_role_was_removed_cannot_resolve(world: Path):
    rid = conflict(world)
    change(lambda s: upsert_user(s, "admin", "rita", roles=[]))
    assert "reviewer role" in refused(rules.check_can_resolve, "rita", rid)


@pytest.mark.parametrize("state", STOPPED)
def test_no_resolutions_in_a_stopped_project(world: Path, state: ProjectState):
    rid = conflict(world)
    change(stop(state))
    assert "cannot be resolved now" in refused(rules.check_can_resolve, "rita", rid)


# --- download -----------------------------------------------------------------------------------


def test_the_requester_downloads_a_released_request(world: Path):
    rid = released(world)
    assert allowed(rules.check_can_download, "alice", rid)


def test_a_reviewer_cannot_download_before_or_after_release(world: Path):
    rid = submit(world)
    decide("bob", rid)
    assert "requester only" in refused(rules.check_can_download, "bob", rid)
    decide("carol", rid)
    change(lambda s: workflow.settle(s, rid))
    assert "requester only" in refused(rules.check_can_download, "bob", rid)
    with session_scope() as s, pytest.raises(NotAllowed, match="requester only"):
        workflow.downloadable(s, "bob", rid)


def test_nothing_is_downloaded_before_release(world: Path):
    rid = submit(world)
    decide("bob", rid)
    decide("carol", rid)  # approved, not yet released
    assert "approved: nothing is released" in refused(rules.check_can_download, "alice", rid)


def test_another_member_of_the_project_cannot_download(world: Path):
    rid = released(world)
    assert "requester only" in refused(rules.check_can_download, "dave", rid)


def test_a_removed_member_cannot_download_what_was_released_to_them(world: Path):
    rid = released(world)
    change(lambda s: remove_member(s, "admin", "study", "alice"))
    assert "no downloads: you are not a member of project 'study'" in refused(rules.check_can_download, "alice", rid)


def test_a_requester_whose_researcher_role_was_removed_cannot_download(world: Path):
    rid = released(world)
    change(lambda s: upsert_user(s, "admin", "alice", roles=[]))
    assert "researcher role" in refused(rules.check_can_download, "alice", rid)


@pytest.mark.parametrize("state", STOPPED)
def test_no_downloads_from_a_stopped_project(world: Path, state: ProjectState):
    rid = released(world)
    change(stop(state))
    assert f"no downloads: project 'study' is {state.value}" in refused(rules.check_can_download, "alice", rid)


# --- see ----------------------------------------------------------------------------------------


def test_who_sees_a_request(world: Path):
    rid = submit(world)
    assert allowed(rules.check_can_see, "alice", rid)  # the requester
    assert allowed(rules.check_can_see, "bob", rid)  # a reviewer who may review it
    for who in ("eve", "dave"):  # outside the project; a member (and reviewer) who is not the requester
        assert refused(rules.check_can_see, who, rid, NotFound) == f"no export request {rid}"
    with seen_by("eve", rid) as (req, eve, project):
        assert not rules.can_see(req, eve, project)


def test_reviewers_see_what_they_reviewed_or_resolved_and_nothing_else_once_decided(world: Path):
    rid = conflict(world)
    assert allowed(rules.check_can_see, "rita", rid)  # may resolve it
    resolve("rita", rid, Decision.RETURN, FileVote.CHANGES)
    for who in ("bob", "carol", "rita"):
        assert allowed(rules.check_can_see, who, rid)
    other = released(world)
    assert refused(rules.check_can_see, "rita", other, NotFound) == f"no export request {other}"


def test_a_reviewer_whose_role_was_removed_no_longer_sees_what_they_reviewed(world: Path):
    rid = submit(world)
    decide("bob", rid)
    change(lambda s: upsert_user(s, "admin", "bob", roles=["researcher"]))
    assert refused(rules.check_can_see, "bob", rid, NotFound) == f"no export request {rid}"


def test_a_reviewer_who_joined_the_project_no_longer_sees_what_they_reviewed(world: Path):
    rid = submit(world)
    decide("bob", rid)
    change(lambda s: add_member(s, "admin", "study", "bob"))
    refused(rules.check_can_see, "bob", rid, NotFound)


def test_a_removed_member_no_longer_sees_their_own_request(world: Path):
    rid = submit(world)
    change(lambda s: remove_member(s, "admin", "study", "alice"))
    assert "no longer a member of project 'study'" in refused(rules.check_can_see, "alice", rid)


def test_a_stored_file_is_seen_only_by_who_sees_the_request(world: Path):
    rid = submit(world)
    with session_scope() as s:
        fid = str(workflow.get_request(s, rid).files[0].id)
        assert workflow.visible_file(s, "bob", rid, fid)[1].name == "table.csv"
        with pytest.raises(NotFound, match=f"no export request {rid}"):
            workflow.visible_file(s, "eve", rid, fid)
        with pytest.raises(NotFound, match="has no file 999"):
            workflow.visible_file(s, "alice", rid, "999")


# --- withdraw -----------------------------------------------------------------------------------


def test_only_the_requester_withdraws_and_only_while_open(world: Path):
    rid = submit(world)
    with seen_by("bob", rid) as (req, bob, _p), pytest.raises(NotAllowed, match="only the requester"):
        rules.check_can_withdraw(req, bob)
    with seen_by("alice", rid) as (req, alice, _p):
        assert rules.can_withdraw(req, alice)
    done = released(world)
    with seen_by("alice", done) as (req, alice, _p):
        with pytest.raises(NotAllowed, match="released and can no longer be withdrawn"):
            rules.check_can_withdraw(req, alice)
        assert not rules.can_withdraw(req, alice)
