"""Each rule decides on the date it is asked about, and says to whom it refuses only what that person may know.

`world` makes project `study` expire nine days from today: asked about a day after that, every rule that
depends on the project being open refuses, though the project is still marked active. A reviewer who
may not act on a request any more is told it does not exist (its number reveals nothing); the requester,
a member, is told why the project is closed, a reviewer only that it is.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from egress_review import rules, workflow
from enclave.db import session_scope
from enclave.errors import NotAllowed, NotFound
from enclave.models import ProjectState
from enclave.projects import get_project, get_user, today, transition
from tests.egress_helpers import conflict, decide, submit

AFTER_EXPIRY = today() + timedelta(days=10)
LAST_OPEN_DAY = today() + timedelta(days=8)


def _released(store: Path) -> int:
    rid = submit(store)
    decide("bob", rid)
    decide("carol", rid)
    with session_scope() as s:
        workflow.settle(s, rid)
    return rid


def _ask(check, username: str, rid: int, on=None) -> None:
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        check(req, get_user(s, username), get_project(s, req.project), on)


def test_a_conflict_is_not_resolved_after_the_expiry_date(world: Path):
    rid = conflict(world)
    _ask(rules.check_can_resolve, "rita", rid, LAST_OPEN_DAY)
    with pytest.raises(NotAllowed, match="expired on .*: its export requests cannot be resolved now"):
        _ask(rules.check_can_resolve, "rita", rid, AFTER_EXPIRY)


def test_nothing_is_downloaded_after_the_expiry_date(world: Path):
    rid = _released(world)
    _ask(rules.check_can_download, "alice", rid, LAST_OPEN_DAY)
    with pytest.raises(NotAllowed, match="no downloads: project 'study' expired on"):
        _ask(rules.check_can_download, "alice", rid, AFTER_EXPIRY)


def test_no_stored_file_is_read_after_the_expiry_date(world: Path):
    rid = _released(world)
    _ask(rules.check_can_read_files, "alice", rid, LAST_OPEN_DAY)
    with pytest.raises(NotAllowed, match="expired on .*: the files of its export requests cannot be read now"):
        _ask(rules.check_can_read_files, "alice", rid, AFTER_EXPIRY)


def test_after_the_expiry_date_a_reviewer_who_could_act_is_told_the_request_does_not_exist(world: Path):
    """bob could review it until the expiry date; after it he has no part in it, so it is "no such request"."""
    open_rid = submit(world)
    _ask(rules.check_can_see, "bob", open_rid, LAST_OPEN_DAY)
    for check in (rules.check_can_see, rules.check_can_read_files):
        with pytest.raises(NotFound, match=f"^no export request {open_rid}$"):
            _ask(check, "bob", open_rid, AFTER_EXPIRY)


def test_after_the_expiry_date_a_possible_resolver_is_told_the_conflict_does_not_exist(world: Path):
    rid = conflict(world)
    _ask(rules.check_can_see, "rita", rid, LAST_OPEN_DAY)
    with pytest.raises(NotFound, match=f"^no export request {rid}$"):
        _ask(rules.check_can_see, "rita", rid, AFTER_EXPIRY)


def test_a_reviewer_who_reviewed_still_sees_the_request_after_expiry_but_reads_no_file(world: Path):
    rid = submit(world)
    decide("bob", rid)
    _ask(rules.check_can_see, "bob", rid, AFTER_EXPIRY)
    with pytest.raises(NotAllowed, match="expired on"):
        _ask(rules.check_can_read_files, "bob", rid, AFTER_EXPIRY)


def test_the_requester_learns_why_the_project_is_closed_a_reviewer_only_that_it_is(world: Path):
    rid = submit(world)
    decide("bob", rid)
    with session_scope() as s:
        transition(s, "admin", "study", ProjectState.SUSPENDED, "under investigation")
    with pytest.raises(NotAllowed) as requester:
        _ask(rules.check_can_read_files, "alice", rid)
    assert str(requester.value) == ("project 'study' is suspended, not active (under investigation): "
                                    "the files of its export requests cannot be read now")
    with pytest.raises(NotAllowed) as reviewer:
        _ask(rules.check_can_read_files, "bob", rid)
    assert str(reviewer.value) == ("project 'study' is suspended, not active: "
                                   "the files of its export requests cannot be read now")
    with pytest.raises(NotAllowed) as reviewing:
        _ask(rules.check_can_review, "carol", rid)
    assert str(reviewing.value) == ("project 'study' is suspended, not active: "
                                    "its export requests cannot be reviewed now")


def test_the_json_api_serves_a_request_to_its_requester_only(world: Path):
    rid = submit(world)
    _ask(rules.check_can_see_via_api, "alice", rid)
    _ask(rules.check_can_see, "bob", rid)  # bob may see it in his browser, as its reviewer ...
    for who in ("bob", "dave", "eve"):  # ... but no token serves it to him, a member or an outsider
        with pytest.raises(NotFound, match=f"^no export request {rid}$"):
            _ask(rules.check_can_see_via_api, who, rid)
