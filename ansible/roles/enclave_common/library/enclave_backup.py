#!/usr/bin/python
"""Ansible module: take a backup, or restore one into an empty place and verify it (the drill)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_backup
short_description: Enclave backups and verified restores through the enclave CLI
options:
  action: {description: backup or restore., type: str, required: true, choices: [backup, restore]}
  path: {description: The backup folder (new for backup; existing for restore)., type: path, required: true}
  target: {description: Empty folder to restore into., type: path}
  with_datasets: {description: Include dataset files., type: bool, default: false}
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run


def main():
    module = AnsibleModule(argument_spec=dict(
        action=dict(type="str", required=True, choices=["backup", "restore"]), path=dict(type="path", required=True),
        target=dict(type="path"), with_datasets=dict(type="bool", default=False), **CLI_ARGS),
        required_if=[("action", "restore", ("target",))], supports_check_mode=True)
    p = module.params
    if p["action"] == "backup":
        if os.path.exists(os.path.join(p["path"], "backup.json")):
            module.exit_json(changed=False, backup=p["path"], msg="backup already there")
        if module.check_mode:
            module.exit_json(changed=True, backup=p["path"])
        _rc, result = run(module, ["backup", p["path"], *(["--with-datasets"] if p["with_datasets"] else [])])
        module.exit_json(changed=True, **result)
    if module.check_mode:
        module.exit_json(changed=True, restored=p["target"])
    rc, result = run(module, ["restore", p["path"], "--target", p["target"]], fail=False)
    if rc != 0 or not result.get("ok"):
        problems = result.get("problems") or [result.get("error", "restore failed")]
        module.fail_json(msg="restore drill FAILED:\n- " + "\n- ".join(problems), **{k: v for k, v in
                         result.items() if k != "msg"})
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
