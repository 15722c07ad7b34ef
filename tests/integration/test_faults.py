"""Faults: the hub restarts under running workspaces; the egress-review service dies mid-scan and between
reviews; the export store fills up. Each time nothing is lost or half-done, and work resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from enclave.db import session_scope
from enclave.models import ExportRequest, Release
from enclave_demo import runner
from enclave_demo.data import DEMO_PROJECT
from tests.integration.conftest import Enclave, HubSession

EXPORT = r"""
import json, subprocess, sys
r = subprocess.run(["enclave-export", "--json", "request", *sys.argv[1:], "-j", "fault test"],
                   capture_output=True, text=True, cwd="/workspace")
print(json.dumps({"rc": r.returncode, "out": json.loads(r.stdout) if r.stdout.strip() else None,
                  "err": r.stderr.strip()}))
"""


@pytest.fixture(scope="module")
def alice(enclave: Enclave) -> Iterator[HubSession]:
    s = enclave.login("alice")
    r = s.start(DEMO_PROJECT)
    assert r.status_code in (201, 202), r.text
    yield s
    s.stop()


def export(enclave: Enclave, *paths: str) -> dict:
    res = enclave.container("alice").exec_run(["python", "-c", EXPORT, *paths], demux=True)
    return json.loads(res.output[0].decode())


def write(enclave: Enclave, path: str, code: str) -> None:
    res = enclave.container("alice").exec_run(["python", "-c", code])
    assert res.exit_code == 0, res.output.decode()


def requests_state() -> list[tuple[int, str, int]]:
    with session_scope() as s:
        return [(r.id, r.state.value, len(r.files)) for r in s.query(ExportRequest).order_by(ExportRequest.id)]


def _held_connections(enclave: Enclave, username: str) -> str:
    """The export service's established connections from this workspace container (peer = its address)."""
    ws = enclave.container(username)
    ws.reload()
    address = next(iter(ws.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    port = enclave.settings.egress_port
    return subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} and dst {address} )"],
                          capture_output=True, text=True, check=False).stdout.strip()


def _freeze_the_service_mid_call(enclave: Enclave, username: str, client: threading.Thread) -> bool:
    """Stop (SIGSTOP) the export service while it holds the workspace's call, and tell whether it had not
    answered yet. A fixed sleep is not enough: the scan is fast, and the client thread's liveness lags the
    service's answer by a `docker exec`. Frozen, the service cannot write; if after two seconds the workspace's
    connection is still established, no answer was sent (the one-shot client closes as soon as it reads one)."""
    pid = live_pid(enclave, "egress-review")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and client.is_alive():
        if _held_connections(enclave, username):
            os.kill(pid, signal.SIGSTOP)
            time.sleep(2)
            if _held_connections(enclave, username):
                return True
            os.kill(pid, signal.SIGCONT)  # it answered first: this attempt proves nothing
            return False
        time.sleep(0.01)
    raise AssertionError("the workspace's export call never reached the service")


def live_pid(enclave: Enclave, name: str) -> int:
    """The pid of the enclave process that is running now, by its pid file: the suite's earlier tests may have
    restarted it from elsewhere, so the Popen this process once started need not be the one serving."""
    pid = runner.running_pid(enclave.settings, name)
    assert pid, f"{name} is not running"
    return pid


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie serves nothing
    except FileNotFoundError:
        return True


def kill_service(enclave: Enclave, name: str) -> None:
    pid = live_pid(enclave, name)
    os.kill(pid, signal.SIGKILL)
    child = runner._STARTED.get(name)
    if child is not None and child.pid == pid:
        child.wait()  # ours: reaped
    deadline = time.monotonic() + 30
    while not _gone(pid):
        assert time.monotonic() < deadline, f"{name} (pid {pid}) survived SIGKILL"
        time.sleep(0.05)
    runner._pidfile(enclave.settings, name).unlink(missing_ok=True)


