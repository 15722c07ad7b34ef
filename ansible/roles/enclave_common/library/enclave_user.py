#!/usr/bin/python
"""Ansible module: an enclave user account with its roles, through the enclave CLI."""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_user
short_description: Ensure an enclave user account exists with the given roles
description: Creates or updates the account through C(enclave user add); supports check mode and diff.
options:
  username: {description: Login name (the IdP's preferred_username)., required: true, type: str}
  name: {description: Real name., type: str, default: ""}
  email: {description: E-mail address., type: str, default: ""}
  roles: {description: Roles (researcher, reviewer, admin, auditor)., type: list, elements: str, required: true}
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run


def main():
    module = AnsibleModule(argument_spec=dict(
        username=dict(type="str", required=True), name=dict(type="str", default=""),
        email=dict(type="str", default=""), roles=dict(type="list", elements="str", required=True), **CLI_ARGS,
    ), supports_check_mode=True)
    p = module.params
    _rc, users = run(module, ["user", "list"])
    current = next((u for u in users if u["username"] == p["username"]), None)
    before = {"roles": sorted(current["roles"]), "name": current["name"]} if current else {}
    after = {"roles": sorted(p["roles"]), "name": p["name"] or (current or {}).get("name", "")}
    changed = before != after
    if changed and not module.check_mode:
        args = ["user", "add", p["username"], "--name", after["name"], "--email", p["email"]]
        for role in p["roles"]:
            args += ["--role", role]
        run(module, args)
    module.exit_json(changed=changed, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
