"""A hostile researcher inside a real workspace: process bombs, privilege tricks, other people's servers,
and the workspace token against the review and admin paths."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import requests

from enclave.db import session_scope
from enclave.models import ExportRequest
from enclave_demo.data import DEMO_PROJECT
from enclave_demo.harness import run_in
from policies import load_policies
from policies.schema import size_to_bytes
from tests.conftest import FLIP_SCRIPT
from tests.integration.conftest import OTHER_PROJECT, Enclave, HubSession, running_workspaces
from tests.integration.probes import FORK_BOMB, MEMORY_BOMB, PRIVILEGE


@pytest.fixture(scope="module")
def running(enclave: Enclave) -> Iterator[dict[str, HubSession]]:
    with running_workspaces(enclave, {"alice": DEMO_PROJECT, "frank": DEMO_PROJECT, "dave": OTHER_PROJECT}) as s:
        yield s


def hub_ok(enclave: Enclave) -> bool:
    with urllib.request.urlopen(f"{enclave.url}/hub/health", timeout=10) as r:
        return r.status == 200


def test_fork_bomb_stays_inside_the_pid_limit(enclave: Enclave, running):
    r = run_in(enclave.container("alice"), FORK_BOMB)
    assert r["stopped_by"] == "EAGAIN" and r["forked"] < 512, r
    assert hub_ok(enclave)
    assert enclave.container("dave").exec_run(["echo", "alive"]).output.strip() == b"alive"
    assert running["frank"].server().get("ready")


def test_memory_bomb_is_killed_inside_its_own_workspace(enclave: Enclave, running):
    r = run_in(enclave.container("alice"), MEMORY_BOMB)
    assert r["out"] != "survived" and r["rc"] != 0, r  # OOM-killed (-9) or MemoryError, never 3 GiB
    assert hub_ok(enclave) and running["alice"].server().get("ready")
    assert enclave.container("frank").exec_run(["echo", "alive"]).output.strip() == b"alive"


def test_privilege_tricks_fail(enclave: Enclave, running):
    r = run_in(enclave.container("alice"), PRIVILEGE)
    for key in ("setuid0", "userns", "mountns", "mount", "raw_socket", "chown_root"):
        assert r[key] in ("EPERM", "EACCES", "EINVAL"), (key, r[key])
    assert r["no_new_privs"] == ["1"], r
    assert r["setid_programs"] == [], r
    assert r["uid"] != 0 and r["own_suid_file_owner"] == r["uid"], r


def test_another_users_server_in_the_same_project_needs_their_token(enclave: Enclave, running):
    frank = enclave.container("frank")
    frank.reload()
    ip = next(iter(frank.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    code = f"""
