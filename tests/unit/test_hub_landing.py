"""Each role lands where its work is, by one mapping (hub.landing.landing_for); researchers keep the spawn page."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from enclave.db import session_scope
from enclave.settings import EGRESS_PREFIX, GOVERNANCE_PREFIX, REPO_ROOT
from hub import landing
from hub.landing import landing_for, waiting_steps
from policies import load_policies
from tests.unit.test_governance import FORM, _decide, _submitted, gov  # noqa: F401 - the fixture

POLICY = load_policies(REPO_ROOT / "policies").governance  # stewards: bob; owners: rhea; ethics: carol
OPS, APPS, AUDIT = f"{GOVERNANCE_PREFIX}ops", f"{GOVERNANCE_PREFIX}applications", f"{GOVERNANCE_PREFIX}audit"


@pytest.mark.parametrize(("roles", "name", "want"), [
    (["researcher"], "alice", ""),  # the hub's own landing: the spawn page with their projects
    (["admin"], "admin", OPS),
    (["reviewer"], "dave", EGRESS_PREFIX),  # a reviewer named for no approval: the export review queue
    (["auditor"], "audrey", AUDIT),
    ([], "carol", APPS),  # named in governance.yaml (ethics) and holding no role
])
def test_each_role_lands_where_its_work_is(roles, name, want):  # type: ignore[no-untyped-def]
    assert landing_for(roles, name, POLICY) == want


def test_a_steward_lands_on_the_applications_waiting_for_them_before_the_review_queue():
    assert landing_for(["reviewer"], "bob", POLICY, waiting=2) == APPS
    assert landing_for(["reviewer"], "bob", POLICY, waiting=0) == EGRESS_PREFIX


@pytest.mark.parametrize(("roles", "name", "waiting", "want"), [
    (["researcher", "reviewer"], "bob", 3, ""),  # their own research first: the spawn page
    (["researcher", "auditor"], "x", 0, ""),
    (["admin", "auditor"], "x", 0, OPS),
    (["admin", "reviewer"], "bob", 1, OPS),  # running the enclave before decisions
    (["reviewer", "auditor"], "x", 0, EGRESS_PREFIX),
    (["auditor"], "carol", 0, APPS),  # named as ethics officer: the applications page, not the audit view
])
def test_someone_with_several_roles_lands_by_the_first_that_applies(roles, name, waiting, want):  # type: ignore[no-untyped-def]
    assert landing_for(roles, name, POLICY, waiting) == want


def test_someone_with_no_role_and_no_part_gets_the_hubs_default():
    assert landing_for([], "nobody", POLICY) == ""
    assert landing_for(["something-else"], "nobody", POLICY, waiting=5) == ""


def test_nobody_lands_on_the_jupyterhub_admin_panel():
    assert all("/hub/admin" not in url for _, url in landing.ORDER)


def test_open_steps_count_for_the_people_their_party_names_and_not_for_the_applicant(gov):  # type: ignore[no-untyped-def] # noqa: F811
    app_id = _submitted(gov)  # stage 1 open: the steward (bob); ethics (carol) waits for stage 2
    with session_scope() as s:
        assert (waiting_steps(s, "bob", gov.governance), waiting_steps(s, "carol", gov.governance)) == (1, 0)
        assert waiting_steps(s, "alice", gov.governance) == 0
    _decide(gov, "bob", app_id, _party("steward"))
    with session_scope() as s:
        assert (waiting_steps(s, "bob", gov.governance), waiting_steps(s, "carol", gov.governance)) == (0, 1)


def test_the_hub_is_told_the_landing_of_the_signed_in_person(gov):  # type: ignore[no-untyped-def] # noqa: F811
    _submitted(gov)

    def url(name: str) -> str:
        return landing.default_url(SimpleNamespace(current_user=SimpleNamespace(name=name)))

    assert (url("alice"), url("admin"), url("audrey"), url("bob"), url("carol")) == ("", OPS, AUDIT, APPS,
                                                                                       EGRESS_PREFIX)
    assert landing.default_url(SimpleNamespace(current_user=None)) == ""


def _party(name: str):  # type: ignore[no-untyped-def]
    from enclave.models import Party

    return Party(name)
