"""Per-project internal Docker networks, and the host firewall that keeps them from reaching the host.

An internal network has no route out, and Docker drops traffic between bridges. What is left is the
host itself: a container can reach any host service through its network's gateway address, so the
INPUT chain lets traffic from enclave bridges reach the hub API, export and jobs service ports
(`Settings.gateway_ports`), nothing else.

The hub API and the export and jobs services listen on 127.0.0.1 only (plain HTTP must never be reachable from
outside, where only the proxy's public port is). Workspaces still reach them at their gateway address:
a nat PREROUTING rule rewrites connections entering on an enclave bridge for a host address on those
ports to 127.0.0.1, with `route_localnet` enabled on the enclave bridges only (a listener per
gateway would need adding and removing as project networks come and go, in two processes). The source
address is kept, so the export and jobs services still check that a call comes from the caller's container.
From every other interface but loopback, the enclave's own ports (`Settings.internal_ports`: hub API,
export, governance and jobs services, IdP, proxy API) are refused, so from outside only the public proxy port answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass

import docker
from docker.errors import NotFound

from enclave.settings import INSTANCE_LABEL, INTERNAL_ADDRESS, PROJECT_LABEL

BRIDGE_PREFIX = "enc"
CHAIN = "ENCLAVE-INPUT"
FORWARD_CHAIN = "ENCLAVE-FORWARD"
NAT_CHAIN = "ENCLAVE-PREROUTING"
EXTERNAL_CHAIN = "ENCLAVE-EXTERNAL"
_BRIDGE = re.compile(rf"{BRIDGE_PREFIX}[0-9a-f]{{11}}")
LABEL = PROJECT_LABEL  # the networks carry the same label as the workspaces


@dataclass(frozen=True)
class ProjectNetwork:
    name: str
    bridge: str
    gateway: str
    subnet: str


def network_name(instance: str, slug: str) -> str:
    return f"{instance}-project-{slug}"


def bridge_name(instance: str, slug: str) -> str:
    # Linux interface names are at most 15 characters; the prefix is what the firewall matches.
    return BRIDGE_PREFIX + hashlib.sha256(f"{instance}/{slug}".encode()).hexdigest()[:11]


def _describe(net: docker.models.networks.Network) -> ProjectNetwork:
    cfg = net.attrs["IPAM"]["Config"][0]
    gateway = cfg.get("Gateway") or str(next(ipaddress.ip_network(cfg["Subnet"]).hosts()))
    return ProjectNetwork(net.name, net.attrs["Options"]["com.docker.network.bridge.name"], gateway,
                          cfg["Subnet"])


def ensure_project_network(client: docker.DockerClient, instance: str, slug: str) -> ProjectNetwork:
    name = network_name(instance, slug)
    try:
        net = client.networks.get(name)
    except NotFound:
        net = client.networks.create(
            name, driver="bridge", internal=True, enable_ipv6=False, check_duplicate=True,
            options={"com.docker.network.bridge.name": bridge_name(instance, slug),
                     "com.docker.network.bridge.enable_ip_masquerade": "false",
                     "com.docker.network.bridge.enable_icc": "true"},
            labels={LABEL: slug, INSTANCE_LABEL: instance},
        )
        net.reload()
    if not net.attrs.get("Internal"):
        raise RuntimeError(f"Docker network {name} exists but is not internal; refusing to use it")
    return _describe(net)


def remove_project_network(client: docker.DockerClient, instance: str, slug: str) -> None:
    with contextlib.suppress(NotFound):
        client.networks.get(network_name(instance, slug)).remove()


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("iptables") or "/usr/sbin/iptables"
    return subprocess.run([exe, "-w", *args], capture_output=True, text=True, check=check)


def _ensure_chain(chain: str, final_rules: list[list[str]], table: str = "filter") -> None:
    if _iptables("-t", table, "-n", "-L", chain, check=False).returncode != 0:
        _iptables("-t", table, "-N", chain)
        for rule in final_rules:
            _iptables("-t", table, "-A", chain, *rule)


def _ensure_rule(chain: str, rule: list[str], position: int, table: str = "filter") -> None:
    if _iptables("-t", table, "-C", chain, *rule, check=False).returncode != 0:
        _iptables("-t", table, "-I", chain, str(position), *rule)


def _route_localnet(bridge: str) -> None:
    """Let this enclave bridge (and no other interface) carry connections rewritten to 127.0.0.1."""
    if not _BRIDGE.fullmatch(bridge):
        raise ValueError(f"{bridge!r} is not an enclave bridge name")
    with open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "w") as fh:
        fh.write("1\n")


def ensure_gateway_redirect(host_ports: list[int], bridge: str) -> None:
    """Connections from enclave bridges to a host address on `host_ports` go to 127.0.0.1, where the
    hub API and the export service listen; the source address is kept."""
    _ensure_chain(NAT_CHAIN, [], table="nat")
    for port in host_ports:
        _ensure_rule(NAT_CHAIN, ["-p", "tcp", "-m", "addrtype", "--dst-type", "LOCAL", "--dport", str(port),
                                 "-j", "DNAT", "--to-destination", INTERNAL_ADDRESS], 1, table="nat")
    _ensure_rule("PREROUTING", ["-i", f"{BRIDGE_PREFIX}+", "-j", NAT_CHAIN], 1, table="nat")
    _route_localnet(bridge)


def ensure_external_firewall(closed_ports: list[int]) -> None:
    """From any interface but loopback and the enclave bridges, the enclave's internal ports are refused.

    Called when the hub starts (before any workspace), so a host without project networks is covered too.
    The public proxy port is never in `closed_ports`; everything else on the host is left to the site.
    """
    _ensure_chain(EXTERNAL_CHAIN, [["-i", f"{BRIDGE_PREFIX}+", "-j", "RETURN"]])
    for port in closed_ports:
        _ensure_rule(EXTERNAL_CHAIN, ["-p", "tcp", "--dport", str(port), "-j", "REJECT",
                                      "--reject-with", "tcp-reset"], 2)
    _ensure_rule("INPUT", ["!", "-i", "lo", "-j", EXTERNAL_CHAIN], 1)


def ensure_firewall(host_ports: list[int], bridge: str) -> None:
    """Host rules for enclave bridges, refusing (not silently dropping) what is not allowed.

    INPUT (to the host itself): replies, the hub API and the export-request service only (reached at the
    gateway address and redirected to 127.0.0.1, see `ensure_gateway_redirect`).
    FORWARD (through the host): traffic inside the same project bridge only; anything bound for another
    bridge or for the outside is refused at once, so egress attempts fail fast and provably.
    """
    ensure_gateway_redirect(host_ports, bridge)
    reject = [["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
              ["-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]]
    _ensure_chain(CHAIN, [["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"], *reject])
    for port in host_ports:
        _ensure_rule(CHAIN, ["-p", "tcp", "--dport", str(port), "-m", "conntrack", "--ctstate", "NEW",
                             "-j", "ACCEPT"], 2)
    _ensure_rule("INPUT", ["-i", f"{BRIDGE_PREFIX}+", "-j", CHAIN], 1)

    _ensure_chain(FORWARD_CHAIN, [["-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]])
    _ensure_rule(FORWARD_CHAIN, ["-i", bridge, "-o", bridge, "-j", "RETURN"], 1)
    if _iptables("-n", "-L", "DOCKER-USER", check=False).returncode != 0:
        _iptables("-N", "DOCKER-USER")
        _ensure_rule("FORWARD", ["-j", "DOCKER-USER"], 1)
    _ensure_rule("DOCKER-USER", ["-i", f"{BRIDGE_PREFIX}+", "-j", FORWARD_CHAIN], 1)
