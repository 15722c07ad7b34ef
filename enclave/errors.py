"""Domain errors whose message is the reason shown to the person who asked."""


class EnclaveError(Exception):
    """Something a user asked for cannot be done; the message says exactly why."""


class NotFound(EnclaveError):
    pass


class NotAllowed(EnclaveError):
    pass


class InvalidTransition(EnclaveError):
    pass


class Unavailable(EnclaveError):
    """A service the enclave depends on (database, Docker engine, storage) is down or full; nothing was changed."""