import json, os, urllib.request, urllib.error
out = {{}}
own = {{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}}
for name, headers in (("none", {{}}), ("own_token", own)):
    req = urllib.request.Request("http://{ip}:8888/user/frank/api/contents/workspace", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            out[name] = r.status
    except urllib.error.HTTPError as e:
        out[name] = e.code
print(json.dumps(out))
"""
    r = run_in(enclave.container("alice"), code)
    # /api/contents is a Jupyter Server API handler: without a user it answers 403 instead of redirecting to
    # the login (APIHandler.get_login_url), and a token without access:servers!server=frank/ is "not allowed"
    # (403, JupyterHubIdentityProvider.get_user)
    assert r == {"none": 403, "own_token": 403}, r


def test_another_users_server_through_the_proxy_needs_their_login(enclave: Enclave, running):
    """Alice, logged in or with her workspace token, cannot use Frank's server in the same project."""
    env = enclave.container("alice").attrs["Config"]["Env"]
    token = next(v.split("=", 1)[1] for v in env if v.startswith("JUPYTERHUB_API_TOKEN="))
    franks = f"{enclave.url}/user/frank/api/contents/workspace"
    # the control: Frank, after his server's OAuth, reads the path
    assert running["frank"].open_lab().status_code == 200
    assert running["frank"].http.get(franks, timeout=60).status_code == 200
    # Alice's browser session asks for Frank's JupyterLab: the hub refuses her the OAuth grant for it
    lab = running["alice"].http.get(f"{enclave.url}/user/frank/lab", timeout=60)
    assert lab.status_code == 403 and "/hub/api/oauth2/authorize" in lab.url, (lab.status_code, lab.url)
    assert running["alice"].http.get(franks, timeout=60).status_code == 403
    assert requests.get(franks, headers={"Authorization": f"token {token}"}, timeout=60).status_code == 403
    assert running["alice"].open_lab().status_code == 200  # her own server is fine


def test_workspace_token_cannot_review_or_administer(enclave: Enclave, running):
    env = enclave.container("alice").attrs["Config"]["Env"]
    token = next(v.split("=", 1)[1] for v in env if v.startswith("JUPYTERHUB_API_TOKEN="))
    h = {"Authorization": f"token {token}"}
    svc = f"{enclave.url}/services/egress-review/"
    assert requests.post(svc + "requests/1/review", headers=h, data={"decision": "approve"},
                         timeout=30).status_code == 403
    assert requests.get(svc, headers=h, timeout=30).status_code == 403  # no reviewer UI either
    for method, path in (("GET", "/users"), ("POST", "/users/alice/tokens"), ("DELETE", "/users/frank/server"),
                         ("GET", "/services")):
        assert requests.request(method, f"{enclave.url}/hub/api{path}", headers=h, timeout=30).status_code == 403
    assert json.loads(requests.get(f"{enclave.url}/hub/api/user", headers=h, timeout=30).text)["name"] == "alice"


OUTSIDE_NS, HOST_IF, OUTSIDE_IF = "enclave-it-outside", "itout-host", "itout-ns"
HOST_ADDR, OUTSIDE_ADDR = "10.203.77.1", "10.203.77.2"  # a /30 this test creates and removes

CONNECT = r"""
import json, socket, sys, urllib.request
host, ports, public = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
out = {}
for port in ports:
    try:
        socket.create_connection((host, port), timeout=5).close()
        out[port] = "open"
    except OSError as e:
        out[port] = type(e).__name__
with urllib.request.urlopen(f"http://{host}:{public}/hub/health", timeout=15) as r:
    out["public"] = r.status
print(json.dumps(out))
"""


@contextmanager
def outside_machine() -> Iterator[None]:
    """A network namespace wired to the host by a veth pair: a machine on the host's external network."""
    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    try:
        ip("netns", "add", OUTSIDE_NS)
        ip("link", "add", HOST_IF, "type", "veth", "peer", "name", OUTSIDE_IF, "netns", OUTSIDE_NS)
        ip("addr", "add", f"{HOST_ADDR}/30", "dev", HOST_IF)
        ip("link", "set", HOST_IF, "up")
        ip("-n", OUTSIDE_NS, "addr", "add", f"{OUTSIDE_ADDR}/30", "dev", OUTSIDE_IF)
        ip("-n", OUTSIDE_NS, "link", "set", OUTSIDE_IF, "up")
        ip("-n", OUTSIDE_NS, "link", "set", "lo", "up")
        yield
    finally:
        subprocess.run(["ip", "netns", "del", OUTSIDE_NS], capture_output=True)
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)


