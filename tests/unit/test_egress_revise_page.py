"""A returned request revised from the requester's request page in the browser: the files picked again from
her workspace (the returned version's ticked), the justification kept and editable, mistakes back beside
their field with everything kept, a confirmation first, then a new version with the earlier reviews and a
diff of what changed (by hash, and line by line for small text files)."""

from __future__ import annotations

import os
import re
from html import unescape
from pathlib import Path

import pytest

from egress_review import intake, workflow
from egress_review.collect import listing
from enclave.db import session_scope
from enclave.models import Decision, ExportState, FileVote
from enclave.settings import get_settings
from tests.egress_helpers import POLICY
from tests.unit import test_egress_service_auth as service_tests
from tests.unit.test_egress_collect import make_workspace
from tests.unit.test_egress_pages import browser, more_people, text, xsrf
from tests.unit.test_egress_service_auth import Service

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reading as the workspace user needs root to start")
egress = service_tests.egress
_ = more_people  # the other reviewers sign in too (autouse there, and here)
TABLE = "diagnosis,n\nE11,120\nI10,85\n"


@pytest.fixture
def workspace(world: Path) -> Path:
    (get_settings().projects_dir / "study").mkdir(parents=True)
    ws = make_workspace(get_settings().projects_dir / "study")
    (ws / "table.csv").write_text(TABLE)
    (ws / "notes.txt").write_text("Method: counts by diagnosis.\nSource: clinic visits.\n")
    return ws


def returned(ws: Path) -> int:
    """Alice's request for table.csv and notes.txt, read from her workspace and returned by both reviewers."""
    rid = intake.from_workspace(get_settings(), POLICY, "alice", "study", ["table.csv", "notes.txt"],
                                "counts for the paper", {}, lambda s, slug: None)
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        for who in ("bob", "carol"):
            votes = {str(f.id): {"decision": FileVote.CHANGES.value, "comment": f"{who}: say where {f.name} is from"}
                     for f in req.files}
            workflow.review(s, who, rid, Decision.RETURN, votes, comment_to_requester=f"{who}: more detail")
    return rid


def fields(html: str, name: str) -> list[str]:
    return [unescape(m) for m in re.findall(rf'<p class="problem" data-field="{name}"[^>]*>([^<]+)</p>', html)]


def test_the_revise_form_ticks_the_returned_files_keeps_the_justification_and_shows_the_comments(
        workspace: Path, egress: Service):
    rid = returned(workspace)
    (workspace / "extra.csv").write_text(TABLE)
    alice = browser(egress, "alice")
    assert f'requests/{rid}/revise" id="revise-link"' in alice.get(f"requests/{rid}").text
    page = alice.get(f"requests/{rid}/revise")
    assert page.status_code == 200
    assert re.search(r'name="file" value="table.csv" checked', page.text)
    assert re.search(r'name="file" value="notes.txt" checked', page.text)
    assert re.search(r'name="file" value="extra.csv">', page.text)  # offered, not ticked
    assert "counts for the paper</textarea>" in page.text
    shown = text(page.text)
    assert "bob: more detail" in shown and "notes.txt: carol: say where notes.txt is from" in shown


def test_a_revision_with_mistakes_comes_back_beside_each_field_with_everything_kept(workspace: Path,
                                                                                    egress: Service):
    rid = returned(workspace)
    for lang, no_text in (("en", "a justification is required"), ("zh-CN", "必须填写理由说明")):
        c = browser(egress, "alice", lang)
        page = c.post(f"requests/{rid}/revise", data={"_xsrf": xsrf(c, f"requests/{rid}/revise"),
                                                      "other": "../outside.csv", "justification": " "})
        assert page.status_code == 400
        assert no_text in fields(page.text, "justification")[0]
        assert fields(page.text, "files")  # the path outside the workspace, named beside the files
        assert "../outside.csv</textarea>" in page.text
        assert not re.search(r'name="file" value="table.csv" checked', page.text)  # what she unticked stays so
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.RETURNED


