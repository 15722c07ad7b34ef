"""The import airlock in a real enclave and browser: alice uploads on the governance pages (outside her
workspace), a clean ICD mapping appears read-only in her running workspace at /workspace/imports/<id>/ with no
restart, the EICAR test file is blocked by ClamAV (with a signature database this test writes), a CSV of
resident ID numbers is held until bob, the import steward, approves it; JupyterLab's own upload is closed and
the refused attempt is in the audit trail. The import pages are checked in zh-CN and en."""

from __future__ import annotations

import base64
import json

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from enclave.db import session_scope
from enclave.models import AuditEvent
from enclave_demo.data import DEMO_PROJECT
from imports.checks import sha256_of
from tests.import_files import EICAR, ICD_MAPPING, resident_id_csv, write_eicar_database
from tests.integration.conftest import Enclave, check_page, run_in, running_workspaces, signed_in

GOV = "/services/governance/"
STATE = {"en": {"released": "released", "blocked": "blocked", "held": "held"},
         "zh-CN": {"released": "已放行", "blocked": "已拦截", "held": "待审核"}}






def upload(page: Page, enclave: Enclave, name: str, data: bytes, purpose: str) -> int:
    """The researcher's upload form, as a person uses it; returns the import's number."""
    page.goto(f"{enclave.url}{GOV}imports")
    page.select_option("#project", DEMO_PROJECT)
    page.fill("#purpose", purpose)
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.click("#upload")
    page.wait_for_url(f"**{GOV}imports/*")
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def in_workspace(container: object, path: str) -> dict[str, object]:
    """What the researcher's own processes see at `path`: its bytes' sha256, and whether writing it fails."""
    return run_in(container, f"""
import hashlib, json, os
p = {path!r}
out = {{"exists": os.path.exists(p)}}
if out["exists"]:
    out["sha256"] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    try:
        open(p, "ab").close(); out["writable"] = True
    except OSError as exc:
        out["writable"] = False; out["errno"] = exc.errno
    try:
        open(os.path.join(os.path.dirname(p), "added.txt"), "w").close(); out["dir_writable"] = True
    except OSError:
        out["dir_writable"] = False
print(json.dumps(out))""")


def events(action: str) -> list[dict[str, object]]:
    with session_scope() as s:
        rows = s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
        return [{"actor": e.actor, "project": e.project, "target": e.target, **json.loads(e.details)} for e in rows]


