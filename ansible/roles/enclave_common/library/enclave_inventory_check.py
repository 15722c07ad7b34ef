#!/usr/bin/python
"""Ansible module: check every project in the inventory before any of them is changed.

Unknown datasets, members or PIs without an account, expiry dates in the past, bad names or states:
all are reported at once, and the play stops before the first change.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_inventory_check
short_description: Validate enclave projects, users and datasets from the inventory; changes nothing
options:
  projects: {description: The enclave_projects list., type: list, elements: dict, default: []}
  users:
    description: The enclave_users list (accounts about to be created count as existing).
    type: list
    elements: dict
    default: []
  datasets:
    description: The enclave_datasets list (versions about to be ingested count as existing).
    type: list
    elements: dict
    default: []
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

import datetime
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run

SLUG = re.compile(r"^[a-z][a-z0-9-]{2,39}$")
STATES = ("requested", "approved", "active", "suspended", "closed")


def main():
    module = AnsibleModule(argument_spec=dict(
        projects=dict(type="list", elements="dict", default=[]), users=dict(type="list", elements="dict", default=[]),
        datasets=dict(type="list", elements="dict", default=[]), **CLI_ARGS,
    ), supports_check_mode=True)
    p = module.params
    _rc, users = run(module, ["user", "list"])
    _rc, sets = run(module, ["dataset", "list"])
    accounts = {u["username"] for u in users} | {u["username"] for u in p["users"]}
    known = {"%s@%s" % (d["name"], d["version"]) for d in sets}
    known |= {"%s@%s" % (d["name"], d["version"]) for d in p["datasets"]}
    today = datetime.date.today()
    problems = []
    seen = set()
    for i, proj in enumerate(p["projects"]):
        slug = proj.get("slug", "")
        where = "enclave_projects[%d] (%s)" % (i, slug or "no slug")
        if not SLUG.match(slug or ""):
            problems.append("%s: slug must be 3-40 lower-case letters, digits or '-'" % where)
        if slug in seen:
            problems.append("%s: listed twice" % where)
        seen.add(slug)
        for key in ("title", "approval_ref", "purpose", "pi", "expiry"):
            if not proj.get(key):
                problems.append("%s: '%s' is required" % (where, key))
        if proj.get("state", "active") not in STATES:
            problems.append("%s: state '%s' is not one of %s" % (where, proj.get("state"), ", ".join(STATES)))
        try:
            expiry = datetime.date.fromisoformat(str(proj.get("expiry", "")))
            if expiry <= today and proj.get("state", "active") != "closed":
                problems.append("%s: expiry %s is in the past" % (where, expiry))
        except ValueError:
            problems.append("%s: expiry '%s' is not a date like 2027-03-31" % (where, proj.get("expiry")))
        people = [proj.get("pi")] + [m.get("user") for m in proj.get("members", [])]
        for user in people:
            if user and user not in accounts:
                problems.append("%s: member '%s' has no account (add it to enclave_users)" % (where, user))
        for m in proj.get("members", []):
            if m.get("role", "researcher") not in ("researcher", "pi"):
                problems.append("%s: member role '%s' must be researcher or pi" % (where, m.get("role")))
        for label in proj.get("datasets", []):
            if label not in known:
                problems.append("%s: unknown dataset '%s' (not in the catalog nor in enclave_datasets)"
                                % (where, label))
    if problems:
        module.fail_json(msg="inventory problems, nothing was changed:\n- " + "\n- ".join(problems),
                         problems=problems)
    module.exit_json(changed=False, checked=len(p["projects"]))


if __name__ == "__main__":
    main()
