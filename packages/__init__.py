"""Approved packages, inside the boundary: researchers' requests, stewards' decisions, the host's wheelhouse.

Depends only on the core (enclave/) and the policies; the CLI (`enclave packages ...`) calls `workflow`.
"""
