"""The import airlock: who may bring a file in and who reviews it, the checks (ClamAV with a signature database
this test writes, type by content, size, personal data), delivery into the project's imports folder, and the
trail; then the pages on the governance service over real HTTP."""

from __future__ import annotations

import io
import json
import shutil
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from jupyterhub.services.auth import HubOAuth
from sqlalchemy import select

from enclave.db import session_scope
from enclave.errors import InvalidTransition, NotAllowed
from enclave.models import AuditEvent, ProjectState
from enclave.projects import add_member, create_project, today, transition, upsert_user
from enclave.settings import GOVERNANCE_PREFIX, REPO_ROOT, get_settings
from governance import service
from imports import checks, workflow
from imports.i18n import finding_in, reason_in
from imports.models import ImportState
from policies import load_policies
from policies.schema import ImportPolicy
from tests.import_files import EICAR, ICD_MAPPING, SIGNATURE, resident_id_csv, write_eicar_database
from tests.unit.conftest import hub_service
from tests.unit.test_governance_service import Client

pytestmark = pytest.mark.skipif(shutil.which("clamscan") is None, reason="clamscan (Debian clamav) is not installed")


@pytest.fixture
def airlock(enclave_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Project `study` (active): alice (PI) and erin members; bob and erin import stewards; dave in no project.
    The ClamAV database is the EICAR one this test writes. Returns the policy folder."""
    policy_dir = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policy_dir)
    (policy_dir / "imports.yaml").write_text("allowed_types: [csv, tsv, text, json, parquet]\nmax_file_bytes: 4096\n"
                                             "personal_data: review\nstewards: [bob, erin]\n")
    write_eicar_database(tmp_path / "clamav")
    monkeypatch.setenv("ENCLAVE_POLICY_DIR", str(policy_dir))
    monkeypatch.setenv("ENCLAVE_CLAMAV_DB_DIR", str(tmp_path / "clamav"))
    get_settings.cache_clear()
    with session_scope() as s:
        for name, roles in [("alice", ["researcher"]), ("erin", ["researcher"]), ("dave", ["researcher"]),
                            ("bob", ["reviewer"])]:
            upsert_user(s, "admin", name, roles=roles)
        create_project(s, "admin", slug="study", title="study", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        add_member(s, "admin", "study", "erin")
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
    return policy_dir


def policy() -> ImportPolicy:
    return load_policies(get_settings().policy_dir).imports


def actions(action: str) -> list[AuditEvent]:
    with session_scope() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def details(ev: AuditEvent) -> dict[str, Any]:
    return json.loads(ev.details)


def bring(name: str, data: bytes, who: str = "alice", purpose: str = "code list for the outcome") -> tuple[int, str]:
    with session_scope() as s:
        req = workflow.submit(s, get_settings(), policy(), who, "study", name, data, purpose)
        return req.id, req.state.value


def reasons(import_id: int) -> list[str]:
    with session_scope() as s:
        return [f["reason"] for f in workflow.get_import(s, import_id).findings]


def delivered(import_id: int, name: str) -> Path:
    return get_settings().imports_dir("study") / str(import_id) / name


# --- the checks and what becomes of the file ---------------------------------------------------------------

def test_a_clean_icd_mapping_is_released_read_only_into_the_projects_imports_and_recorded(airlock: Path):
    import_id, state = bring("icd10_ccs.csv", ICD_MAPPING)
    assert state == "released" and reasons(import_id) == []
    path = delivered(import_id, "icd10_ccs.csv")
    assert path.read_bytes() == ICD_MAPPING
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o555
    [ev] = actions("import.deliver")
    assert (ev.actor, ev.project, ev.target) == ("alice", "study", f"import:{import_id}")
    assert details(ev)["sha256"] == checks.sha256_of(ICD_MAPPING) and details(ev)["size"] == len(ICD_MAPPING)
    assert details(ev)["name"] == "icd10_ccs.csv"
    assert not any(get_settings().imports_staging.iterdir())  # nothing left waiting


def test_the_eicar_test_file_is_blocked_by_clamav_and_discarded(airlock: Path):
    import_id, state = bring("notes.txt", EICAR)
    assert state == "blocked"
    assert reasons(import_id) == [f"ClamAV found {SIGNATURE}.UNOFFICIAL"]
    assert not delivered(import_id, "notes.txt").exists()
    assert not any(get_settings().imports_staging.iterdir())
    [ev] = actions("import.blocked")
    assert "ClamAV found" in details(ev)["reasons"][0]
    [sub] = actions("import.submit")
    assert details(sub)["sha256"] == checks.sha256_of(EICAR) and details(sub)["outcome"] == "block"


def test_without_a_signature_database_every_import_is_blocked_with_the_reason(airlock: Path,
                                                                             monkeypatch: pytest.MonkeyPatch,
                                                                             tmp_path: Path):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("ENCLAVE_CLAMAV_DB_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    import_id, state = bring("icd10_ccs.csv", ICD_MAPPING)
    assert state == "blocked"
    [reason] = reasons(import_id)
    assert "not scanned for viruses" in reason and str(tmp_path / "empty") in reason


def test_a_broken_signature_database_blocks_rather_than_passes(airlock: Path, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.hdb").write_text("not a signature line\n")
    monkeypatch.setenv("ENCLAVE_CLAMAV_DB_DIR", str(tmp_path / "bad"))
    get_settings.cache_clear()
    import_id, state = bring("icd10_ccs.csv", ICD_MAPPING)
    assert state == "blocked" and "clamscan failed" in reasons(import_id)[0]


def test_a_csv_of_resident_id_numbers_is_held_for_a_steward_not_delivered(airlock: Path):
    import_id, state = bring("cohort_ids.csv", resident_id_csv())
    assert state == "held"
    assert reasons(import_id) == ["personal identifiers found: CN_RESIDENT_ID ×20"]
    assert not delivered(import_id, "cohort_ids.csv").exists()
    assert actions("import.held") and not actions("import.deliver")


def test_personal_data_is_blocked_when_the_policy_says_block(airlock: Path):
    path = airlock / "imports.yaml"
    path.write_text(path.read_text().replace("personal_data: review", "personal_data: block"))
    _id, state = bring("cohort_ids.csv", resident_id_csv())
    assert state == "blocked"


def test_personal_data_in_a_parquet_table_is_found_too(airlock: Path):
    buf = io.BytesIO()
    pl.DataFrame({"id": resident_id_csv(3).decode().splitlines()[1:]}).write_parquet(buf)
    import_id, state = bring("ids.parquet", buf.getvalue())
    assert state == "held" and "CN_RESIDENT_ID" in reasons(import_id)[0]


@pytest.mark.parametrize("name, data, reason", [
    ("tool.csv", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "its content is executable"),
    ("table.csv", b"PK\x03\x04" + b"\x00" * 40, "its content is zip"),
    ("random.txt", bytes(range(256)) * 4, "its content is binary"),
    ("table.csv", b"just one sentence, no table\nand another line\nwith, two, commas\n",
     "the name ends in .csv but the content is text"),
    ("empty.csv", b"", "the file is empty"),
    ("big.csv", b"a,b\n" + b"1,2\n" * 2000, "above the limit of 4096 bytes"),
])
def test_wrong_types_and_sizes_are_blocked_naming_the_rule(airlock: Path, name: str, data: bytes, reason: str):
    import_id, state = bring(name, data)
    assert state == "blocked"
    assert any(reason in r for r in reasons(import_id)), reasons(import_id)


def test_review_every_import_holds_even_a_clean_file(airlock: Path):
    path = airlock / "imports.yaml"
    path.write_text(path.read_text() + "review_every_import: true\n")
    _id, state = bring("icd10_ccs.csv", ICD_MAPPING)
    assert state == "held"


def test_a_names_path_and_hidden_dot_are_dropped(airlock: Path):
    import_id, _state = bring("../../etc/.icd map.csv", ICD_MAPPING)
    assert delivered(import_id, "icd_map.csv").is_file()


# --- who may ---------------------------------------------------------------------------------------------

def test_a_non_member_cannot_import_into_the_project_and_the_refusal_is_audited(airlock: Path):
    with pytest.raises(NotAllowed, match="not a member of project 'study'"):
        bring("icd10_ccs.csv", ICD_MAPPING, who="dave")
    [ev] = actions("import.refused")
    assert ev.actor == "dave" and "not a member" in details(ev)["reason"]


def test_an_import_needs_a_purpose(airlock: Path):
    with pytest.raises(NotAllowed, match="give a purpose"):
        bring("icd10_ccs.csv", ICD_MAPPING, purpose=" ")


def test_a_steward_approves_a_held_file_and_it_is_delivered(airlock: Path):
    import_id, _ = bring("cohort_ids.csv", resident_id_csv())
    with session_scope() as s:
        workflow.approve(s, get_settings(), policy(), "bob", import_id, "linkage key table agreed with the DPO")
    assert delivered(import_id, "cohort_ids.csv").read_bytes() == resident_id_csv()
    [ev] = actions("import.deliver")
    assert ev.actor == "bob" and details(ev)["requester"] == "alice"
    with session_scope() as s:
        req = workflow.get_import(s, import_id)
        assert (req.state, req.decided_by) == (ImportState.RELEASED, "bob")


def test_a_steward_refuses_with_a_reason_and_the_file_is_discarded(airlock: Path):
    import_id, _ = bring("cohort_ids.csv", resident_id_csv())
    with session_scope() as s, pytest.raises(NotAllowed, match="give a reason"):
        workflow.refuse(s, get_settings(), policy(), "bob", import_id, "")
    with session_scope() as s:
        workflow.refuse(s, get_settings(), policy(), "bob", import_id, "identifiers do not enter this project")
    assert not (get_settings().imports_staging / str(import_id)).exists()
    assert not delivered(import_id, "cohort_ids.csv").exists()


def test_a_steward_cannot_review_their_own_import(airlock: Path):
    import_id, _ = bring("cohort_ids.csv", resident_id_csv(), who="erin")
    with session_scope() as s, pytest.raises(NotAllowed, match="nobody reviews their own import"):
        workflow.approve(s, get_settings(), policy(), "erin", import_id, "mine")
    [ev] = actions("import.decide.refused")
    assert ev.actor == "erin"


def test_only_stewards_review_and_only_held_imports(airlock: Path):
    import_id, _ = bring("cohort_ids.csv", resident_id_csv())
    with session_scope() as s, pytest.raises(NotAllowed, match="only import stewards"):
        workflow.approve(s, get_settings(), policy(), "alice", import_id, "")
    clean_id, _ = bring("icd10_ccs.csv", ICD_MAPPING)
    with session_scope() as s, pytest.raises(InvalidTransition, match="is released"):
        workflow.approve(s, get_settings(), policy(), "bob", clean_id, "")


# --- in the reader's language ----------------------------------------------------------------------------

def test_every_check_reason_has_a_zh_cn_sentence(airlock: Path):
    bring("notes.txt", EICAR)
    bring("cohort_ids.csv", resident_id_csv())
    bring("tool.csv", b"\x7fELF" + b"\x00" * 10)
    with session_scope() as s:
        found = [f for r in workflow.held(s) + [workflow.get_import(s, 1), workflow.get_import(s, 3)]
                 for f in r.findings]
    assert len(found) >= 3
    for f in found:
        zh = finding_in(f, "zh-CN")
        assert zh != f["reason"] and any("\u4e00" <= c <= "\u9fff" for c in zh), f
    assert "不是项目" in reason_in(NotAllowed("you are not a member of project '{slug}'", slug="x").text, "zh-CN")


# --- the pages on the governance service ---------------------------------------------------------------------

PEOPLE = ("alice", "erin", "dave", "bob")


@pytest.fixture
def pages(airlock: Path, own_hub_auth: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The governance service in this process, the hub's token check replaced by a table of PEOPLE."""
    settings = get_settings()
    tokens = {f"{n}-token": {"name": n, "kind": "user", "scopes": [service.SERVICE_ACCESS]} for n in PEOPLE}
    with hub_service(service, monkeypatch, tokens) as port:
        base, cookie = f"http://127.0.0.1:{port}{GOVERNANCE_PREFIX}", HubOAuth().cookie_name
        secret = bytes.fromhex(settings.secret("governance-cookie"))
        yield lambda user, lang="en": Client(base, cookie, secret, user, lang)


def upload(client: Any, name: str, data: bytes, project: str = "study", purpose: str = "ICD-10 to CCS") -> Any:
    return client.post("imports", {"project": project, "purpose": purpose}, files={"file": (name, data)})


def test_a_researcher_uploads_on_the_page_and_reads_the_outcome_in_both_languages(pages: Any):
    alice = pages("alice")
    form = alice.get("imports")
    assert form.status_code == 200 and 'id="import-form"' in form.text and "<script" not in form.text
    r = upload(alice, "icd10_ccs.csv", ICD_MAPPING)
    assert r.status_code == 302, r.text
    page = alice.get(r.headers["Location"].removeprefix(GOVERNANCE_PREFIX))
    assert 'data-state="released"' in page.text and "/workspace/imports/" in page.text
    r = upload(alice, "notes.txt", EICAR)
    zh = pages("alice", "zh-CN").get(r.headers["Location"].removeprefix(GOVERNANCE_PREFIX)).text
    assert 'data-state="blocked"' in zh and "病毒扫描检出" in zh and 'lang="zh-CN"' in zh


def test_the_upload_form_refuses_without_a_file_or_for_a_project_one_is_not_in(pages: Any):
    r = pages("alice").post("imports", {"project": "study", "purpose": "x"})
    assert r.status_code == 400 and "choose a file" in r.text
    dave = pages("dave")
    assert 'id="no-project"' in dave.get("imports").text
    r = upload(dave, "icd10_ccs.csv", ICD_MAPPING)
    assert r.status_code == 403 and "not a member" in r.text
    assert "您不是项目" in pages("dave", "zh-CN").post(
        "imports", {"project": "study", "purpose": "x"}, files={"file": ("a.csv", ICD_MAPPING)}).text


def test_a_steward_reviews_a_held_upload_on_the_page_but_never_their_own(pages: Any):
    r = upload(pages("alice"), "cohort_ids.csv", resident_id_csv())
    path = r.headers["Location"].removeprefix(GOVERNANCE_PREFIX)
    import_id = int(path.rsplit("/", 1)[1])
    assert 'id="approve"' not in pages("alice").get(path).text  # not a steward
    assert f'id="held-{import_id}"' in pages("bob").get("imports").text
    assert pages("dave").get(path).status_code == 404  # neither member nor steward
    r = pages("bob").post(f"{path}/review", {"decision": "approve", "reason": "pseudonymisation key, agreed"})
    assert r.status_code == 302
    assert 'data-state="released"' in pages("alice").get(path).text
    own = upload(pages("erin"), "more_ids.csv", resident_id_csv(5))
    own_path = own.headers["Location"].removeprefix(GOVERNANCE_PREFIX)
    assert 'id="approve"' not in pages("erin").get(own_path).text
    r = pages("erin").post(f"{own_path}/review", {"decision": "approve", "reason": "mine"})
    assert r.status_code == 403 and "nobody reviews their own import" in r.text


def test_the_hub_bounds_what_a_workspace_reports_about_a_refused_upload():
    """The report comes from inside a workspace: a long name is cut, a size that is not a count is 0, and
    anything but an object is refused."""
    from tornado.web import HTTPError

    from hub.lab_uploads import refused_upload

    assert refused_upload({"path": "w/" + "x" * 1000, "size": 12}) == ("w/" + "x" * 298, 12)
    assert refused_upload({"path": "a.csv", "size": "9999999"}) == ("a.csv", 0)
    assert refused_upload({"path": "a.csv", "size": -5}) == ("a.csv", 0)
    with pytest.raises(HTTPError):
        refused_upload(["a.csv"])
