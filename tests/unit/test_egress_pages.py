"""The reviewer's and requester's pages over real HTTP (the hub's token check replaced, as in the service tests):
decisions confirmed before they are recorded, form mistakes back on the page beside their field with
everything kept, reasons beside controls that cannot be chosen, the queue's filters and claims, the guidance."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from egress_review import workflow
from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave.models import Decision, ExportState, FileVote
from enclave.settings import get_settings
from tests.egress_helpers import CLEAN, decide, submit, votes
from tests.identifiers import RID
from tests.unit import test_egress_service_auth as service_tests
from tests.unit.test_egress_service_auth import SERVICE_ACCESS, TOKENS, Service

egress = service_tests.egress  # the running service with the hub's token check replaced

BLOCKED = ("ids.txt", f"id {RID}".encode())


@pytest.fixture(autouse=True)
def more_people() -> Iterator[None]:
    added = {f"{n}-token": {"name": n, "kind": "user", "scopes": [SERVICE_ACCESS]} for n in ("carol", "rita", "dave")}
    TOKENS.update(added)
    yield
    for k in added:
        TOKENS.pop(k, None)


@pytest.fixture
def store(world: Path) -> Path:
    """The service's own export store (the pages read the stored copies from there)."""
    return get_settings().egress_store


def browser(svc: Service, user: str, lang: str = "en") -> httpx.Client:
    c = svc.client(user)
    c.headers["Accept-Language"] = lang
    return c


def xsrf(c: httpx.Client, page: str) -> str:
    m = re.search(r'name="_xsrf" value="([^"]+)"', c.get(page).text)
    assert m, "no form on the page"
    return m.group(1)


def ids(rid: int) -> dict[str, str]:
    with session_scope() as s:
        return {f.name: str(f.id) for f in workflow.get_request(s, rid).files}


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_a_review_is_confirmed_then_recorded_and_the_page_says_what_happened(store: Path, egress: Service):
    rid = submit(store, [CLEAN, BLOCKED])
    f = ids(rid)
    bob = browser(egress, "bob")
    form = {"_xsrf": xsrf(bob, f"requests/{rid}"), f"file-{f['table.csv']}": "approve",
            f"file-{f['ids.txt']}": "changes", f"comment-{f['ids.txt']}": "remove the ID column",
            "decision": "approve", "comment_to_requester": "", "private_comment": "checked"}
    page = bob.post(f"requests/{rid}/review", data=form)
    assert page.status_code == 200 and 'id="confirm-form"' in page.text
    shown = text(page.text)
    assert "will be released" in shown and "will be withheld" in shown and "Nothing has been recorded yet." in shown
    with session_scope() as s:
        assert workflow.get_request(s, rid).reviews == []  # nothing before the confirmation
    done = bob.post(f"requests/{rid}/review", data={**form, "confirm": "yes"})
    assert done.status_code == 302 and done.headers["location"].endswith(f"requests/{rid}?done=reviewed")
    after = text(bob.get(f"requests/{rid}?done=reviewed").text)
    assert "Your review is recorded." in after and "Now: in review." in after
    assert "Your vote: Approve" in after and "Your vote: Return — remove the ID column" in after


def test_a_form_mistake_comes_back_beside_its_field_with_everything_typed_kept(store: Path, egress: Service):
    rid = submit(store, [CLEAN, BLOCKED])
    f = ids(rid)
    bob = browser(egress, "bob", "zh-CN")
    form = {"_xsrf": xsrf(bob, f"requests/{rid}"), f"file-{f['table.csv']}": "approve",
            f"file-{f['ids.txt']}": "approve", f"comment-{f['table.csv']}": "计数都大于 10",
            "decision": "approve", "private_comment": "我的备注"}
    page = bob.post(f"requests/{rid}/review", data=form)
    assert page.status_code == 403
    problem = re.search(r'<p class="problem" data-field="file-(\d+)"[^>]*>([^<]+)</p>', page.text)
    assert problem and problem.group(1) == f["ids.txt"]
    assert problem.group(2) == "文件“ids.txt”有阻止性检查结果，不能按原样批准"
    assert "计数都大于 10</textarea>" in page.text and "我的备注</textarea>" in page.text
    assert re.search(rf'name="file-{f["table.csv"]}" value="approve" checked', page.text)
    assert "Error 403" not in page.text and "错误 403" not in page.text
    with session_scope() as s:
        assert workflow.get_request(s, rid).reviews == []


