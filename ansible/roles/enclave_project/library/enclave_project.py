#!/usr/bin/python
"""Ansible module: a project as the inventory describes it, through the enclave CLI.

It works out every change first (create, fields, members, dataset approvals, state), so check mode
and --diff show exactly what a real run would do, then runs the CLI commands in a safe order:
approvals before activation, removals before suspension or closure.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_project
short_description: Ensure an enclave project exists with its members, datasets, limits and state
description: Uses the enclave CLI (never the database); supports check mode and diff.
options:
  slug: {description: Project name., required: true, type: str}
  title: {description: Title., required: true, type: str}
  approval_ref: {description: Ethics / data-access committee reference., required: true, type: str}
  purpose: {description: The approved purpose., required: true, type: str}
  pi: {description: Principal investigator (username)., required: true, type: str}
  start: {description: Start date YYYY-MM-DD., type: str}
  expiry: {description: Expiry date YYYY-MM-DD., required: true, type: str}
  state: {description: requested, approved, active, suspended or closed., type: str, default: active}
  reason: {description: Reason recorded with state changes and revocations., type: str, default: set by Ansible}
  members:
    description: "Members: list of {user, role} (role researcher or pi)."
    type: list
    elements: dict
    default: []
  datasets: {description: Approved dataset versions as name@version., type: list, elements: str, default: []}
  cpu: {description: CPU limit., type: float}
  mem: {description: Memory limit like 4G., type: str}
  pids: {description: Process limit., type: int}
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run

FORWARD = ["requested", "approved", "active"]


def state_path(current, wanted):
    """The transitions from `current` to `wanted`, in order."""
    if current == wanted:
        return []
    if wanted in FORWARD and current in FORWARD:
        i, j = FORWARD.index(current), FORWARD.index(wanted)
        if j > i:
            return FORWARD[i + 1:j + 1]
    if current == "suspended" and wanted in ("active", "approved"):
        return ["active"] if wanted == "active" else [wanted]
    if wanted == "suspended" and current in FORWARD[:2]:
        return FORWARD[FORWARD.index(current) + 1:] + ["suspended"]
    return [wanted]


def main():
    module = AnsibleModule(argument_spec=dict(
        slug=dict(type="str", required=True), title=dict(type="str", required=True),
        approval_ref=dict(type="str", required=True), purpose=dict(type="str", required=True),
        pi=dict(type="str", required=True), start=dict(type="str"), expiry=dict(type="str", required=True),
        state=dict(type="str", default="active",
                   choices=["requested", "approved", "active", "suspended", "closed"]),
        reason=dict(type="str", default="set by Ansible"),
        members=dict(type="list", elements="dict", default=[]), datasets=dict(type="list", elements="str", default=[]),
        cpu=dict(type="float"), mem=dict(type="str"), pids=dict(type="int"), **CLI_ARGS,
    ), supports_check_mode=True)
    p = module.params
    slug = p["slug"]
    rc, cur = run(module, ["project", "show", slug], fail=False)
    if rc != 0 and "no project" not in str(cur.get("error", "")):
        module.fail_json(msg=cur.get("error", "enclave project show failed"))
    exists = rc == 0
    members = {m["user"]: m.get("role", "researcher") for m in p["members"]}
    members[p["pi"]] = "pi"
    mem = p["mem"].upper() if p["mem"] else None
    want = {"title": p["title"], "purpose": p["purpose"], "expiry": p["expiry"], "state": p["state"],
            "limits": {"cpu": p["cpu"], "mem": mem, "pids": p["pids"]},
            "members": sorted(({"user": u, "role": r} for u, r in members.items()), key=lambda m: m["user"]),
            "datasets": sorted(p["datasets"])}
    before = {}
    steps = []  # (description, CLI args)
    if not exists:
        args = ["project", "create", slug, "--title", p["title"], "--approval-ref", p["approval_ref"],
                "--purpose", p["purpose"], "--pi", p["pi"], "--expiry", p["expiry"]]
        args += ["--start", p["start"]] if p["start"] else []
        args += ["--cpu", str(p["cpu"])] if p["cpu"] is not None else []
        args += ["--mem", mem] if mem else []
        args += ["--pids", str(p["pids"])] if p["pids"] is not None else []
        steps.append(("create", args))
        current_state, current_members, current_sets = "requested", {p["pi"]: "pi"}, set()
    else:
        before = {k: cur[k] for k in ("title", "purpose", "expiry", "state", "limits", "members", "datasets")}
        if cur["approval_ref"] != p["approval_ref"] or cur["pi"] != p["pi"]:
            module.fail_json(msg="project %s: the approval reference and the PI cannot change; a new approval "
                                 "is a new project" % slug)
        upd = []
        for key, flag, value in (("title", "--title", p["title"]), ("purpose", "--purpose", p["purpose"]),
                                 ("expiry", "--expiry", p["expiry"])):
            if cur[key] != value:
                upd += [flag, value]
        for key, flag, value in (("cpu", "--cpu", p["cpu"]), ("mem", "--mem", mem), ("pids", "--pids", p["pids"])):
            if value is not None and cur["limits"][key] != value:
                upd += [flag, str(value)]
        if upd:
            steps.append(("update", ["project", "update", slug, *upd]))
        current_state = cur["state"]
        current_members = {m["user"]: m["role"] for m in cur["members"]}
        current_sets = set(cur["datasets"])
    for user, role in sorted(members.items()):
        if current_members.get(user) != role:
            steps.append(("member %s" % user, ["project", "add-member", slug, user, "--role", role]))
    for label in sorted(set(p["datasets"]) - current_sets):
        steps.append(("approve %s" % label, ["project", "approve-dataset", slug, label]))
    for user in sorted(set(current_members) - set(members)):
        steps.append(("remove %s" % user, ["project", "remove-member", slug, user]))
    for label in sorted(current_sets - set(p["datasets"])):
        steps.append(("revoke %s" % label, ["project", "revoke-dataset", slug, label.split("@")[0],
                                            "--reason", p["reason"]]))
    for state in state_path(current_state, p["state"]):
        steps.append(("state %s" % state, ["project", "transition", slug, state, "--reason", p["reason"]]))
    if steps and not module.check_mode:
        for _what, args in steps:
            run(module, args)
    module.exit_json(changed=bool(steps), actions=[s[0] for s in steps],
                     diff={"before": before, "after": want if steps else before})


if __name__ == "__main__":
    main()
