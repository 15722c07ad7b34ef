"""The hub scope of the code recorder: a workspace's own token may post its own executed code, nothing else."""

from enclave.settings import ACTIVITY_SERVICE

SCOPE_RECORD = "custom:enclave-activity:record"
CUSTOM_SCOPES = {
    SCOPE_RECORD: {"description": "Post the cells and terminal commands one's own workspace executed to the record."},
}
__all__ = ["ACTIVITY_SERVICE", "CUSTOM_SCOPES", "SCOPE_RECORD"]
