"""Executed code on the record: every notebook cell and terminal command a workspace runs, kept outside it.

The workspace's recorder (images/workspace/enclave_record.py) posts what ran to `activity.service` with the
workspace server's own token; `activity.records` stores it append-only, hashed, each batch tied into the audit
trail. Depends only on the core (enclave/); the CLI (`enclave audit code`) calls `activity.records`.
"""
