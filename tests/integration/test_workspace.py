"""Every isolation point of a workspace, proven from inside a real running container."""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest

from enclave import audit
from enclave.db import session_scope
from enclave_demo.data import DEMO_PROJECT
from hub.network import network_name
from tests.integration.conftest import OTHER_PROJECT, Enclave, HubSession, run_in, running_workspaces


@pytest.fixture(scope="module")
def running(enclave: Enclave) -> Iterator[dict[str, HubSession]]:
    with running_workspaces(enclave, {"alice": DEMO_PROJECT, "dave": OTHER_PROJECT}) as sessions:
        yield sessions


def gateway(enclave: Enclave, project: str) -> str:
    net = docker.from_env().networks.get(network_name(enclave.settings.instance, project))
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def ip_of(container) -> str:
    container.reload()
    return next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]


PROBE = r"""
import errno, json, os, socket
out = {}
def tcp(host, port):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect((host, port)); return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
    finally:
        s.close()
def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    try:
        s.connect((host, port)); s.send(b"probe"); s.recv(16); return "answered"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
for name in ("example.com", "pypi.org", "deb.debian.org", "metadata.google.internal"):
    try:
        socket.getaddrinfo(name, 443); out["dns:" + name] = "resolved"
    except socket.gaierror as e:
        out["dns:" + name] = "failed"
out["tcp:outside"] = tcp("192.0.2.10", 443)
out["tcp:public-dns"] = tcp("198.51.100.53", 53)  # TEST-NET-2: reserved, never routed
out["udp:outside"] = udp("192.0.2.10", 53)
out["tcp:metadata"] = tcp("169.254.169.254", 80)
gw = GATEWAY
for port in (HUB_API_PORT, EGRESS_PORT, PUBLIC_PORT, IDP_PORT, PROXY_API_PORT, 22, 5432, 2375):
    out["gw:%d" % port] = tcp(gw, port)
try:
    socket.socket(socket.AF_INET6).connect(("2001:db8::1", 80)); out["ipv6"] = "connected"
except OSError as e:
    out["ipv6"] = errno.errorcode.get(e.errno, str(e))
for target in TARGETS:
    out["peer:" + target] = tcp(target, 8888)
out["docker_sock"] = any(os.path.exists(p) for p in ("/var/run/docker.sock", "/run/docker.sock"))
out["uid"] = os.getuid()
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
out["cap_eff"] = status["CapEff"].strip(); out["cap_bnd"] = status["CapBnd"].strip()
out["no_new_privs"] = status["NoNewPrivs"].strip()
out["data"] = sorted(os.listdir("/data"))
def can_write(path):
    try:
        with open(path, "w") as f: f.write("x")
        os.remove(path); return True
    except OSError:
        return False
out["write_dataset"] = can_write("/data/" + out["data"][0] + "/new.csv") if out["data"] else None
out["write_root"] = can_write("/etc/evil")
out["write_usr"] = can_write("/opt/venv/evil.py")
out["write_workspace"] = can_write("/workspace/ok.txt")
out["write_tmp"] = can_write("/tmp/ok.txt")
def read(p):
    try: return open(p).read().strip()
    except OSError: return None
out["pids_max"] = read("/sys/fs/cgroup/pids/pids.max") or read("/sys/fs/cgroup/pids.max")
out["mem_max"] = read("/sys/fs/cgroup/memory/memory.limit_in_bytes") or read("/sys/fs/cgroup/memory.max")
out["cpu_quota"] = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or read("/sys/fs/cgroup/cpu.max")
import subprocess
out["setuid_files"] = subprocess.run(["find", "/", "-xdev", "-perm", "-4000", "-type", "f"],
                                     capture_output=True, text=True).stdout.split()
print(json.dumps(out))
"""


def probe(enclave: Enclave, user: str, project: str, targets: list[str]) -> dict:
    s = enclave.settings
    code = (PROBE.replace("GATEWAY", repr(gateway(enclave, project)))
            .replace("HUB_API_PORT", str(s.hub_api_port)).replace("EGRESS_PORT", str(s.egress_port))
            .replace("PROXY_API_PORT", str(s.proxy_api_port)).replace("PUBLIC_PORT", str(s.public_port))
            .replace("IDP_PORT", str(s.idp_port)).replace("TARGETS", json.dumps(targets)))
    return run_in(enclave.container(user), code)


