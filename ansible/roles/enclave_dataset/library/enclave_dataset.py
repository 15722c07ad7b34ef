#!/usr/bin/python
"""Ansible module: a dataset version ingested through the enclave's checks (never around them)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_dataset
short_description: Ensure a dataset version is in the catalog, ingesting it through the checks if not
description: Versions are immutable; an existing version with another tier is an error. Supports check mode.
options:
  name: {description: Dataset name., required: true, type: str}
  version: {description: Version label., required: true, type: str}
  tier: {description: Sensitivity tier., required: true, type: int}
  path: {description: File or folder inside the import area., required: true, type: path}
  quasi: {description: Quasi-identifier columns for k-anonymity., type: list, elements: str, default: []}
  override_reason: {description: Accept despite failed checks (recorded)., type: str}
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type="str", required=True), version=dict(type="str", required=True),
        tier=dict(type="int", required=True), path=dict(type="path", required=True),
        quasi=dict(type="list", elements="str", default=[]), override_reason=dict(type="str"), **CLI_ARGS,
    ), supports_check_mode=True)
    p = module.params
    label = "%s@%s" % (p["name"], p["version"])
    rc, cur = run(module, ["dataset", "show", label], fail=False)
    if rc == 0:
        if cur["tier"] != p["tier"]:
            module.fail_json(msg="%s is stored with tier %s; versions are immutable: ingest a new version"
                                 % (label, cur["tier"]))
        module.exit_json(changed=False, dataset=label)
    if module.check_mode:
        module.exit_json(changed=True, dataset=label, diff={"before": {}, "after": {"dataset": label}})
    args = ["dataset", "ingest", p["path"], "--name", p["name"], "--version", p["version"], "--tier", str(p["tier"])]
    args += ["--quasi", ",".join(p["quasi"])] if p["quasi"] else []
    args += ["--override-reason", p["override_reason"]] if p["override_reason"] else []
    _rc, report = run(module, args)
    module.exit_json(changed=True, dataset=label, report=report,
                     diff={"before": {}, "after": {"dataset": label}})


if __name__ == "__main__":
    main()