def test_files_enter_a_running_workspace_only_through_the_checked_airlock(browser: Browser, enclave: Enclave):
    write_eicar_database(enclave.settings.clamav_db_dir)
    with running_workspaces(enclave, {"alice": DEMO_PROJECT}):
        container = enclave.container("alice")
        alice = signed_in(browser, enclave, "alice", "en")
        alice.goto(f"{enclave.url}{GOV}imports")
        check_page(alice, "en", "import form")

        # a clean ICD-10 mapping: released at once, read-only in the running workspace
        clean = upload(alice, enclave, "icd10_ccs.csv", ICD_MAPPING, "ICD-10 to CCS categories for the outcome")
        expect(alice.locator("#state")).to_have_text(STATE["en"]["released"])
        expect(alice.locator("#workspace-path")).to_have_text(f"/workspace/imports/{clean}/icd10_ccs.csv")
        check_page(alice, "en", "released import")
        seen = in_workspace(container, f"/workspace/imports/{clean}/icd10_ccs.csv")
        assert seen["exists"] and seen["sha256"] == sha256_of(ICD_MAPPING), seen
        assert seen["writable"] is False and seen["dir_writable"] is False, seen

        # the EICAR test file: blocked by ClamAV, never in the workspace
        blocked = upload(alice, enclave, "notes.txt", EICAR, "a text file")
        expect(alice.locator("#state")).to_have_text(STATE["en"]["blocked"])
        expect(alice.locator("#findings")).to_contain_text("ClamAV found Enclave.Test.EICAR")
        assert not in_workspace(container, f"/workspace/imports/{blocked}/notes.txt")["exists"]
        alice_zh = signed_in(browser, enclave, "alice", "zh-CN")
        alice_zh.goto(f"{enclave.url}{GOV}imports/{blocked}")
        expect(alice_zh.locator("#state")).to_have_text(STATE["zh-CN"]["blocked"])
        expect(alice_zh.locator("#findings")).to_contain_text("病毒扫描检出")
        check_page(alice_zh, "zh-CN", "blocked import")

        # resident ID numbers: held for the steward, then approved, and only then in the workspace
        held = upload(alice, enclave, "linkage_ids.csv", resident_id_csv(), "linkage keys agreed with the registry")
        expect(alice.locator("#state")).to_have_text(STATE["en"]["held"])
        expect(alice.locator("#findings")).to_contain_text("CN_RESIDENT_ID")
        assert not in_workspace(container, f"/workspace/imports/{held}/linkage_ids.csv")["exists"]
        expect(alice.locator("#approve")).to_have_count(0)  # not hers to review
        bob = signed_in(browser, enclave, "bob", "zh-CN")
        bob.goto(f"{enclave.url}{GOV}imports")
        check_page(bob, "zh-CN", "steward's import queue")
        bob.click(f"#held-{held} a")
        expect(bob.locator("#state")).to_have_text(STATE["zh-CN"]["held"])
        check_page(bob, "zh-CN", "held import")
        bob.fill("#reason", "registry linkage keys, agreed in the data-sharing agreement")
        bob.click("#approve")
        expect(bob.locator("#state")).to_have_text(STATE["zh-CN"]["released"])
        seen = in_workspace(container, f"/workspace/imports/{held}/linkage_ids.csv")
        assert seen["exists"] and seen["sha256"] == sha256_of(resident_id_csv()), seen

        delivered = {e["target"]: e for e in events("import.deliver")}
        assert delivered[f"import:{clean}"]["sha256"] == sha256_of(ICD_MAPPING)
        assert delivered[f"import:{clean}"]["size"] == len(ICD_MAPPING)
        assert (delivered[f"import:{held}"]["actor"], delivered[f"import:{held}"]["requester"]) == ("bob", "alice")
        assert f"import:{blocked}" not in delivered and any(e["target"] == f"import:{blocked}"
                                                             for e in events("import.blocked"))

        # JupyterLab's own upload: no button, and the contents API refuses what it would send
        alice.goto(f"{enclave.url}/user/alice/lab/tree/workspace?reset")
        toolbar = alice.locator(".jp-FileBrowser-toolbar")
        expect(toolbar.locator("[data-jp-item-name='new-launcher']")).to_have_count(1, timeout=120_000)
        expect(toolbar.locator("[data-jp-item-name='uploader']")).to_have_count(0)
        answers = alice.evaluate("""async (u) => {
            const x = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
            const put = (name, body) => fetch(u + '/api/contents/workspace/' + name, {method: 'PUT',
              headers: {'Content-Type': 'application/json', 'X-XSRFToken': x ? x.slice(6) : ''},
              body: JSON.stringify(body)}).then(async r => ({status: r.status, text: await r.text()}));
            return [await put('smuggled.csv', {type: 'file', format: 'base64', content: arguments_b64}),
                    await put('notes.txt', {type: 'file', format: 'text', content: 'my own notes'})]; }"""
                               .replace("arguments_b64", json.dumps(base64.b64encode(ICD_MAPPING).decode())),
                               "/user/alice")
        assert answers[0]["status"] == 403 and "import request" in answers[0]["text"], answers[0]
        assert answers[1]["status"] in (200, 201), answers[1]  # writing one's own text files still works
        run_in(container, "open('/workspace/own.bin', 'wb').write(bytes(range(256))); print('{}')")
        copied = alice.evaluate("""async (u) => {
            const x = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
            const r = await fetch(u + '/api/contents/workspace', {method: 'POST', headers: {'Content-Type':
              'application/json', 'X-XSRFToken': x ? x.slice(6) : ''}, body: JSON.stringify({copy_from:
              'workspace/own.bin'})}); return r.status; }""", "/user/alice")
        assert copied == 201  # copying a binary file already in the workspace is no upload
        assert not in_workspace(container, "/workspace/smuggled.csv")["exists"]
        refused = [e for e in events("import.lab-upload.refused") if e["actor"] == "alice"]
        assert refused and refused[-1]["target"] == "workspace/smuggled.csv" and refused[-1]["project"] == DEMO_PROJECT
