"""Shared by the enclave modules: run the `enclave` CLI with `--json`, the only way they change anything.

The modules never touch the enclave's database; they ask the CLI what is there, work out what would
change (for check mode and --diff), and then run the CLI commands that change it.
"""

from __future__ import annotations

import json

CLI_ARGS = dict(
    enclave=dict(type="dict", required=True, options=dict(
        bin=dict(type="path", required=True),
        env=dict(type="dict", default={}),
    )),
)


def run(module, args, fail=True):
    """Returns (rc, parsed JSON or {}); fails the module with the CLI's own message when asked."""
    cfg = module.params["enclave"]
    env = {k: str(v) for k, v in (cfg.get("env") or {}).items() if v is not None}
    rc, out, err = module.run_command([cfg["bin"], *args, "--json"], environ_update=env)
    try:
        data = json.loads(out) if out.strip() else {}
    except ValueError:
        data = {"error": (out or err).strip()[-2000:]}
    if rc != 0 and fail:
        message = data.get("error") if isinstance(data, dict) else None
        module.fail_json(msg=message or (err or out).strip()[-2000:] or "enclave %s failed" % args[0],
                         cmd=" ".join(args), rc=rc)
    return rc, data
