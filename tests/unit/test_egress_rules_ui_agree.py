"""The UI's `can_…` answer is the `check_can_…` answer, for every actor, request state and date.

The review pages show or hide a button from `can_…`; the handler behind the button enforces
`check_can_…`. If the two disagreed, a page would offer what the rule refuses (or hide what it allows).
Every pair is asked about the same grid: requests open for review (claimed by rita), conflicted,
returned and released; the requester, another member, independent reviewers and an outsider; today and
a day after the project's expiry date. The grid must contain both answers for every pair, or agreement
would prove nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from egress_review import rules, workflow
from enclave.db import session_scope
from enclave.errors import EnclaveError
from enclave.models import Decision
from enclave.projects import get_project, get_user, today
from tests.egress_helpers import conflict, decide, submit

ACTORS = ["alice", "dave", "bob", "rita", "eve"]
# `world` makes `study` expire nine days from today
DATES: list[date | None] = [None, today() + timedelta(days=10)]

# (rule for the UI, rule it must agree with, whether it takes the date)
PAIRS: list[tuple[Callable[..., bool], Callable[..., None], bool]] = [
    (rules.can_review, rules.check_can_review, True),
    (rules.can_resolve, rules.check_can_resolve, True),
    (rules.can_see, rules.check_can_see, True),
    (rules.can_see_via_api, rules.check_can_see_via_api, True),
    (rules.can_read_files, rules.check_can_read_files, True),
    (rules.can_download, rules.check_can_download, True),
    (rules.can_revise, rules.check_can_revise, True),
    (rules.can_claim, rules.check_can_claim, True),
    (rules.can_withdraw, rules.check_can_withdraw, False),
    (rules.can_unclaim, rules.check_can_unclaim, False),
]


def _checked(check: Callable[..., None], *args: object) -> bool:
    try:
        check(*args)
    except EnclaveError:
        return False
    return True


def released(store: Path) -> int:
    rid = submit(store)
    decide("bob", rid)
    decide("carol", rid)
    with session_scope() as s:
        workflow.settle(s, rid)
    return rid


def returned(store: Path) -> int:
    rid = submit(store)
    decide("bob", rid, Decision.RETURN, comment="aggregate further")
    decide("carol", rid, Decision.RETURN, comment="aggregate further")
    return rid


@pytest.fixture
def requests_in_every_state(world: Path) -> list[int]:
    """One request open for review (rita has claimed it), one conflicted, one returned, one released
    (all alice's)."""
    rids = [submit(world), conflict(world), returned(world), released(world)]
    with session_scope() as s:
        workflow.claim(s, "rita", rids[0])
    return rids


@pytest.mark.parametrize(("can", "check", "dated"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_each_ui_rule_agrees_with_its_check_for_every_actor_state_and_date(
        requests_in_every_state: list[int], can: Callable[..., bool], check: Callable[..., None], dated: bool):
    answers: list[bool] = []
    with session_scope() as s:
        for rid in requests_in_every_state:
            req = workflow.get_request(s, rid)
            project = get_project(s, req.project)
            for name in ACTORS:
                user = get_user(s, name)
                for on in DATES if dated else [None]:
                    args = (req, user, project, on) if dated else (req, user)
                    expected = _checked(check, *args)
                    assert can(*args) is expected, (can.__name__, rid, name, on)
                    answers.append(expected)
    assert True in answers and False in answers, f"{can.__name__}: the grid never allows or never refuses"


def test_can_submit_agrees_with_check_can_submit_for_every_actor_and_date(world: Path):
    answers: list[bool] = []
    with session_scope() as s:
        project = get_project(s, "study")
        for name in ACTORS:
            user = get_user(s, name)
            for on in DATES:
                expected = _checked(rules.check_can_submit, user, project, on)
                assert rules.can_submit(user, project, on) is expected, (name, on)
                answers.append(expected)
    assert True in answers and False in answers


def test_the_ui_rules_refuse_after_the_expiry_date_what_they_allow_today(requests_in_every_state: list[int]):
    """The date a UI rule is asked about is the date it decides on (not silently today)."""
    after = DATES[1]
    with session_scope() as s:
        project = get_project(s, "study")
        alice, bob, rita = (get_user(s, n) for n in ("alice", "bob", "rita"))
        open_req, conflicted_req, returned_req, released_req = (workflow.get_request(s, r)
                                                                for r in requests_in_every_state)
        cases = [
            (rules.can_submit, (alice, project)),
            (rules.can_review, (open_req, bob, project)),
            (rules.can_resolve, (conflicted_req, rita, project)),
            (rules.can_see, (open_req, bob, project)),
            (rules.can_read_files, (released_req, alice, project)),
            (rules.can_download, (released_req, alice, project)),
            (rules.can_revise, (returned_req, alice, project)),
            (rules.can_claim, (open_req, bob, project)),
            (rules.can_claim, (conflicted_req, rita, project)),  # the resolver's place
        ]
        for can, args in cases:
            assert can(*args) and can(*args, None), can.__name__
            assert not can(*args, after), can.__name__


def test_the_file_rules_for_the_ui_agree_with_their_checks(requests_in_every_state: list[int]):
    """Whether a file may be approved (its findings) and released (its request's outcome), as the page shows it."""
    answers: dict[str, list[bool]] = {"approve": [], "release": []}
    with session_scope() as s:
        for rid in requests_in_every_state:
            req = workflow.get_request(s, rid)
            for f in req.files:
                expected = _checked(rules.check_can_release_file, req, f)
                assert rules.can_release_file(req, f) is expected, (rid, f.name)
                answers["release"].append(expected)
                expected = _checked(rules.check_can_approve_file, f)
                assert rules.can_approve_file(f) is expected, (rid, f.name)
                answers["approve"].append(expected)
    assert set(answers["release"]) == {True, False}
    assert set(answers["approve"]) == {True}  # clean files only here; blocked ones: test_egress_rules_reasons
