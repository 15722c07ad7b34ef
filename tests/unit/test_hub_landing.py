"""Each role lands where its work is; roles whose sessions use the hub's own pages keep the hub's landing."""

from __future__ import annotations

from enclave.settings import REPO_ROOT
from hub.landing import landing_for
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").governance  # stewards: bob; owners: rhea; ethics: carol


def test_auditors_land_on_the_audit_view():
    assert landing_for(["auditor"], "audrey", POLICY) == "/services/governance/audit"


def test_named_approvers_without_hub_roles_land_on_their_applications():
    assert landing_for([], "carol", POLICY) == "/services/governance/applications"


def test_researchers_reviewers_and_operators_keep_the_hubs_landing():
    for roles, name in ((["researcher"], "alice"), (["reviewer"], "bob"), (["admin"], "admin"),
                        (["researcher", "auditor"], "x")):
        assert landing_for(roles, name, POLICY) == ""


def test_someone_with_no_role_and_no_part_gets_the_hubs_default():
    assert landing_for([], "nobody", POLICY) == ""
