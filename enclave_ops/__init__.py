"""What operators run: the `enclave` command line, above the core (`enclave/`) and the feature packages.

The CLI stays thin: each command parses its arguments, calls a domain function that owns the effects (so the
CLI, Ansible and the web services share them) and prints the result.
"""
