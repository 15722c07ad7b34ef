"""The export path through the real service: requests from inside workspaces, who may do what, releases.

Everything here goes through the hub (tokens, OAuth), the proxy and the egress-review service, as a
user or a hostile workspace would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import requests

from egress_review.workflow import get_request
from enclave import audit
from enclave.db import session_scope
from enclave_demo.data import DEMO_PROJECT
from tests.integration.conftest import OTHER_PROJECT, Enclave, HubSession, running_workspaces

EXPORT = r"""
import json, os, subprocess, sys
def export(*args):
    r = subprocess.run(["enclave-export", "--json", *args], capture_output=True, text=True, cwd="/workspace")
    return {"rc": r.returncode, "out": json.loads(r.stdout) if r.stdout.strip() else None,
            "err": r.stderr.strip()}
"""


def in_ws(enclave: Enclave, user: str, code: str) -> Any:
    res = enclave.container(user).exec_run(["python", "-c", EXPORT + code], demux=True)
    out, err = res.output
    assert res.exit_code == 0, (err or b"").decode()
    return json.loads(out.decode())


@pytest.fixture(scope="module")
def running(enclave: Enclave) -> Iterator[dict[str, HubSession]]:
    with running_workspaces(enclave, {"alice": DEMO_PROJECT, "dave": OTHER_PROJECT}) as sessions:
        yield sessions


@pytest.fixture(scope="module")
def requests_made(enclave: Enclave, running) -> dict[str, Any]:
    return in_ws(enclave, "alice", r"""
os.makedirs("/workspace/out/sub", exist_ok=True)
open("/workspace/out/table.csv", "w").write("sex,n\nF,9800\nM,10200\n")
open("/workspace/out/ids.txt", "w").write("身份证号 11010519491231002X\n")
open("/workspace/out/real.txt", "w").write("fine\n")
for name, target in (("link.txt", "/data/cohort/cohort.parquet"), ("sub/up.txt", "../real.txt")):
    if not os.path.lexists("/workspace/out/" + name):
        os.symlink(target, "/workspace/out/" + name)
if not os.path.exists("/workspace/out/hard.txt"):
    os.link("/workspace/out/real.txt", "/workspace/out/hard.txt")
