"""Who connected, as the hub records it: forwarded headers believed only from the configured proxies.

JupyterHub always runs tornado with `xheaders=True`. Tornado then takes the last X-Forwarded-For entry that
is not in `trusted_downstream` (compared as exact strings, so networks cannot be listed) and, worse,
believes an `X-Real-Ip` or `X-Scheme` header from anybody: a browser could write any address into the hub's
log and the audit trail. Installed as tornado's HTTPServer implementation in the hub process, this server
drops those two headers and matches trusted proxies by address or network (ENCLAVE_TRUSTED_PROXIES).
Our own proxy appends the address it saw to X-Forwarded-For, so an address a client wrote there is only
believed when every hop after it is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer

SPOOFABLE = ("X-Real-Ip", "X-Scheme")


class TrustedProxies:
    """Proxies by address or network."""

    def __init__(self, entries: Iterable[str]):
        self.networks = tuple(ipaddress.ip_network(e, strict=False) for e in entries)

    def __contains__(self, candidate: object) -> bool:
        try:
            ip = ipaddress.ip_address(str(candidate))
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, forwarded_for: str) -> str:
        """The nearest X-Forwarded-For entry that is not a trusted proxy (the last one if all are)."""
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in self:
                return hop
        return hops[0] if hops else ""


class _ForwardedHeadersChecked(httputil.HTTPMessageDelegate):
    """Rewrites the request's forwarding headers before tornado's xheaders adapter reads them.

    X-Real-Ip and X-Scheme go; X-Forwarded-For is reduced to the one address we believe.
    """

    def __init__(self, inner: httputil.HTTPMessageDelegate, trusted: TrustedProxies):
        self.inner, self.trusted = inner, trusted

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        for name in SPOOFABLE:
            if name in headers:
                del headers[name]
        if "X-Forwarded-For" in headers:
            headers["X-Forwarded-For"] = self.trusted.client(",".join(headers.get_list("X-Forwarded-For")))
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


class EnclaveHTTPServer(HTTPServer):
    def initialize(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._trusted = TrustedProxies(kwargs.pop("trusted_downstream", None) or [])
        super().initialize(*args, **kwargs)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return _ForwardedHeadersChecked(super().start_request(server_conn, request_conn), self._trusted)


def install() -> None:
    """Make every tornado HTTPServer of this process (the hub's) an EnclaveHTTPServer."""
    HTTPServer.configure(EnclaveHTTPServer)
