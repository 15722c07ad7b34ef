"""The host firewall rules for enclave bridges and external interfaces, against a model of iptables."""

from __future__ import annotations

import subprocess

import pytest

from hub import network


class FakeIptables:
    """Tables of chains of rules, answering the calls hub.network makes (-L, -N, -A, -C, -I)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[tuple[str, ...]]]] = {
            "filter": {"INPUT": [], "FORWARD": []}, "nat": {"PREROUTING": []}}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        table, rest = ("filter", list(args))
        if rest[0] == "-t":
            table, rest = rest[1], rest[2:]
        if rest[:2] == ["-n", "-L"]:
            rest = ["-L", *rest[2:]]
        op, chain, rule = rest[0], rest[1], tuple(rest[2:])
        chains = self.tables[table]
        ok = True
        if op == "-L":
            ok = chain in chains
        elif op == "-N":
            chains[chain] = []
        elif op == "-A":
            chains[chain].append(rule)
        elif op == "-C":
            ok = rule in chains[chain]
        elif op == "-I":
            chains[chain].insert(int(rule[0]) - 1, rule[1:])
        return subprocess.CompletedProcess(args, 0 if ok else 1, "", "")


@pytest.fixture
def iptables(monkeypatch: pytest.MonkeyPatch) -> FakeIptables:
    fake = FakeIptables()
    monkeypatch.setattr(network, "_iptables", fake)
    monkeypatch.setattr(network, "_route_localnet", lambda bridge: None)
    return fake


def test_workspaces_reach_loopback_services_through_their_gateway(iptables: FakeIptables):
    network.ensure_firewall([8081, 8082], "enc0123456789a")
    nat = iptables.tables["nat"]
    assert nat["PREROUTING"] == [("-i", "enc+", "-j", network.NAT_CHAIN)]
    assert {r[r.index("--dport") + 1] for r in nat[network.NAT_CHAIN]} == {"8081", "8082"}
    assert all(r[-2:] == ("--to-destination", "127.0.0.1") and r[4:6] == ("--dst-type", "LOCAL")
               for r in nat[network.NAT_CHAIN])


def test_only_the_public_port_is_left_open_from_outside(iptables: FakeIptables):
    network.ensure_external_firewall([8081, 8082, 9000, 8001])
    assert iptables.tables["filter"]["INPUT"] == [("!", "-i", "lo", "-j", network.EXTERNAL_CHAIN)]
    chain = iptables.tables["filter"][network.EXTERNAL_CHAIN]
    assert chain[0] == ("-i", "enc+", "-j", "RETURN")
    assert sorted(r[3] for r in chain[1:]) == ["8001", "8081", "8082", "9000"]
    assert all(r[-3:] == ("REJECT", "--reject-with", "tcp-reset") for r in chain[1:])


def test_applying_the_rules_again_changes_nothing(iptables: FakeIptables):
    def apply() -> None:
        network.ensure_external_firewall([8081, 8082, 9000, 8001])
        network.ensure_firewall([8081, 8082], "enc0123456789a")
        network.ensure_firewall([8081, 8082], "encba987654321")

    apply()
    first = repr(iptables.tables)
    apply()
    assert repr(iptables.tables) == first


def test_route_localnet_is_only_ever_set_on_an_enclave_bridge():
    for name in ("eth0", "lo", "docker0", "enc../../all", "enc0123456789abc"):
        with pytest.raises(ValueError, match="not an enclave bridge"):
            network._route_localnet(name)


def test_the_jobs_service_package_index_and_code_recorder_are_reached_at_the_gateway_and_refused_from_outside(
        iptables: FakeIptables):
    """The spawner's and the hub's port lists come from settings: the jobs, package index and code recorder ports
    are redirected for workspaces, accepted on enclave bridges and refused on every other interface, like the export
    service's."""
    from enclave.settings import load_settings

    s = load_settings({"ENCLAVE_HOME": "/nonexistent", "ENCLAVE_JOBS_PORT": "18184", "ENCLAVE_EGRESS_PORT": "18182",
                       "ENCLAVE_PACKAGES_PORT": "18185",
                       "ENCLAVE_ACTIVITY_PORT": "18186"})
    network.ensure_firewall(s.gateway_ports, "enc0123456789a")
    network.ensure_external_firewall(s.internal_ports)
    redirected = {r[r.index("--dport") + 1] for r in iptables.tables["nat"][network.NAT_CHAIN]}
    accepted = {r[r.index("--dport") + 1] for r in iptables.tables["filter"][network.CHAIN] if "--dport" in r}
    refused = {r[3] for r in iptables.tables["filter"][network.EXTERNAL_CHAIN][1:]}
    assert redirected == accepted == {str(s.hub_api_port), "18182", "18184", "18185", "18186"}
    internal = {str(s.governance_port), str(s.idp_port), str(s.proxy_api_port)}
    assert {"18182", "18184", "18185", "18186"} | internal <= refused
    assert str(s.public_port) not in refused | redirected
