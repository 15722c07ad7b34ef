"""The hub scope of the packages path: a workspace's own token may ask for packages for its own project."""

from enclave.settings import PACKAGES_SERVICE

SCOPE_REQUEST = "custom:enclave-packages:request"
CUSTOM_SCOPES = {
    SCOPE_REQUEST: {"description": f"Ask for Python packages from one's own workspace ({PACKAGES_SERVICE}) and "
                                   "see its project's package requests."},
}