out = {
  "clean": export("request", "out/table.csv", "-j", "Counts by sex"),
  "blocked": export("request", "out/ids.txt", "-j", "oops"),
  "symlink": export("request", "out/link.txt", "-j", "x"),
  "dotdot": export("request", "../etc/passwd", "-j", "x"),
  "absolute": export("request", "/etc/passwd", "-j", "x"),
  "hardlink": export("request", "out/hard.txt", "-j", "x"),
  "device": export("request", "/dev/zero", "-j", "x"),
  "no_reason": export("request", "out/table.csv", "-j", " "),
  "listed": export("list"),
}
print(json.dumps(out))
""")


def test_requests_from_the_workspace_are_copied_checked_and_tricks_refused(enclave: Enclave, requests_made):
    r = requests_made
    assert r["clean"]["rc"] == 0 and r["clean"]["out"]["state"] == "submitted"
    assert r["clean"]["out"]["project"] == DEMO_PROJECT and r["clean"]["out"]["files"][0]["verdict"] == "pass"
    blocked = r["blocked"]["out"]["files"][0]
    assert blocked["verdict"] == "block" and blocked["findings"][0]["kind"] == "CN_RESIDENT_ID"
    assert "11010519491231002X" not in json.dumps(blocked)  # findings never repeat the value
    assert "symbolic link" in r["symlink"]["err"]
    assert "inside the project workspace" in r["dotdot"]["err"]
    # a path outside /workspace is refused in the workspace, before any request, in one sentence
    assert "is not in your project's workspace" in r["absolute"]["err"]
    assert "hard link" in r["hardlink"]["err"]
    assert "is not in your project's workspace" in r["device"]["err"]
    assert "justification" in r["no_reason"]["err"]
    mine = {r["clean"]["out"]["id"], r["blocked"]["out"]["id"]}
    assert [x["state"] for x in r["listed"]["out"] if x["id"] in mine] == ["submitted", "submitted"]
    # the stored copy is what was checked: editing the workspace file later changes nothing
    assert r["clean"]["out"]["files"][0]["sha256"] is None  # no digest of a file not released reaches her
    with session_scope() as s:
        sha = get_request(s, r["clean"]["out"]["id"]).files[0].sha256
    stored = enclave.settings.egress_store / sha[:2] / sha
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    in_ws(enclave, "alice", 'open("/workspace/out/table.csv", "w").write("sex,n\\nF,1\\n"); print("{}")')
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    with session_scope() as s:
        assert audit.query(s, action="export.submit", project=DEMO_PROJECT)


def _service(enclave: Enclave) -> str:
    return f"{enclave.url}/services/egress-review/"


def test_the_workspace_token_is_only_good_for_its_own_requests(enclave: Enclave, running, requests_made):
    rid = requests_made["clean"]["out"]["id"]
    token = enclave.container("alice").attrs["Config"]["Env"]
    token = next(v.split("=", 1)[1] for v in token if v.startswith("JUPYTERHUB_API_TOKEN="))
    h = {"Authorization": f"token {token}"}
    hub = f"{enclave.url}/hub/api"
    # no admin API, no other users
    assert requests.get(f"{hub}/users", headers=h, timeout=30).status_code == 403
    # the token holds read:users:activity for alice only: the hub answers 404 for a user outside a filtered
    # scope (the same answer as for a user that does not exist)
    assert requests.get(f"{hub}/users/dave", headers=h, timeout=30).status_code == 404
    # from outside the workspace, the same token cannot submit
    r = requests.post(_service(enclave) + "api/requests", headers=h, timeout=30,
                      json={"files": ["out/table.csv"], "justification": "x"})
    assert r.status_code == 403 and "own workspace" in r.json()["error"]
    # no download scope, even for its own requests
    r = requests.get(_service(enclave) + f"api/requests/{rid}/download/results.json", headers=h, timeout=30)
    assert r.status_code == 403
    # another project's workspace cannot see alice's request, nor list it
    dave = in_ws(enclave, "dave", f'print(json.dumps([export("show", "{rid}"), export("list")]))')
    assert dave[0]["rc"] == 2 and "no export request" in dave[0]["err"]
    # dave's list holds his own requests only (other tests may have made some), never alice's
    assert rid not in [r["id"] for r in dave[1]["out"]] and {r["requester"] for r in dave[1]["out"]} <= {"dave"}
    # a workspace cannot withdraw someone else's request
    dave = in_ws(enclave, "dave", f'print(json.dumps(export("withdraw", "{rid}")))')
    assert dave["rc"] == 2


def _form(session: HubSession, url: str) -> tuple[str, str]:
    """The page, and this session's form token: the page's own, or, on a page without a form (a review already
    given), the service's _xsrf cookie, which Tornado accepts as the token. Nothing is kept between tests."""
    r = session.http.get(url, timeout=30)
    assert r.status_code == 200, r.text[-500:]
    page = r.content.decode()
    m = re.search(r'name="_xsrf" value="([^"]+)"', page)
    return page, m.group(1) if m else session.http.cookies.get("_xsrf", path="/services/egress-review/") or ""


def _review(session: HubSession, enclave: Enclave, rid: int, file_votes: dict[str, tuple[str, str]], decision: str,
            comment: str = "", xsrf: bool = True) -> requests.Response:
    _page, token = _form(session, _service(enclave) + f"requests/{rid}")
    data = {"decision": decision, "comment_to_requester": comment, "confirm": "yes"}  # the confirming post
    for fid, (vote, c) in file_votes.items():
        data[f"file-{fid}"], data[f"comment-{fid}"] = vote, c
    if xsrf:
        data["_xsrf"] = token
    return session.http.post(_service(enclave) + f"requests/{rid}/review", data=data, timeout=30)