def test_a_blocked_files_approve_option_says_why_it_cannot_be_chosen(store: Path, egress: Service):
    rid = submit(store, [BLOCKED])
    for lang, why in (("en", "file 'ids.txt' has blocking findings and cannot be approved as is"),
                      ("zh-CN", "文件“ids.txt”有阻止性检查结果，不能按原样批准")):
        page = browser(egress, "bob", lang).get(f"requests/{rid}").text
        assert re.search(r'value="approve" disabled aria-describedby="why-\d+"', page)
        assert why in unescape(page)


def test_withdrawing_asks_first_and_a_refusal_comes_back_on_the_page(store: Path, egress: Service):
    rid = submit(store)
    alice = browser(egress, "alice")
    token = xsrf(alice, f"requests/{rid}")
    ask = alice.post(f"requests/{rid}/withdraw", data={"_xsrf": token})
    assert ask.status_code == 200 and "Withdrawing cannot be undone" in ask.text
    done = alice.post(f"requests/{rid}/withdraw", data={"_xsrf": token, "confirm": "yes"})
    assert done.status_code == 302
    assert "The request is withdrawn." in text(alice.get(done.headers["location"].split(get_settings().instance)[-1]
                                                         .split("/services/egress-review/")[-1]).text)
    again = alice.post(f"requests/{rid}/withdraw", data={"_xsrf": token, "confirm": "yes"})
    assert again.status_code == 403 and "can no longer be withdrawn" in unescape(again.text)
    assert 'data-field="withdraw"' in again.text
    with session_scope() as s:
        assert [e["action"] for e in audit.query(s, action=AuditAction.EXPORT_WITHDRAW_REFUSED.value)]


def test_the_queue_filters_sorts_shows_waiting_time_and_claims(store: Path, egress: Service):
    first, second = submit(store), submit(store, [BLOCKED])
    bob = browser(egress, "bob")
    queue = bob.get("").text
    assert re.search(rf'data-request="{first}".*?class="waited">\d+ min<', queue, re.S)
    assert queue.index(f'data-request="{first}"') < queue.index(f'data-request="{second}"')  # longest first
    newest = bob.get("", params={"sort": "newest"}).text
    assert newest.index(f'data-request="{second}"') < newest.index(f'data-request="{first}"')
    blocked_only = bob.get("", params={"verdict": "block"}).text
    assert f'data-request="{second}"' in blocked_only and f'data-request="{first}"' not in blocked_only
    assert f'data-request="{first}"' not in bob.get("", params={"age": "2"}).text
    token = xsrf(bob, f"requests/{first}")
    assert bob.post(f"requests/{first}/claim", data={"_xsrf": token}).status_code == 302
    carol = browser(egress, "carol")
    assert carol.post(f"requests/{first}/claim", data={"_xsrf": xsrf(carol, f"requests/{first}")}).status_code == 302
    rita = browser(egress, "rita", "zh-CN")
    page = rita.get("").text
    assert re.search(rf'data-request="{first}".*?class="claimed">bob, carol<', page, re.S)
    refused = rita.post(f"requests/{first}/claim", data={"_xsrf": xsrf(rita, f"requests/{first}")})
    assert refused.status_code == 403 and f"申请 {first} 已被 bob, carol 认领" in unescape(refused.text)
    with session_scope() as s:
        claims = audit.query(s, action="export.claim*")
        assert [(e["actor"], e["action"]) for e in claims] == [
            ("bob", "export.claim"), ("carol", "export.claim"), ("rita", "export.claim.refused")]


def test_the_reviewer_sees_the_requesters_earlier_requests_and_each_files_content(store: Path, egress: Service):
    earlier = submit(store)
    rid = submit(store)
    page = browser(egress, "bob").get(f"requests/{rid}").text
    assert 'id="earlier"' in page and f"#{earlier}" in page
    assert 'class="inline-content content-table"' in page and ">E11<" in page and ">120<" in page
    with session_scope() as s:
        assert [e for e in audit.query(s, action="export.inspect") if e["target"] == f"request:{rid}"]


