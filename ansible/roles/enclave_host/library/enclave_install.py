#!/usr/bin/python
"""Ansible module: the enclave's software on this host (Python environment, proxy, workspace image).

`scripts/setup.sh --check` names what is missing or stale without changing anything; only then is
`scripts/setup.sh` run. So check mode predicts, and a second run reports no change.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_install
short_description: Install or update the enclave's software from a checkout (idempotent)
options:
  repo: {description: Path of the enclave checkout., required: true, type: path}
  env: {description: Environment for the build (e.g. ENCLAVE_IMAGE)., type: dict, default: {}}
author: Enclave
"""

import os

from ansible.module_utils.basic import AnsibleModule


def stale(module, repo, env):
    rc, out, err = module.run_command(["bash", os.path.join(repo, "scripts", "setup.sh"), "--check"],
                                      cwd=repo, environ_update=env)
    if rc != 0:
        module.fail_json(msg="setup.sh --check failed: %s" % (err or out).strip()[-2000:])
    return sorted({w.strip() for w in out.splitlines() if w.strip()})


def main():
    module = AnsibleModule(argument_spec=dict(repo=dict(type="path", required=True),
                                              env=dict(type="dict", default={})), supports_check_mode=True)
    repo, env = module.params["repo"], {k: str(v) for k, v in module.params["env"].items()}
    todo = stale(module, repo, env)
    if todo and not module.check_mode:
        rc, out, err = module.run_command(["bash", os.path.join(repo, "scripts", "setup.sh")], cwd=repo,
                                          environ_update=env)
        if rc != 0:
            module.fail_json(msg="setup.sh failed: %s" % (err or out).strip()[-3000:])
        left = stale(module, repo, env)
        if left:
            module.fail_json(msg="still stale after setup: %s" % ", ".join(left))
    module.exit_json(changed=bool(todo), updated=todo,
                     diff={"before": {"stale": todo}, "after": {"stale": []}} if todo else {})


if __name__ == "__main__":
    main()