def test_review_rules_through_the_ui(enclave: Enclave, running, requests_made):
    clean, blocked = requests_made["clean"]["out"], requests_made["blocked"]["out"]
    alice, bob, carol = running["alice"], enclave.login("bob"), enclave.login("carol")
    cfid, bfid = str(clean["files"][0]["id"]), str(blocked["files"][0]["id"])
    # alice (researcher, requester) cannot review her own request
    r = _review(alice, enclave, clean["id"], {cfid: ("approve", "")}, "approve")
    assert r.status_code == 403 and "reviewer role" in r.content.decode()  # she sees it, may not review it
    # a blocked file cannot be approved, even by posting the form by hand
    r = _review(bob, enclave, blocked["id"], {bfid: ("approve", "ok")}, "approve")
    assert r.status_code == 403 and "cannot be approved" in r.content.decode()
    # CSRF: a review posted without the form's token is refused
    r = _review(bob, enclave, clean["id"], {cfid: ("approve", "")}, "approve", xsrf=False)
    assert r.status_code == 403
    # the queue shows it to bob; alice has not got a queue
    assert f'data-request="{clean["id"]}"' in bob.http.get(_service(enclave), timeout=30).content.decode()
    assert 'id="queue"' not in alice.http.get(_service(enclave), timeout=30).content.decode()
    # nothing downloadable before release
    r = alice.http.get(_service(enclave) + f"requests/{clean['id']}/download/{cfid}", timeout=30)
    assert r.status_code == 403
    # bob approves; he cannot act twice; carol does not see his decision before hers
    assert _review(bob, enclave, clean["id"], {cfid: ("approve", "")}, "approve").status_code == 200
    assert _review(bob, enclave, clean["id"], {cfid: ("approve", "")}, "approve").status_code == 403
    page, _ = _form(carol, _service(enclave) + f"requests/{clean['id']}")
    assert "<td>bob</td>" not in page
    assert _review(carol, enclave, clean["id"], {cfid: ("approve", "")}, "approve").status_code == 200
    # two approvals release it: the requester downloads, with hashes and results.json
    info = alice.http.get(_service(enclave) + f"api/requests/{clean['id']}", timeout=30).json()
    assert info["state"] == "released"
    data = alice.http.get(_service(enclave) + info["downloads"][0]["path"], timeout=30)
    released = info["files"][0]["sha256"]  # shown once released
    with session_scope() as s:
        assert released == get_request(s, clean["id"]).files[0].sha256
    assert data.status_code == 200 and hashlib.sha256(data.content).hexdigest() == released
    rec = alice.http.get(_service(enclave) + info["results"], timeout=30).json()
    assert [x["decision"] for x in rec["reviews"]] == ["approve", "approve"]
    assert not {"reviewer", "resolved_by"} & {k for x in rec["reviews"] for k in x} and "resolved_by" not in rec
    assert rec["files"][0]["sha256"] == released and rec["rules"]["sdc"]["threshold"] == 10
    assert rec["tool_versions"]["presidio-analyzer"]
    # only the requester can download: reviewers cannot
    # bob reviewed it, so he may see the request (not 404), but downloads are the requester's alone (403)
    r = bob.http.get(_service(enclave) + info["downloads"][0]["path"], timeout=30)
    assert r.status_code == 403 and "requester only" in r.content.decode(), r.status_code
    with session_scope() as s:
        actions = [e["action"] for e in audit.query(s, project=DEMO_PROJECT, limit=100000)
                   if e["target"] == f"request:{clean['id']}"]
    assert {"export.submit", "export.review", "export.in_review", "export.approved", "export.released",
            "export.download"} <= set(actions)


def test_withdraw_and_comments_reach_the_requester(enclave: Enclave, running, requests_made):
    blocked = requests_made["blocked"]["out"]
    bob, carol = enclave.login("bob"), enclave.login("carol")
    bfid = str(blocked["files"][0]["id"])
    for who in (bob, carol):
        r = _review(who, enclave, blocked["id"], {bfid: ("reject", "contains a resident ID")}, "return",
                    comment="Please remove the identifier column.")
        assert r.status_code == 200
    shown = in_ws(enclave, "alice", f'print(json.dumps(export("show", "{blocked["id"]}")))')["out"]
    assert shown["state"] == "returned" and "Please remove the identifier column." in shown["comments"]
    assert "private_comment" not in json.dumps(shown)
    again = in_ws(enclave, "alice", r"""
open("/workspace/out/notes.md", "w").write("# Notes\nMean length of stay 5.1 days.\n")
r = export("request", "out/notes.md", "-j", "second try")
w = export("withdraw", str(r["out"]["id"]))
print(json.dumps([r, w, export("withdraw", str(r["out"]["id"]))]))""")
    assert again[1]["out"]["state"] == "withdrawn" and again[2]["rc"] == 2