def test_isolation_from_inside_the_workspace(enclave: Enclave, running):
    alice_c, dave_c = enclave.container("alice"), enclave.container("dave")
    r = probe(enclave, "alice", DEMO_PROJECT, [ip_of(dave_c)])
    # no DNS for outside names
    assert {k: v for k, v in r.items() if k.startswith("dns:")} == {
        "dns:example.com": "failed", "dns:pypi.org": "failed", "dns:deb.debian.org": "failed",
        "dns:metadata.google.internal": "failed"}
    # no TCP/UDP out, no metadata service: refused by policy at the host at once, nothing leaves
    for key in ("tcp:outside", "tcp:public-dns", "udp:outside", "tcp:metadata"):
        assert r[key] in ("EHOSTUNREACH", "ENETUNREACH", "ECONNREFUSED"), (key, r[key])
    assert r["ipv6"] in ("EADDRNOTAVAIL", "ENETUNREACH", "EAFNOSUPPORT")
    # of the host, only the hub API and the export-request service answer
    s = enclave.settings
    assert r[f"gw:{s.hub_api_port}"] == "connected" and r[f"gw:{s.egress_port}"] == "connected"
    for port in (s.public_port, s.idp_port, s.proxy_api_port, 22, 5432, 2375):
        assert r[f"gw:{port}"] in ("ECONNREFUSED", "EHOSTUNREACH"), (port, r[f"gw:{port}"])
    # another project's workspace is unreachable
    assert r[f"peer:{ip_of(dave_c)}"] in ("EHOSTUNREACH", "ECONNREFUSED", "ETIMEDOUT", "timeout")
    # no Docker socket, not root, no capabilities, no-new-privileges, no setuid binaries
    assert r["docker_sock"] is False and r["uid"] == 1000
    assert r["cap_eff"] == "0000000000000000" and r["cap_bnd"] == "0000000000000000"
    assert r["no_new_privs"] == "1" and r["setuid_files"] == []
    # only approved datasets, read-only; read-only root; writable project workspace and scratch
    assert r["data"] == ["cohort"]
    assert r["write_dataset"] is False and r["write_root"] is False and r["write_usr"] is False
    assert r["write_workspace"] is True and r["write_tmp"] is True
    # limits from policy (workspace.yaml defaults: 1 CPU, 2G, 512 processes)
    assert r["pids_max"] == "512"
    assert r["mem_max"] == str(2 * 1024**3)
    assert r["cpu_quota"] in ("100000", "100000 100000")
    del alice_c


def test_the_other_project_is_unreachable_the_other_way_too(enclave: Enclave, running):
    r = probe(enclave, "dave", OTHER_PROJECT, [ip_of(enclave.container("alice"))])
    assert r["data"] == ["registry"]
    peer = next(v for k, v in r.items() if k.startswith("peer:"))
    assert peer in ("EHOSTUNREACH", "ECONNREFUSED")


