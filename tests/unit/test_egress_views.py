"""What each person sees of a request: requesters never a value, a dataset, a column or a record of it."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from egress_review import client, workflow
from egress_review.i18n import translator
from egress_review.render import render
from egress_review.service import Context
from egress_review.views import file_view, release_record_view, request_view
from enclave.db import session_scope
from enclave.settings import EGRESS_PREFIX, REPO_ROOT, get_settings
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress
# Values of the study's own cohort@v1 (see the two_projects fixture): a record's id and its phone number.
OWN_ID, OWN_PHONE = f"S{3:08d}", f"139{3:08d}"
# Values of the clinic's dataset, which the study has no approval for.
THEIR_ID, THEIR_PHONE = f"C{5:08d}", f"137{5:08d}"
DATASET_WORDS = ("cohort", "clinic", "@v1", "study_id", "phone")


def submit(store: Path, files: list[tuple[str, bytes]], project: str = "study", who: str = "alice") -> int:
    with session_scope() as s:
        own = Context(get_settings()).own_index(s, project)
        return workflow.submit(s, who, project, files, "table for the paper", store, POLICY, own=own).id


def views(rid: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The requester's view and a reviewer's, as JSON would carry them."""
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        mine, theirs = request_view(req, "alice"), request_view(req, "bob", reviewer=True)
    return json.loads(json.dumps(mine, default=str)), json.loads(json.dumps(theirs, default=str))


def all_findings(view: dict[str, Any]) -> list[dict[str, Any]]:
    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        return node.get("findings", []) + [f for m in node.get("members", []) for f in walk(m)]
    return [f for file in view["files"] for f in walk(file)]


def assert_reveals_nothing(findings: list[dict[str, Any]], *values: str) -> None:
    text = json.dumps(findings, ensure_ascii=False)
    for word in DATASET_WORDS:
        assert word not in text, word
    for value in values:
        for i in range(len(value) - 3):  # no fragment of four characters, masked or not
            assert value[i:i + 4] not in text, (value[i:i + 4], text)
    assert not re.search(r"\d{4}|\*", text), text


def test_another_projects_values_give_no_own_data_finding(two_projects: Path):
    rid = submit(two_projects, [("theirs.csv", f"ref,tel\n{THEIR_ID},{THEIR_PHONE}\n".encode())])
    _mine, reviewer = views(rid)
    assert not [f for f in all_findings(reviewer) if f["check"] == "own-data"]
    # the clinic's own request is compared with its data: the index exists, it is just not the study's
    rid = submit(two_projects, [("mine.csv", f"ref,tel\n{THEIR_ID},{THEIR_PHONE}\n".encode())], "clinic", "eve")
    with session_scope() as s:
        seen = request_view(workflow.get_request(s, rid), "bob", reviewer=True)
    assert {f["rule"] for f in all_findings(seen) if f["check"] == "own-data"} == {"dataset-value", "same-record"}


def test_the_requester_learns_only_that_a_file_is_held_for_review(two_projects: Path):
    rid = submit(two_projects, [("rows.csv", f"ref,tel\n{OWN_ID},{OWN_PHONE}\n".encode()),
                                ("note.txt", f"follow up {OWN_ID} on {OWN_PHONE}\n".encode())])
    mine, reviewer = views(rid)
    own = [f for f in all_findings(mine) if f["check"] == "own-data"]
    assert own and all(set(f) == {"check", "verdict", "kind", "detail"} and "held for review" in f["detail"]
                       for f in own)
    for file in mine["files"]:  # each kind once per file, not once per matched value
        kinds = [f["kind"] for f in file["findings"] if f["check"] == "own-data"]
        assert len(kinds) == len(set(kinds))
    assert_reveals_nothing(all_findings(mine), OWN_ID, OWN_PHONE)
    assert [f["verdict"] for f in mine["files"]] == ["block", "block"]
    # reviewers keep the detail: which dataset and column, with values masked
    detail = " ".join(f["detail"] for f in all_findings(reviewer))
    assert "cohort@v1" in detail and "'phone'" in detail and OWN_PHONE not in detail
    phone = next(f for f in all_findings(reviewer) if f.get("entity") == "CN_PHONE")
    assert "*" in phone["detail"] and phone["location"] == {"row": 1, "column": "tel"}


def test_personal_data_is_located_in_the_requesters_file_without_the_value(two_projects: Path):
    rid = submit(two_projects, [("t.csv", f"ref,tel\nx,{THEIR_PHONE}\n".encode())])
    mine, _reviewer = views(rid)
    phone = next(f for f in all_findings(mine) if f["kind"] == "CN_PHONE")
    assert phone == {"check": "personal-data", "verdict": "block", "kind": "CN_PHONE",
                     "detail": "personal data (CN_PHONE) in this file", "location": {"row": 1, "column": "tel"}}


