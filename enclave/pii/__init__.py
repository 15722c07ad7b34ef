"""Recognisers of personal identifiers, shared by dataset ingestion checks and export checks.

One implementation, two users: `datasets_mount` asks which columns hold direct identifiers,
`egress_review` asks where in an output file they occur.
"""

from enclave.pii.recognizers import RECOGNIZERS, Match, find_all
from enclave.pii.validators import is_luhn, is_resident_id

__all__ = ["RECOGNIZERS", "Match", "find_all", "is_luhn", "is_resident_id"]