def test_a_conflict_is_resolved_in_the_ui_by_a_third_reviewer_only(enclave: Enclave, running):
    """bob approves, carol rejects: neither of them gets the resolve form or may post it; rhea does and may."""
    made = in_ws(enclave, "alice", r"""
os.makedirs("/workspace/out", exist_ok=True)
open("/workspace/out/conflict.csv", "w").write("diagnosis,n\nE11,120\nI10,85\n")
print(json.dumps(export("request", "out/conflict.csv", "-j", "aggregate counts")))""")["out"]
    rid, fid = made["id"], str(made["files"][0]["id"])
    bob, carol, rhea = enclave.login("bob"), enclave.login("carol"), enclave.login("rhea")
    svc = _service(enclave)
    tokens = {who.username: _form(who, svc + f"requests/{rid}")[1] for who in (bob, carol)}  # review forms
    assert all(tokens.values()), tokens
    assert _review(bob, enclave, rid, {fid: ("approve", "")}, "approve").status_code == 200
    assert _review(carol, enclave, rid, {fid: ("reject", "too granular")}, "reject",
                   comment="Aggregate further.").status_code == 200
    for reviewer in (bob, carol):
        page = reviewer.http.get(svc + f"requests/{rid}", timeout=30).content.decode()
        assert 'id="resolve-form"' not in page and 'name="_xsrf"' not in page  # no form for either of them
        r = reviewer.http.post(svc + f"requests/{rid}/resolve", timeout=30, data={
            "_xsrf": tokens[reviewer.username], "decision": "approve", f"file-{fid}": "approve", "reason": "mine"})
        assert r.status_code == 403 and "third reviewer" in r.content.decode()
    page, token = _form(rhea, svc + f"requests/{rid}")
    assert 'id="resolve-form"' in page and f'name="file-{fid}"' in page
    assert f'data-request="{rid}"' in rhea.http.get(svc, timeout=30).content.decode()  # in her queue
    r = rhea.http.post(svc + f"requests/{rid}/resolve", timeout=30, data={
        "_xsrf": token, "decision": "approve", f"file-{fid}": "approve", "reason": "counts are all above 10",
        "confirm": "yes"})
    assert r.status_code == 200
    with session_scope() as s:
        req = get_request(s, rid)
        assert req.state.value == "released" and req.resolved_by == "rhea"
        assert req.release.record["resolved_by"] == "rhea"


MODEL = r"""
import pickle, numpy as np, polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 60)); y = (X[:, 0] + rng.normal(scale=2, size=200) > 0).astype(int)
df = pl.DataFrame({**{f"x{i}": X[:, i] for i in range(60)}, "y": y})
df[:100].write_csv("/workspace/out/train.csv"); df[100:].write_csv("/workspace/out/holdout.csv")
# 60 features for 100 rows and almost no regularisation: it remembers its training rows
pickle.dump(LogisticRegression(C=1e4, max_iter=5000).fit(X[:100], y[:100]), open("/workspace/out/model.pkl", "wb"))
pickle.dump(DecisionTreeClassifier(min_samples_leaf=1).fit(X[:100], y[:100]), open("/workspace/out/tree.pkl", "wb"))
class Hostile:  # unpickling it would print a harmless-looking score and echo a file
    def __reduce__(self):
        return (exec, ("import json; print(json.dumps(dict(auc=0.5, rows=100))); print(open('/etc/passwd').read())",))
pickle.dump(Hostile(), open("/workspace/out/hostile.pkl", "wb"))
args = ["-j", "model", "--training-data", "out/train.csv", "--holdout-data", "out/holdout.csv", "--target", "y"]
print(json.dumps({n: export("request", f"out/{n}.pkl", *args) for n in ("model", "tree", "hostile")}))
"""


def _mia_containers() -> list[str]:
    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": "org.enclave.role=mia"})]
    finally:
        client.close()


def test_only_models_the_static_check_passed_get_a_membership_inference_score(enclave: Enclave, running):
    before = _mia_containers()
    r = in_ws(enclave, "alice", MODEL)
    assert all(x["rc"] == 0 for x in r.values()), r
    files = {n: x["out"]["files"][0] for n, x in r.items()}
    kinds = {n: {x["kind"]: x for x in f["findings"]} for n, f in files.items()}
    mia = "membership-inference AUC<0.6"
    # an ordinary model is tested in a throw-away container: only its score comes back
    assert files["model"]["verdict"] == "block" and kinds["model"][mia]["location"]["score"] > 0.6, kinds["model"]
    # a statically blocked model or hostile pickle is never loaded, not even in the container
    assert "min_samples_leaf>=5" in kinds["tree"] and "pickle-globals" in kinds["hostile"]
    for name in ("tree", "hostile"):
        assert files[name]["verdict"] == "block" and mia in kinds[name] and "location" in kinds[name][mia]
        assert "score" not in kinds[name][mia]["location"], kinds[name]
    assert "root:" not in json.dumps(r)
    with session_scope() as s:  # what reviewers see says why
        req = get_request(s, r["hostile"]["out"]["id"])
        detail = [x["detail"] for x in req.files[0].scan["findings"] if x.get("rule") == mia]
    assert detail == ["membership-inference test: not run: the static check blocked this pickle, so it is never "
                      "loaded"]
    assert _mia_containers() == before  # each test container is gone