def test_hub_restart_keeps_running_workspaces(enclave: Enclave, alice: HubSession):
    before = enclave.container("alice").id
    kill_service(enclave, "hub")
    assert enclave.container("alice").status == "running"
    runner.start_hub(enclave.settings)
    assert enclave.container("alice").id == before
    assert alice.server().get("ready")
    assert alice.open_lab().status_code == 200  # through the proxy, which kept its routes


def test_killing_the_service_mid_scan_loses_nothing_and_leaves_nothing_half_done(enclave: Enclave, alice):
    # ~12 MiB, under the 16 MiB limit: copying and checking it takes the service a second or more
    write(enclave, "/workspace/big.csv", "import random\nr = random.Random(1)\n"
          "rows = ['id,phone,note'] + [f'{i},13{r.randrange(10**9):09d},Patient John Smith seen' "
          "for i in range(300000)]\nopen('/workspace/big.csv', 'w').write('\\n'.join(rows))")
    for _attempt in range(5):
        before = requests_state()
        answer: dict = {}
        client = threading.Thread(target=lambda a=answer: a.update(export(enclave, "big.csv")))
        client.start()
        if _freeze_the_service_mid_call(enclave, "alice", client):
            break
        client.join(300)  # answered before it could be frozen; try again
    else:
        raise AssertionError("the export service answered each time before it could be stopped mid-call")
    kill_service(enclave, "egress-review")  # frozen before answering: the kill lands mid-request
    client.join(60)
    assert answer["rc"] == 2 and "stopped before answering" in answer["err"], answer
    runner.start_egress_service(enclave.settings)
    after = requests_state()
    assert after == before  # the request was never half-made
    assert not list(enclave.settings.egress_store.glob("*/*.tmp"))
    # and work resumes
    write(enclave, "/workspace/small.csv", "open('/workspace/small.csv', 'w').write('g,n\\na,120\\n')")
    r = export(enclave, "small.csv")
    assert r["rc"] == 0 and r["out"]["state"] == "submitted"


def _review(session: HubSession, enclave: Enclave, rid: int, fid: int) -> int:
    svc = f"{enclave.url}/services/egress-review/"
    page = session.http.get(svc + f"requests/{rid}", timeout=30).content.decode()
    token = re.search(r'name="_xsrf" value="([^"]+)"', page)
    data = {"_xsrf": token.group(1) if token else "", "decision": "approve", f"file-{fid}": "approve",
            "confirm": "yes"}  # the confirming post of the two a browser makes
    return session.http.post(svc + f"requests/{rid}/review", data=data, timeout=30).status_code


def test_killing_the_service_between_reviews_releases_exactly_once(enclave: Enclave, alice):
    write(enclave, "/workspace/t2.csv", "open('/workspace/t2.csv', 'w').write('g,n\\na,150\\n')")
    req = export(enclave, "t2.csv")["out"]
    rid, fid = req["id"], req["files"][0]["id"]
    bob, carol = enclave.login("bob"), enclave.login("carol")
    assert _review(bob, enclave, rid, fid) == 200
    kill_service(enclave, "egress-review")
    runner.start_egress_service(enclave.settings)
    assert _review(bob, enclave, rid, fid) == 403  # his review survived the restart
    assert _review(carol, enclave, rid, fid) == 200
    with session_scope() as s:
        assert s.get(ExportRequest, rid).state.value == "released"
        assert s.query(Release).filter_by(request_id=rid).count() == 1


def test_a_full_export_store_is_a_clear_error_and_work_resumes(enclave: Enclave, alice):
    store = enclave.settings.egress_store
    write(enclave, "/workspace/mid.csv", "open('/workspace/mid.csv', 'w').write('g,n\\n' + 'a,120\\n' * 40000)")
    before = requests_state()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(store)], check=True)
    try:
        r = export(enclave, "mid.csv")
        assert r["rc"] == 2 and "export store is full" in r["err"], r
        assert requests_state() == before
        assert not list(store.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(store)], check=True)
    r = export(enclave, "mid.csv")
    assert r["rc"] == 0 and r["out"]["state"] == "submitted"
