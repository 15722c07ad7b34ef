"""Executed code on the record, in a real workspace: notebook cells run through the kernel (nbclient in the
container) and a command typed into a JupyterLab terminal (its websocket) appear in `enclave audit code` with
the right project, user and workspace; a process in the workspace cannot change or remove them (the service
has no such call, refuses a body naming someone else, and the database is not reachable from the workspace);
with the recorder stopped a cell still runs, and afterwards its record and the gap arrive. The spawn page says
the session is recorded, in the reader's language.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect, sync_playwright

from enclave_demo.data import DEMO_PROJECT
from enclave_demo.runner import start_activity_service, stop_process
from enclave_ops.cli import main
from tests.integration.conftest import CHROMIUM, CHROMIUM_ARGS, Enclave, check_page, login, run_in, running_workspaces

# Runs a notebook of the given cells through a real kernel in the workspace (the kernel loads the recorder as
# every workspace kernel does); prints the outputs and how long the run took.
NOTEBOOK = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient
cells = json.loads(sys.argv[1])
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
start = time.monotonic()
NotebookClient(nb, kernel_name="python3", timeout=120).execute()
print(json.dumps({"outputs": [[o.get("text", "") for o in c.outputs] for c in nb.cells],
                  "counts": [c.execution_count for c in nb.cells], "seconds": time.monotonic() - start}))
"""
# Opens a Lab terminal through the server's API and types a line into its websocket, as the browser does.
TERMINAL = r"""
import json, os, sys, time, urllib.request
from tornado import httpclient, ioloop, websocket
line = sys.argv[1]
base = "http://127.0.0.1:8888" + os.environ["JUPYTERHUB_SERVICE_PREFIX"]
auth = {"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}
req = urllib.request.Request(base + "api/terminals", data=b"{}", method="POST", headers=auth)
name = json.loads(urllib.request.urlopen(req, timeout=30).read())["name"]
async def type_it():
    ws = await websocket.websocket_connect(httpclient.HTTPRequest(
        base.replace("http", "ws", 1) + "terminals/websocket/" + name, headers=auth))
    await ws.read_message()
    ws.write_message(json.dumps(["stdin", line + "\r"]))
    deadline = time.monotonic() + 30
    while not os.path.exists("/tmp/typed") and time.monotonic() < deadline:
        try:
            await ws.read_message()
        except Exception:
            break
    ws.close()
ioloop.IOLoop.current().run_sync(type_it, timeout=60)
print(json.dumps({"terminal": name, "ran": os.path.exists("/tmp/typed")}))
"""
# What a hostile process in the workspace tries against the record: the service's other methods, a body
# naming another user and project, and the database (its file, and the database ports at the gateway).
TAMPER = r"""
import json, os, socket, urllib.request, urllib.error
url = os.environ["ENCLAVE_RECORD_URL"].rstrip("/") + "/api/records"
auth = {"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"], "Content-Type": "application/json"}
def call(method, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method, headers=auth)
    try:
        return urllib.request.urlopen(req, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code
out = {m: call(m, {"records": []}) for m in ("PUT", "PATCH", "DELETE")}
out["claim"] = call("POST", {"records": [{"kind": "cell", "code": "forged", "at": "2026-01-01T00:00:00",
                                          "user": "bob", "project": "other-study"}]})
gateway = url.split("/")[2].split(":")[0]
def reach(port):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((gateway, port)); return True
    except OSError:
        return False
    finally:
        s.close()
out["db_ports"] = {p: reach(p) for p in (5432, 55432, 3306)}
out["recorder_port"] = reach(int(url.split("/")[2].split(":")[1]))
out["db_file"] = os.path.exists(os.environ["DB_FILE"])
print(json.dumps(out))
"""


def audit_code(user: str) -> dict[str, Any]:
    res = CliRunner().invoke(main, ["audit", "code", "--project", DEMO_PROJECT, "--user", user, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)  # type: ignore[no-any-return]


def wait_for(user: str, *markers: str, gaps: int = 0, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = audit_code(user)
        codes = "\n".join(r["code"] for r in found["records"])
        if all(m in codes for m in markers) and len(found["gaps"]) >= gaps:
            return found
        assert time.monotonic() < deadline, (markers, found)
        time.sleep(1)


def exec_json(container: Any, script: str, *args: str, env: dict[str, str] | None = None) -> Any:
    res = container.exec_run(["python", "-c", script, *args], demux=True, environment=env)
    out, err = res.output
    assert res.exit_code == 0, (err or b"").decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])


