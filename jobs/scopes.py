"""The hub scope of the jobs path: a workspace's own token may submit and follow its own project's jobs."""

from enclave.settings import JOBS_SERVICE

SCOPE_SUBMIT = "custom:enclave-jobs:submit"
SERVICE_ACCESS = f"access:services!service={JOBS_SERVICE}"
CUSTOM_SCOPES = {
    SCOPE_SUBMIT: {"description": "Submit blind-mode jobs from one's own workspace and follow its project's jobs."},
}
