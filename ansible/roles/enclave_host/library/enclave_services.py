#!/usr/bin/python
"""Ansible module: the enclave's processes (IdP, proxy, hub services, hub, job runner) on a host without systemd.

Hosts with systemd get unit files and ansible.builtin.systemd_service instead; this module serves
containers and single test hosts, using the same runner as `make up` (`enclave up` / `enclave down`).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: enclave_services
short_description: Start or stop the enclave's processes through the enclave CLI
options:
  state: {description: started or stopped., type: str, default: started, choices: [started, stopped]}
  demo: {description: Seed the demo users, project and dataset when starting., type: bool, default: false}
  enclave: {description: C(bin) path of the enclave CLI and C(env) for it., type: dict, required: true}
author: Enclave
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.enclave_cli import CLI_ARGS, run


def main():
    module = AnsibleModule(argument_spec=dict(
        state=dict(type="str", default="started", choices=["started", "stopped"]),
        demo=dict(type="bool", default=False), **CLI_ARGS), supports_check_mode=True)
    _rc, status = run(module, ["status"])
    procs = status["processes"]
    running = sorted(n for n, pid in procs.items() if pid)
    if module.params["state"] == "started":
        todo = sorted(n for n, pid in procs.items() if not pid)
        if todo and not module.check_mode:
            run(module, ["up", "--demo" if module.params["demo"] else "--no-demo"])
    else:
        todo = running
        if todo and not module.check_mode:
            run(module, ["down"])
    module.exit_json(changed=bool(todo), services=todo, url=status["url"],
                     diff={"before": {"running": running},
                           "after": {"running": sorted(procs) if module.params["state"] == "started" else []}}
                     if todo else {})


if __name__ == "__main__":
    main()
