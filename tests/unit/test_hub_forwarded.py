"""The hub records the address that connected; forwarded headers count only from configured proxies, and
X-Real-Ip / X-Scheme (which tornado would believe from anyone) never."""

from __future__ import annotations

import asyncio

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornado.testing import bind_unused_port

from hub.forwarded import EnclaveHTTPServer, TrustedProxies


class Echo(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish({"ip": self.request.remote_ip, "proto": self.request.protocol})


def _seen(trusted: list[str], headers: dict[str, str]) -> dict[str, str]:
    """What a hub behind our server sees for one request from 127.0.0.1 with these headers."""

    async def run() -> dict[str, str]:
        sock, port = bind_unused_port()
        server = EnclaveHTTPServer(tornado.web.Application([(r"/", Echo)]), xheaders=True,
                                   trusted_downstream=trusted)
        server.add_sockets([sock])
        client = AsyncHTTPClient(force_instance=True)
        try:
            r = await client.fetch(f"http://127.0.0.1:{port}/", headers=headers)
            return tornado.escape.json_decode(r.body)
        finally:
            client.close()
            server.stop()

    return asyncio.run(run())


def test_a_client_cannot_name_its_address_with_x_real_ip_or_its_scheme_with_x_scheme():
    assert _seen([], {"X-Real-Ip": "203.0.113.9", "X-Scheme": "https"}) == {"ip": "127.0.0.1", "proto": "http"}


def test_forwarded_for_counts_past_a_trusted_proxy_only():
    # our proxy appends the address it saw: here 10.0.0.5, a reverse proxy in front, which saw 203.0.113.9
    chain = {"X-Forwarded-For": "203.0.113.9, 10.0.0.5"}
    assert _seen([], chain)["ip"] == "10.0.0.5"
    assert _seen(["10.0.0.5"], chain)["ip"] == "203.0.113.9"
    assert _seen(["10.0.0.0/24"], chain)["ip"] == "203.0.113.9"  # networks work, not only exact strings
    assert _seen(["10.0.1.0/24"], chain)["ip"] == "10.0.0.5"


@pytest.mark.parametrize(("candidate", "inside"), [("10.0.0.7", True), ("10.0.1.7", False), ("::1", False),
                                                   ("not-an-ip", False), ("fd00::1", True)])
def test_trusted_proxies_match_addresses_and_networks(candidate: str, inside: bool):
    assert (candidate in TrustedProxies(["10.0.0.0/24", "fd00::/8"])) is inside
