"""The hub scopes of the export path: workspace tokens may request, people (browser, personal tokens) download."""

from enclave.settings import EGRESS_SERVICE

SCOPE_REQUEST = "custom:enclave-export:request"
SCOPE_DOWNLOAD = "custom:enclave-export:download"
SERVICE_ACCESS = f"access:services!service={EGRESS_SERVICE}"
CUSTOM_SCOPES = {
    SCOPE_REQUEST: {"description": "Submit, list and withdraw one's own export requests."},
    SCOPE_DOWNLOAD: {"description": "Download one's own released export files."},
}
