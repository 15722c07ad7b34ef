"""Enclave core: settings, database, audit trail and the `enclave` CLI."""

__version__ = "0.1.0"