def test_names_that_look_like_values_are_not_shown_as_locations(two_projects: Path):
    rid = submit(two_projects, [("t.json", json.dumps({THEIR_PHONE: {"tel": THEIR_PHONE}}).encode())])
    mine, reviewer = views(rid)
    assert any(THEIR_PHONE[:4] in json.dumps(f.get("location")) for f in all_findings(reviewer))
    assert_reveals_nothing(all_findings(mine), THEIR_PHONE)


def test_archive_members_and_the_release_record_use_the_requester_form(two_projects: Path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner.csv", f"ref,tel\n{OWN_ID},{OWN_PHONE}\n")
    rid = submit(two_projects, [("out.zip", buf.getvalue())])
    mine, reviewer = views(rid)
    assert any(f["check"] == "own-data" for f in all_findings(mine))
    assert_reveals_nothing(all_findings(mine), OWN_ID, OWN_PHONE)
    assert "cohort@v1" in json.dumps(all_findings(reviewer))
    with session_scope() as s:
        f = workflow.get_request(s, rid).files[0]
        record = {"files": [{"name": f.name, "findings": f.scan["findings"]}]}
        member = {"files": [{"name": "m", "findings": f.scan["members"][0]["findings"]}]}
    assert_reveals_nothing([x for r in (record, member) for x in release_record_view(r)["files"][0]["findings"]],
                           OWN_ID, OWN_PHONE)


def test_pages_and_the_workspace_cli_show_the_requester_form(two_projects: Path):
    data = f"ref,tel\n{OWN_ID},{OWN_PHONE}\n".encode()
    rid = submit(two_projects, [("rows.csv", data)])
    ctx = Context(get_settings())
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        pages = {}
        for who, reviewer in (("alice", False), ("bob", True)):
            seen = file_view(req.files[0], reviewer=reviewer)
            shown = render(data, {"type": seen["type"], "findings": seen["findings"]}, "img")
            kw = {"t": translator("en"), "lang": "en", "user": who, "prefix": EGRESS_PREFIX, "xsrf": "x",
                  "r": request_view(req, who, reviewer=reviewer)}
            pages[who] = (ctx.templates.get_template("file.html").render(f=seen, shown=shown, **kw)
                          + ctx.templates.get_template("request.html").render(can_review=False, can_resolve=False,
                                                                              is_requester=not reviewer, **kw))
        summary = client._summary(json.loads(json.dumps(request_view(req, "alice"), default=str)))
    assert "cohort@v1" in pages["bob"] and "held for review" in pages["alice"]
    for text in (pages["alice"].replace(f">{OWN_ID}<", "><").replace(f">{OWN_PHONE}<", "><"), summary):
        assert "cohort" not in text and "139*" not in text and "study_id" not in text, text
    assert "held for review" in summary and "[block] own-data" in summary and OWN_PHONE not in summary


def test_every_check_has_a_fixed_sentence_and_an_unknown_one_still_quotes_nothing():
    from egress_review.views import REQUESTER_TEXT, requester_finding

    for check in ("personal-data", "own-data", "disclosure-control", "row-level", "file-type", "active-content",
                  "model", "rebuild"):
        assert check in REQUESTER_TEXT
    shown = requester_finding({"check": "new-check", "verdict": "review", "rule": "r1",
                               "detail": f"saw {OWN_PHONE}", "location": {"line": 3, "key": OWN_PHONE}})
    assert shown == {"check": "new-check", "verdict": "review", "kind": "r1",
                     "detail": "held for review by the check new-check (r1)", "location": {"line": 3}}


def test_a_revoked_approval_is_no_longer_compared(two_projects: Path):
    from enclave.projects import revoke_dataset

    rows = [("rows.csv", f"ref,tel\n{OWN_ID},{OWN_PHONE}\n".encode())]
    _mine, reviewer = views(submit(two_projects, rows))
    assert any(f["check"] == "own-data" for f in all_findings(reviewer))
    with session_scope() as s:
        revoke_dataset(s, "admin", "study", "cohort", "agreement ended")
    _mine, reviewer = views(submit(two_projects, rows))
    assert not any(f["check"] == "own-data" for f in all_findings(reviewer))


def test_the_requester_cannot_tell_which_own_data_rule_matched():
    """dataset-value, same-record and rare-combination findings read the same to the requester: which one
    matched would tell her how her file met the project's data."""
    from egress_review.owndata import _findings
    from egress_review.views import requester_findings

    one = [(("cohort@3", "identifier", "phone", 17), {"row": 1, "column": "x"})]
    same_record = one + [(("cohort@3", "identifier", "mrn", 17), {"row": 1, "column": "y"})]
    combo = [(("cohort@3", "rare_combo", "age|sex|zip", 17), {"row": 1})]
    seen = [requester_findings([f.to_dict() for f in _findings(hits)]) for hits in (one, same_record, combo)]
    assert seen[0] == seen[1] == seen[2]
    assert {f["kind"] for f in seen[0]} == {"own-data"}