def test_the_guidance_page_and_finding_texts_in_both_languages(store: Path, egress: Service):
    rid = submit(store, [("t.csv", b"region,n\neast,4\nwest,120\n")])
    bob_zh = browser(egress, "bob", "zh-CN").get(f"requests/{rid}").text
    assert "第 1 行 n 列：计数 4 低于阈值 10" in bob_zh
    assert 'href="/services/egress-review/guidance#small-counts"' in bob_zh
    alice = browser(egress, "alice").get(f"requests/{rid}").text
    assert "row 1, column n: a count below the threshold of 10" in alice and "count 4" not in alice
    assert "Suppress or round the small counts" in alice
    for lang, title in (("en", "Small counts"), ("zh-CN", "小计数")):
        g = browser(egress, "alice", lang).get("guidance")
        assert g.status_code == 200 and 'id="small-counts"' in g.text and title in g.text


def test_the_requester_reads_every_reviewers_file_comments_and_the_reason_that_settled_a_conflict(
        store: Path, egress: Service):
    rid = submit(store, [CLEAN, BLOCKED])
    f = ids(rid)
    with session_scope() as s:
        bob = {f["table.csv"]: {"decision": "approve", "comment": "fine (for reviewers)"},
               f["ids.txt"]: {"decision": "changes", "comment": "bob: drop the IDs"}}
        workflow.review(s, "bob", rid, Decision.APPROVE, bob)
        carol = {**votes(rid, FileVote.REJECT, "carol: not aggregated"), f["ids.txt"]: {
            "decision": "reject", "comment": "carol: identifiers"}}
        workflow.review(s, "carol", rid, Decision.REJECT, carol, comment_to_requester="too granular")
        assert workflow.get_request(s, rid).state == ExportState.CONFLICTED
        workflow.resolve(s, "rita", rid, Decision.APPROVE,
                         {f["table.csv"]: {"decision": "approve", "comment": "ok"},
                          f["ids.txt"]: {"decision": "reject", "comment": "rita: never with IDs"}}, "counts are large")
        workflow.settle(s, rid)
    page = text(browser(egress, "alice").get(f"requests/{rid}").text)
    for said in ("bob: drop the IDs", "carol: identifiers", "rita: never with IDs", "carol: not aggregated",
                 "counts are large"):
        assert said in page
    assert "fine (for reviewers)" not in page
    assert decide  # the helper module is the one the workflow tests use


def test_the_api_and_enclave_export_say_each_finding_in_the_requesters_language(store: Path, egress: Service):
    from egress_review import client

    rid = submit(store, [("t.csv", b"region,n\neast,4\nwest,120\n")])
    with egress.client() as c:
        shown = c.get(f"api/requests/{rid}", headers={"Authorization": "token alice-workspace",
                                                      "Accept-Language": "zh-CN"}).json()
    finding = shown["files"][0]["findings"][0]
    assert finding["text"] == "第 1 行 n 列：计数低于阈值 10" and "4" not in finding["text"]
    assert finding["guidance"].endswith("guidance#small-counts") and "取整" in finding["advice"]
    summary = client._summary(shown)
    assert "第 1 行 n 列：计数低于阈值 10" in summary and "guidance#small-counts" in summary


def test_a_confirming_post_without_a_decision_is_asked_again_not_recorded(store: Path, egress: Service):
    rid = submit(store)
    f = ids(rid)
    bob = browser(egress, "bob")
    page = bob.post(f"requests/{rid}/review", data={"_xsrf": xsrf(bob, f"requests/{rid}"), "confirm": "yes",
                                                     f"file-{f['table.csv']}": "approve", "decision": "maybe"})
    assert page.status_code == 403 and 'data-field="decision"' in page.text
    assert "choose a decision: approve, return or reject" in page.text
    with session_scope() as s:
        assert workflow.get_request(s, rid).reviews == []


def test_the_decision_page_shows_the_beginning_of_a_long_file_and_says_so(store: Path, egress: Service):
    rows = "".join(f"g{i},{100 + i}\n" for i in range(40))
    rid = submit(store, [("long.csv", f"group,n\n{rows}".encode())])
    page = browser(egress, "bob", "zh-CN").get(f"requests/{rid}").text
    assert "只显示了此文件的一部分：共 40 行中的前 30 行" in page
    assert ">g29<" in page and ">g30<" not in page
    assert f'href="/services/egress-review/requests/{rid}/files/' in page  # the whole file, one click away