def test_cells_and_terminal_commands_are_recorded_and_the_workspace_cannot_alter_them(enclave: Enclave) -> None:
    mark = uuid.uuid4().hex[:10]
    with running_workspaces(enclave, {"alice": DEMO_PROJECT}):
        box = enclave.container("alice")
        ran = exec_json(box, NOTEBOOK, json.dumps([f"cell_one = '{mark}-1'", f"print(cell_one, '{mark}-2')"]))
        assert f"{mark}-1 {mark}-2" in ran["outputs"][1][0]
        typed = exec_json(box, TERMINAL, f"echo {mark}-term > /tmp/typed")
        assert typed["ran"], typed

        found = wait_for("alice", f"{mark}-1", f"{mark}-2", f"echo {mark}-term")
        mine = [r for r in found["records"] if mark in r["code"]]
        assert {(r["user"], r["project"], r["workspace"]) for r in mine} == {("alice", DEMO_PROJECT, box.name)}
        assert sorted(r["kind"] for r in mine) == ["cell", "cell", "terminal"]
        cells = [r for r in mine if r["kind"] == "cell"]
        # the numbers the notebook shows beside its cells
        assert [r["execution_count"] for r in cells] == ran["counts"] and all(r["intact"] for r in mine)
        assert found["problems"] == []

        db_file = enclave.settings.db_url.removeprefix("sqlite:///")
        tamper = exec_json(box, TAMPER, env={"DB_FILE": db_file})
        assert (tamper["PUT"], tamper["PATCH"], tamper["DELETE"]) == (405, 405, 405), tamper
        assert tamper["claim"] == 400, tamper
        assert tamper["recorder_port"] and not any(tamper["db_ports"].values()) and not tamper["db_file"], tamper
        after = audit_code("alice")
        assert [r for r in after["records"] if mark in r["code"]] == mine and after["problems"] == []
        assert "forged" not in json.dumps(audit_code("bob"))


def test_with_the_recorder_stopped_a_cell_still_runs_and_its_record_and_the_gap_arrive_later(enclave: Enclave) -> None:
    mark = uuid.uuid4().hex[:10]
    with running_workspaces(enclave, {"alice": DEMO_PROJECT}):
        box = enclave.container("alice")
        gaps_before = len(audit_code("alice")["gaps"])
        assert stop_process(enclave.settings, "activity")
        try:
            ran = exec_json(box, NOTEBOOK, json.dumps([f"print('{mark}-down')"]))
            assert ran["outputs"][0][0].strip() == f"{mark}-down", ran
            spooled = run_in(box, "import glob, json; print(json.dumps(glob.glob('/tmp/enclave-record/*.jsonl')))")
            assert spooled, "the kernel that ran while the recorder was down left no spool"
            assert mark not in json.dumps(audit_code("alice"))
        finally:
            start_activity_service(enclave.settings)
        # the workspace server's recorder sends what the ended kernel spooled, with a gap notice
        found = wait_for("alice", f"{mark}-down", gaps=gaps_before + 1, timeout=90)
        gap = found["gaps"][-1]
        assert gap["project"] == DEMO_PROJECT and gap["workspace"] == box.name and gap["delayed"] >= 1, gap
        print(f"a cell run while the recorder was down took {ran['seconds']:.2f} s (nbclient, kernel start included)")


@pytest.mark.parametrize(("lang", "words"), [("en", "This session is recorded"), ("zh-CN", "本会话会被记录")])
def test_the_spawn_page_says_the_session_is_recorded(enclave: Enclave, lang: str, words: str) -> None:
    """In a real browser, in the reader's language, with no words of the other and no serious axe issue."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(locale="zh-CN" if lang == "zh-CN" else "en-US").new_page()
            page.set_default_timeout(60_000)
            login(page, enclave, "frank")
            page.wait_for_url("**/hub/spawn*")
            expect(page.locator("#session-recorded")).to_contain_text(words)
            check_page(page, lang, "spawn page with the recording notice")
        finally:
            browser.close()