def test_a_revision_is_confirmed_then_made_as_the_next_version_with_a_diff_and_the_earlier_reviews(
        workspace: Path, egress: Service):
    rid = returned(workspace)
    (workspace / "notes.txt").write_text("Method: counts by diagnosis.\nSource: outpatient clinic visits, 2024.\n")
    (workspace / "extra.csv").write_text("diagnosis,n\nJ45,60\n")
    alice = browser(egress, "alice")
    form = {"_xsrf": xsrf(alice, f"requests/{rid}/revise"), "file": ["table.csv", "notes.txt"],
            "other": "extra.csv", "justification": "counts for the paper, sources named"}
    ask = alice.post(f"requests/{rid}/revise", data=form)
    assert ask.status_code == 200 and 'id="confirm-form"' in ask.text
    assert "Nothing has been recorded yet." in text(ask.text) and "extra.csv added" in text(ask.text)
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.RETURNED  # nothing before confirming
    done = alice.post(f"requests/{rid}/revise", data={**form, "confirm": "yes"})
    assert done.status_code == 302, done.text[-500:]
    new = int(re.search(r"requests/(\d+)\?done=revised$", done.headers["location"]).group(1))  # type: ignore[union-attr]
    with session_scope() as s:
        v2 = workflow.get_request(s, new)
        assert (v2.version, v2.revision_of, v2.justification) == (2, rid, "counts for the paper, sources named")
        assert sorted(f.name for f in v2.files) == ["extra.csv", "notes.txt", "table.csv"]
        assert workflow.get_request(s, rid).state == ExportState.REVISED
    page = alice.get(f"requests/{new}?done=revised")
    shown = text(page.text)
    assert "Your revision is submitted as a new version" in shown
    diff = {name: how for how, name in re.findall(r'<tr class="diff-(\w+)" data-file="([^"]+)"', page.text)}
    assert diff == {"table.csv": "unchanged", "notes.txt": "changed", "extra.csv": "added"}
    lines = re.search(r'<pre class="text-diff" data-file="notes.txt" translate="no">(.*?)</pre>', page.text, re.S)
    assert lines
    assert '<span class="diff-line diff-add">+Source: outpatient clinic visits, 2024.</span>' in lines.group(1)
    assert '<span class="diff-line diff-del">-Source: clinic visits.</span>' in lines.group(1)
    assert "bob: more detail" in shown and "carol: say where notes.txt is from" in shown  # the earlier reviews
    reviewer = text(browser(egress, "rita").get(f"requests/{new}").text)
    assert "Changes since version 1" in reviewer and "+Source: outpatient clinic visits, 2024." in reviewer


def test_only_the_requester_revises_and_only_a_returned_request(workspace: Path, egress: Service):
    rid = returned(workspace)
    assert browser(egress, "bob").get(f"requests/{rid}/revise").status_code == 403  # he reviewed it: he sees it
    assert browser(egress, "rita").get(f"requests/{rid}/revise").status_code == 404  # not even told it exists
    alice = browser(egress, "alice", "zh-CN")
    token = xsrf(alice, f"requests/{rid}/revise")
    data = {"_xsrf": token, "file": ["table.csv"], "justification": "again", "confirm": "yes"}
    assert alice.post(f"requests/{rid}/revise", data=data).status_code == 302
    again = alice.post(f"requests/{rid}/revise", data=data)  # revised already: refused on the form, in Chinese
    assert again.status_code == 403 and "只有已退回的申请可以修订" in fields(again.text, "revise")[0]


def test_a_file_that_cannot_be_read_is_named_beside_the_files_and_nothing_is_made(workspace: Path,
                                                                                  egress: Service):
    rid = returned(workspace)
    alice = browser(egress, "alice")
    data = {"_xsrf": xsrf(alice, f"requests/{rid}/revise"), "file": ["table.csv", "gone.csv"],
            "justification": "x", "confirm": "yes"}
    page = alice.post(f"requests/{rid}/revise", data=data)
    assert page.status_code == 400 and "gone.csv" in fields(page.text, "files")[0]
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == ExportState.RETURNED


def test_the_workspace_listing_offers_files_only_never_links_hidden_entries_or_other_filesystems(tmp_path: Path):
    ws = make_workspace(tmp_path)
    (ws / ".hidden").mkdir()
    (ws / ".hidden" / "secret.csv").write_text("x")
    (ws / "results" / "link.csv").symlink_to(tmp_path / "dataset.csv")
    (ws / "up").symlink_to(tmp_path)
    (ws / "a b.txt").write_text("x")
    assert listing(ws) == (["a b.txt", "results/table.csv"], False)
    assert listing(ws, limit=1) == (["a b.txt"], True)
    assert listing(tmp_path / "none") == ([], False)




def test_enclave_export_show_prints_every_reviewers_comment_on_each_file_and_the_way_to_revise():
    from egress_review import client

    shown = client._summary({"id": 4, "project": "study", "state": "returned", "version": 2, "files": [
        {"name": "t.csv", "verdict": "review", "sha256": "ab" * 32, "outcome": "returned", "released": False,
         "findings": [], "comments": ["bob: round to 5", "carol: suppress under 10"]}],
        "comments": ["Suppress small counts."], "resolution": None})
    assert "request 4 (study, version 2): returned" in shown
    assert "reviewer: bob: round to 5" in shown and "reviewer: carol: suppress under 10" in shown
    assert "reviewer: Suppress small counts." in shown and "--revises 4" in shown
