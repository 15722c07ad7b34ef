"""The self-contained enclave of `make up` and the test suite, apart from what production runs.

The demo data (`data`), the demo identity provider (`idp`), the process runner that starts hub, proxy, IdP
and services without systemd (`runner`), the test harness (`harness`) and the `enclave up/down/status/demo`
commands that use them. The production playbooks install systemd units for the hub, proxy and services and
an institution's OIDC provider; none of them starts anything from this package
(tests/unit/test_layering.py holds both rules).
"""
