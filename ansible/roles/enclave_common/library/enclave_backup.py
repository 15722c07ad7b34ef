#!/usr/bin/python
"""Ansible module: backups (a signed folder or a restic snapshot), verified restores and restore drills.

Every action is the `enclave` CLI, so Ansible, the systemd timers and an admin at a shell run the same
domain functions (enclave.backup).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_backup
short_description: Enclave backups, verified restores and restore drills through the enclave CLI
options:
  action:
    description:
      - C(init) creates the restic repository (and its password file) when it is not there.
      - C(backup) writes a signed folder at I(path), or without I(path) a snapshot in the restic repository.
      - C(restore) restores the folder at I(path) into I(target) and verifies it.
      - C(drill) restores the latest snapshot into a scratch place, verifies it and records the outcome.
    type: str
    required: true
    choices: [init, backup, restore, drill]
  path: {description: The backup folder (new for backup; existing for restore)., type: path}
  target: {description: Empty folder to restore into., type: path}
  with_datasets: {description: Include dataset files (default for snapshots is the backup policy)., type: bool}
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run


def _fail_verification(module, what, result):
    problems = result.get("problems") or [result.get("error", "%s failed" % what)]
    module.fail_json(msg="restore drill FAILED:\n- " + "\n- ".join(problems),
                     **{k: v for k, v in result.items() if k != "msg"})


def _init(module):
    _rc, result = run(module, ["backup", "init", *(["--check"] if module.check_mode else [])])
    module.exit_json(changed=bool(result.get("created")), **result)


def _backup(module, p):
    datasets = {True: ["--with-datasets"], False: ["--without-datasets"], None: []}[p["with_datasets"]]
    if p["path"] is None:
        if module.check_mode:
            module.exit_json(changed=True)
        _rc, result = run(module, ["backup", *datasets])
        module.exit_json(changed=True, **result)
    if os.path.exists(os.path.join(p["path"], "backup.json")):
        module.exit_json(changed=False, backup=p["path"], msg="backup already there")
    if module.check_mode:
        module.exit_json(changed=True, backup=p["path"])
    _rc, result = run(module, ["backup", p["path"], *datasets])
    module.exit_json(changed=True, **result)


def main():
    module = AnsibleModule(argument_spec=dict(
        action=dict(type="str", required=True, choices=["init", "backup", "restore", "drill"]),
        path=dict(type="path"), target=dict(type="path"), with_datasets=dict(type="bool"), **CLI_ARGS),
        required_if=[("action", "restore", ("path", "target"))], supports_check_mode=True)
    p = module.params
    if p["action"] == "init":
        _init(module)
    if p["action"] == "backup":
        _backup(module, p)
    if module.check_mode:
        module.exit_json(changed=True, restored=p["target"])
    args = ["backup", "drill"] if p["action"] == "drill" else ["restore", p["path"], "--target", p["target"]]
    rc, result = run(module, args, fail=False)
    if rc != 0 or not result.get("ok"):
        _fail_verification(module, p["action"], result)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