def test_from_outside_only_the_public_port_answers(enclave: Enclave):
    """The hub API, the export, governance and jobs services, IdP and proxy API speak plain HTTP: bound to
    loopback, and refused from any other interface even if something listened there; the public proxy port
    answers."""
    st = enclave.settings
    if st.tls_cert:
        pytest.skip("the probe speaks plain HTTP to the public port")
    internal = st.internal_ports
    with outside_machine(), ExitStack() as listeners:
        for port in internal:
            # Binding the host's external address works only because the services listen on 127.0.0.1 alone
            # (a wildcard listener would hold the port); it stands for anything that might listen there.
            sock = listeners.enter_context(socket.socket())
            sock.bind((HOST_ADDR, port))
            sock.listen()
        probe = subprocess.run(["ip", "netns", "exec", OUTSIDE_NS, sys.executable, "-c", CONNECT, HOST_ADDR,
                                json.dumps(internal), str(st.public_port)],
                               capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    got = json.loads(probe.stdout)
    assert got.pop("public") == 200
    assert got == {str(p): "ConnectionRefusedError" for p in internal}, got


RACE = r"""
import json, os, subprocess, sys, time
inside, target, flip_script, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
os.makedirs("/workspace/race/flip", exist_ok=True)
open("/workspace/race/flip/race-data.csv", "w").write(inside)
if not os.path.lexists("/workspace/race/flipl"):
    os.symlink(target, "/workspace/race/flipl")
flipper = subprocess.Popen([sys.executable, "-c", flip_script, "/workspace/race/flip", "/workspace/race/flipl",
                            str(seconds)], stdout=subprocess.PIPE, text=True)
accepted, refused, end = [], {}, time.monotonic() + seconds - 2
while time.monotonic() < end and len(accepted) < 12:
    r = subprocess.run(["enclave-export", "--json", "request", "race/flip/race-data.csv", "-j", "race"],
                       capture_output=True, text=True, cwd="/workspace")
    if r.returncode == 0:
        accepted.append(json.loads(r.stdout)["id"])
    else:
        why = r.stderr.strip()[-160:]
        refused[why] = refused.get(why, 0) + 1
swaps = int(flipper.communicate()[0].split()[-1])
print(json.dumps({"accepted": accepted, "refused": refused, "swaps": swaps}))
"""


def test_a_folder_swapped_for_a_link_while_exporting_never_exports_another_projects_file(enclave: Enclave,
                                                                                       running):
    """dave's workspace swaps a folder and a link to alice's project workspace (readable by the same uid, so
    only the lookup protects it) thousands of times while requesting the folder's file again and again."""
    other = run_in(enclave.container("alice"), r"""
import json
open("/workspace/race-data.csv", "w").write("OTHER PROJECT'S DATA\n")
print(json.dumps("ok"))
""")
    assert other == "ok"
    target = str(enclave.settings.workspace_dir(DEMO_PROJECT))
    res = enclave.container("dave").exec_run(["python", "-c", RACE, "inside,1\n", target, FLIP_SCRIPT, "20"],
                                             demux=True)
    out, err = res.output
    assert res.exit_code == 0, (err or b"").decode()
    got = json.loads(out)
    print(f"race: {got['swaps']} swaps, {len(got['accepted'])} accepted, {sum(got['refused'].values())} refused")
    assert got["swaps"] > 1000 and got["accepted"], got
    inside = hashlib.sha256(b"inside,1\n").hexdigest()
    with session_scope() as s:
        for rid in got["accepted"]:
            for f in s.get(ExportRequest, rid).files:
                assert f.scan.get("original_sha256", f.sha256) == inside, (rid, f.name)
    assert all("symbolic link" in why or "24 hours" in why for why in got["refused"]), got["refused"]


def test_the_workspace_is_its_own_filesystem_of_the_policy_size(enclave: Enclave, running):
    """/workspace is the project's own filesystem: filling it cannot fill the host's disk."""
    got = run_in(enclave.container("alice"), r"""
import json, os
ws, root = os.statvfs("/workspace"), os.stat("/")
print(json.dumps({"bytes": ws.f_blocks * ws.f_frsize, "own_device": os.stat("/workspace").st_dev != root.st_dev}))
""")
    size = size_to_bytes(load_policies(enclave.settings.policy_dir).workspace.workspace_size)
    assert got["own_device"] and 0.9 * size <= got["bytes"] <= size, got
    assert os.path.ismount(enclave.settings.workspace_dir(DEMO_PROJECT))
