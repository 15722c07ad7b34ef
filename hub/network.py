"""Per-project internal Docker networks, and the host firewall that keeps them from reaching the host.

An internal network has no route out, and Docker drops traffic between bridges. What is left is the
host itself: a container can reach any host service through its network's gateway address, so the
INPUT chain lets traffic from enclave bridges reach the hub API and export service ports, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass

import docker
from docker.errors import NotFound

BRIDGE_PREFIX = "enc"
CHAIN = "ENCLAVE-INPUT"
FORWARD_CHAIN = "ENCLAVE-FORWARD"
LABEL = "org.enclave.project"


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
            labels={LABEL: slug, "org.enclave.instance": instance},
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


def _ensure_chain(chain: str, final_rules: list[list[str]]) -> None:
    if _iptables("-n", "-L", chain, check=False).returncode != 0:
        _iptables("-N", chain)
        for rule in final_rules:
            _iptables("-A", chain, *rule)


def _ensure_rule(chain: str, rule: list[str], position: int) -> None:
    if _iptables("-C", chain, *rule, check=False).returncode != 0:
        _iptables("-I", chain, str(position), *rule)


def ensure_firewall(host_ports: list[int], bridge: str) -> None:
    """Host rules for enclave bridges, refusing (not silently dropping) what is not allowed.

    INPUT (to the host itself): replies, the hub API and the export-request service only.
    FORWARD (through the host): traffic inside the same project bridge only; anything bound for another
    bridge or for the outside is refused at once, so egress attempts fail fast and provably.
    """
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