def test_container_configuration(enclave: Enclave, running):
    c = enclave.container("alice")
    hc = c.attrs["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and hc["ReadonlyRootfs"] is True and hc["Privileged"] is False
    assert "no-new-privileges:true" in hc["SecurityOpt"]
    assert not any("docker.sock" in b for b in hc["Binds"])
    binds = {b.split(":")[1]: b.split(":")[2] for b in hc["Binds"]}
    assert binds["/data/cohort"] == "ro" and binds["/workspace"] == "rw" and binds["/etc/resolv.conf"] == "ro"
    net = docker.from_env().networks.get(network_name(enclave.settings.instance, DEMO_PROJECT))
    assert net.attrs["Internal"] is True


def test_hub_reaches_the_workspace_through_the_proxy(enclave: Enclave, running):
    alice = running["alice"]
    lab = alice.http.get(f"{enclave.url}/user/alice/lab", timeout=30)  # the server's own OAuth handshake
    assert lab.status_code == 200 and "/user/alice/lab" in lab.url
    r = alice.http.get(f"{enclave.url}/user/alice/api/status", timeout=30,
                       headers={"X-XSRFToken": alice.http.cookies.get("_xsrf", path="/user/alice/") or ""})
    assert r.status_code == 200, r.text
    assert "connections" in r.json()


def test_download_paths_are_closed_server_side(enclave: Enclave, running):
    alice = running["alice"]
    c = enclave.container("alice")
    run_in(c, "open('/workspace/result.txt','w').write('42'); print('{}')")
    run_in(c, "import json; json.dump({'cells':[],'metadata':{},'nbformat':4,'nbformat_minor':5},"
              "open('/workspace/n.ipynb','w')); print('{}')")
    base = f"{enclave.url}/user/alice"
    for path in ("/files/workspace/result.txt", "/files/workspace/result.txt?download=1",
                 "/nbconvert/html/workspace/n.ipynb?download=true", "/nbconvert/script/workspace/n.ipynb",
                 "/view/workspace/result.txt"):
        r = alice.http.get(base + path, timeout=30)
        assert r.status_code == 403, (path, r.status_code)
    # The contents API still returns file contents to the page; docs/security.md says so. Opening the lab first
    # signs alice in to her server (the OAuth step a browser takes), so this test does not rely on an earlier one.
    assert alice.http.get(base + "/lab", timeout=30).status_code == 200
    r = alice.http.get(base + "/api/contents/workspace/result.txt?content=1", timeout=30)
    assert r.status_code == 200


def test_lab_download_plugins_are_locked(enclave: Enclave, running):
    r = running["alice"].http.get(f"{enclave.url}/user/alice/lab", timeout=30)
    assert r.status_code == 200
    assert "@jupyterlab/docmanager-extension:download" in r.text
    assert "@jupyterlab/filebrowser-extension:download" in r.text


def test_spawn_is_audited_with_mounts_and_limits(enclave: Enclave, running):
    with session_scope() as s:
        starts = audit.query(s, user="alice", action="workspace.start")
        logins = audit.query(s, user="alice", action="login")
    assert logins and logins[-1]["details"]["roles"] == ["researcher"]
    d = starts[-1]["details"]
    assert starts[-1]["project"] == DEMO_PROJECT
    assert d["datasets"] == ["cohort@v1"]
    assert {m["container"] for m in d["mounts"]} >= {"/data/cohort", "/workspace"}
    assert d["limits"] == {"cpu_limit": 1.0, "mem_limit": "2G", "pids_limit": 512}


def test_non_member_cannot_start_through_the_api(enclave: Enclave):
    eve = enclave.login("eve")
    r = eve.start(DEMO_PROJECT, wait=False)
    # the spawner's start() refuses with 403 and check_can_start's reason (the same path as the request below)
    assert r.status_code == 403, r.text
    assert "cannot start a workspace: you are not a member of project 'demo-diabetes'" in r.text, r.text
    assert not eve.server().get("ready")
    r = eve.start(None, wait=False)
    assert r.status_code == 403 and "cannot start a workspace" in r.text
    with session_scope() as s:
        denied = audit.query(s, user="eve", action="workspace.denied")
    assert denied and "not a member" in denied[0]["details"]["reason"]


def test_non_member_is_told_why_in_the_ui(enclave: Enclave):
    eve = enclave.login("eve")
    page = eve.http.get(f"{enclave.url}/hub/spawn", timeout=30)
    assert "no active approved project" in page.text
    r = eve.http.post(f"{enclave.url}/hub/spawn", data={"project": DEMO_PROJECT, "_xsrf": eve.xsrf}, timeout=60)
    assert "not a member of project" in r.content.decode()
    zh = enclave.login("eve", lang="zh-CN").http.get(f"{enclave.url}/hub/spawn", timeout=30).content.decode()
    assert "选择项目" in zh and "退出登录" in zh


def test_unknown_spawn_options_are_refused(enclave: Enclave):
    eve = enclave.login("eve")
    r = eve.api("POST", "/users/eve/server", json={"project": DEMO_PROJECT, "image": "ubuntu:latest"})
    assert r.status_code == 400 and "unknown option(s) image" in r.text
    r = eve.api("POST", "/users/eve/server", json={"project": "../etc"})
    assert r.status_code == 400 and "is not a project name" in r.text


def test_pkce_is_required_by_the_identity_provider(enclave: Enclave):
    import requests

    idp = enclave.settings.idp_url
    r = requests.get(f"{idp}/authorize", params={
        "response_type": "code", "client_id": "enclave-hub", "scope": "openid",
        "redirect_uri": f"{enclave.url}/hub/oauth_callback", "state": "x"}, timeout=10)
    assert r.status_code == 400 and "PKCE" in r.text
