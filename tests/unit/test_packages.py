"""Approved packages: who may ask and decide, refused names and typosquats, the trail, and the wheelhouse
builder's checks (wheels only, hashes, size), all against wheels built here into a local folder (no network)."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tarfile
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from enclave.db import session_scope
from enclave.errors import InvalidTransition, NotAllowed
from enclave.models import AuditEvent, ProjectState
from enclave.projects import create_project, today, transition, upsert_user
from enclave.settings import REPO_ROOT, get_settings
from packages import rules, workflow
from packages.i18n import reason_zh
from packages.models import RequestState
from packages.wheelhouse import BuildError, build, fetch_one
from policies import load_policies
from policies.schema import PackagePolicy


def make_wheel(folder: Path, name: str, version: str, payload: str = "", requires: tuple[str, ...] = ()) -> Path:
    """A minimal, valid pure-Python wheel (what pip download accepts from --find-links)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    files = {f"{name}/__init__.py": f"VALUE = {payload!r}\n",
             f"{dist}/METADATA": meta,
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    out = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return out


def make_sdist(folder: Path, name: str, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}-{version}.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return out


def local_index(folder: Path) -> list[str]:
    return ["--no-index", "--find-links", str(folder)]


@pytest.fixture
def pkg_world(enclave_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """alice (researcher, PI of `study`, also a package steward), bob (steward), dave (researcher, no project);
    a copy of the policies whose allow-list is one local package, `tinystat`. Returns the policy folder."""
    policy_dir = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policy_dir)
    (policy_dir / "packages.yaml").write_text(
        "# allow-list for the test\npython:\n  tinystat: {version: \"1.0\"}\n"
        "refused_names: [evilpkg]\ntop_names: [requests]\nstewards: [bob, alice]\nmax_file_bytes: 100000\n")
    monkeypatch.setenv("ENCLAVE_POLICY_DIR", str(policy_dir))
    get_settings.cache_clear()
    with session_scope() as s:
        for name in ("alice", "bob", "dave"):
            upsert_user(s, "admin", name, roles=["researcher"])
        create_project(s, "admin", slug="study", title="study", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
    return policy_dir


def policy() -> PackagePolicy:
    return load_policies(get_settings().policy_dir).packages


def actions(action: str) -> list[AuditEvent]:
    with session_scope() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def ask(who: str, spec: str, reason: str = "survival curves", project: str = "study") -> int:
    with session_scope() as s:
        return workflow.request_package(s, policy(), who, project, spec, reason).id


# --- rules ---------------------------------------------------------------------------------------------

def test_a_member_requests_a_package_and_the_request_is_audited(pkg_world: Path):
    rid = ask("alice", "Tiny_Other==2.0")
    with session_scope() as s:
        req = workflow.get_request(s, rid)
        assert (req.name, req.version, req.state) == ("tiny-other", "2.0", RequestState.REQUESTED)
    [ev] = actions("package.request")
    assert (ev.actor, ev.project, ev.target) == ("alice", "study", f"package-request:{rid}")


def test_a_non_member_cannot_request_for_the_project_and_the_refusal_is_audited(pkg_world: Path):
    with pytest.raises(NotAllowed, match="not a member of project 'study'"):
        ask("dave", "tinyother")
    [ev] = actions("package.request.refused")
    assert ev.actor == "dave" and "not a member" in ev.details


def test_a_request_needs_a_reason(pkg_world: Path):
    with pytest.raises(NotAllowed, match="give a reason"):
        ask("alice", "tinyother", reason="  ")


@pytest.mark.parametrize("spec, rule", [("evilpkg", "refused list"), ("EvIl_Pkg", "refused list"),
                                        ("reqeusts", "typosquat of 'requests'"),
                                        ("tinystatt", "typosquat of 'tinystat'"),
                                        ("tinystat-x", "typosquat of 'tinystat'")])
def test_refused_names_and_typosquats_are_refused_naming_the_rule(pkg_world: Path, spec: str, rule: str):
    with pytest.raises(NotAllowed, match=rule):
        ask("alice", spec)
    [ev] = actions("package.request.refused")
    assert rule in ev.details
    with session_scope() as s:
        assert workflow.list_requests(s) == []


def test_names_far_from_every_known_name_are_not_typosquats():
    p = PackagePolicy.model_validate({"python": {"pandas": {"version": "2.2.3"}}, "top_names": ["six", "requests"]})
    for name in ("polars", "pyarrow", "sklearn", "tqdm", "pandas", "requests", "six", "mypy"):
        assert rules.refused_name_reason(name, p) == "", name
    assert rules.typosquat_of("sixx", p) == "six"  # short names: one edit
    assert rules.typosquat_of("sx", p) == "six"
    assert rules.typosquat_of("pamdsa", p) == ""  # three edits from pandas
    assert rules.typosquat_of("pandsa", p) == "pandas"  # two


def test_an_allow_listed_package_or_a_second_open_request_is_not_requested_again(pkg_world: Path):
    with pytest.raises(NotAllowed, match="already approved"):
        ask("alice", "tinystat")
    ask("alice", "tinyother")
    with pytest.raises(NotAllowed, match="already requested in project 'study'"):
        ask("alice", "TinyOther")


def test_a_spec_that_is_not_name_or_name_equals_version_is_refused(pkg_world: Path):
    for spec in ("tiny>=1", "https://evil.example/x.whl", "../x", "tiny==1 --index-url x"):
        with pytest.raises(NotAllowed, match="not a Python package name|not a version"):
            ask("alice", spec)


def test_only_a_steward_decides_and_never_on_their_own_request(pkg_world: Path):
    rid = ask("alice", "tinyother==1.0")
    with session_scope() as s:
        with pytest.raises(NotAllowed, match="only package stewards"):
            workflow.refuse(s, policy(), "dave", rid, "no")
        with pytest.raises(NotAllowed, match="nobody decides their own"):
            workflow.refuse(s, policy(), "alice", rid, "no")
        req = workflow.get_request(s, rid)
        assert rules.can_decide(policy(), "bob", req)
        assert not rules.can_decide(policy(), "alice", req) and not rules.can_decide(policy(), "dave", req)
    assert [e.actor for e in actions("package.decide.refused")] == ["dave", "alice"]


def test_a_steward_refuses_with_a_reason_and_a_decided_request_is_not_decided_again(pkg_world: Path):
    rid = ask("alice", "tinyother==1.0")
    with session_scope() as s, pytest.raises(NotAllowed, match="give a reason"):
        workflow.refuse(s, policy(), "bob", rid, " ")
    with session_scope() as s:
        req = workflow.refuse(s, policy(), "bob", rid, "use scipy.stats instead")
        assert (req.state, req.decided_by) == (RequestState.REFUSED, "bob")
    with session_scope() as s, pytest.raises(InvalidTransition, match="already refused"):
        workflow.refuse(s, policy(), "bob", rid, "again")
    [ev] = actions("package.refuse")
    assert ev.actor == "bob" and "scipy.stats" in ev.details


def test_a_name_refused_after_the_request_cannot_be_approved(pkg_world: Path):
    rid = ask("alice", "tinyother==1.0")
    text = (pkg_world / "packages.yaml").read_text().replace("[evilpkg]", "[evilpkg, tinyother]")
    (pkg_world / "packages.yaml").write_text(text)
    with session_scope() as s, pytest.raises(NotAllowed, match="refused list"):
        workflow.approve(s, get_settings(), policy(), "bob", rid, "ok")


# --- approval fetches into the wheelhouse ------------------------------------------------------------------

def test_an_approved_request_joins_the_allow_list_and_its_wheel_is_fetched_and_hashed(pkg_world: Path,
                                                                                      tmp_path: Path):
    wheel = make_wheel(tmp_path / "index", "tinyother", "1.0")
    rid = ask("alice", "tinyother==1.0")
    with session_scope() as s:
        req = workflow.approve(s, get_settings(), policy(), "bob", rid, "fine",
                               index_args=local_index(tmp_path / "index"))
        assert (req.state, req.fetch) == (RequestState.APPROVED, "ok")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (get_settings().wheelhouse_dir / wheel.name).read_bytes() == wheel.read_bytes()
    assert policy().python["tinyother"].sha256 == [digest]
    assert (pkg_world / "packages.yaml").read_text().startswith("# allow-list for the test\n")
    [fetch] = actions("package.fetch")
    assert digest in fetch.details and actions("package.approve")[0].actor == "bob"


def test_approval_without_a_version_is_refused_until_the_steward_pins_one(pkg_world: Path, tmp_path: Path):
    make_wheel(tmp_path / "index", "tinyother", "3.1")
    rid = ask("alice", "tinyother")
    with session_scope() as s, pytest.raises(NotAllowed, match="--version"):
        workflow.approve(s, get_settings(), policy(), "bob", rid, "ok")
    with session_scope() as s:
        req = workflow.approve(s, get_settings(), policy(), "bob", rid, "ok", version="3.1",
                               index_args=local_index(tmp_path / "index"))
        assert (req.version, req.fetch) == ("3.1", "ok")


def test_a_failed_fetch_leaves_the_request_approved_with_the_reason_audited(pkg_world: Path, tmp_path: Path):
    make_sdist(tmp_path / "index", "tinyother", "1.0")
    rid = ask("alice", "tinyother==1.0")
    with session_scope() as s:
        req = workflow.approve(s, get_settings(), policy(), "bob", rid, "ok",
                               index_args=local_index(tmp_path / "index"))
        assert req.state == RequestState.APPROVED and "no wheel of tinyother" in req.fetch
    [ev] = actions("package.fetch.failed")
    assert "no wheel" in ev.details
    assert not any(get_settings().wheelhouse_dir.iterdir())


# --- the builder -------------------------------------------------------------------------------------

def test_the_builder_refuses_a_package_published_only_as_an_sdist(pkg_world: Path, tmp_path: Path):
    make_sdist(tmp_path / "index", "tinystat", "1.0")
    with pytest.raises(BuildError, match="no wheel of tinystat.*refused unless vetted"):
        fetch_one(policy(), "tinystat", tmp_path / "wh", local_index(tmp_path / "index"))
    assert not any((tmp_path / "wh").iterdir())


def test_the_builder_refuses_an_sdist_file_even_when_pip_hands_one_over(pkg_world: Path, tmp_path: Path):
    from packages.wheelhouse import check_file

    sdist = make_sdist(tmp_path / "index", "tinystat", "1.0")
    with pytest.raises(BuildError, match="only wheels are accepted"):
        check_file(policy(), "tinystat", policy().python["tinystat"], sdist)


def test_the_builder_refuses_a_wheel_whose_hash_the_allow_list_does_not_hold(pkg_world: Path, tmp_path: Path):
    make_wheel(tmp_path / "index", "tinystat", "1.0", payload="swapped")
    p = policy().model_copy(update={"python": {"tinystat": policy().python["tinystat"].model_copy(
        update={"sha256": ["0" * 64]})}})
    with pytest.raises(BuildError, match="does not match the allow-list's sha256"):
        fetch_one(p, "tinystat", tmp_path / "wh", local_index(tmp_path / "index"))
    assert not any((tmp_path / "wh").iterdir())


def test_the_builder_accepts_the_wheel_whose_hash_is_listed(pkg_world: Path, tmp_path: Path):
    wheel = make_wheel(tmp_path / "index", "tinystat", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    p = policy().model_copy(update={"python": {"tinystat": policy().python["tinystat"].model_copy(
        update={"sha256": [digest]})}})
    [got] = fetch_one(p, "tinystat", tmp_path / "wh", local_index(tmp_path / "index"))
    assert got.sha256 == digest and (tmp_path / "wh" / wheel.name).exists()


def test_the_builder_refuses_a_wheel_above_the_size_limit(pkg_world: Path, tmp_path: Path):
    make_wheel(tmp_path / "index", "tinystat", "1.0")
    p = policy().model_copy(update={"max_file_bytes": 100})
    fetched, failed = build(p, tmp_path / "wh", index_args=local_index(tmp_path / "index"))
    assert fetched == [] and "above the limit of 100 bytes" in failed["tinystat"]
    assert "超过上限" in reason_zh(failed["tinystat"])


def test_building_the_wheelhouse_fills_missing_hashes_and_audits_each_package(pkg_world: Path, tmp_path: Path):
    wheel = make_wheel(tmp_path / "index", "tinystat", "1.0", requires=(
        "Tiny_Dep>=1", "tinystat", 'colorama; sys_platform == "win32"', 'pytest; extra == "test"'))
    with session_scope() as s:
        out = workflow.build_wheelhouse(s, get_settings(), policy(), "bob", local_index(tmp_path / "index"))
    assert out["hashes_filled"] == ["tinystat"] and out["failed"] == {}
    assert out["missing_dependencies"] == {"tinystat": ["tiny-dep"]}  # not fetched: the steward approves it
    assert sorted(p.name for p in get_settings().wheelhouse_dir.iterdir()) == [wheel.name]
    assert policy().python["tinystat"].sha256 == [hashlib.sha256(wheel.read_bytes()).hexdigest()]
    assert [e.target for e in actions("package.fetch")] == ["package:tinystat"]


# --- policy and messages -----------------------------------------------------------------------------------

def test_the_shipped_allow_list_has_the_default_set_and_validates():
    p = load_policies(REPO_ROOT / "policies").packages
    assert {"pandas", "scipy", "statsmodels", "lifelines", "seaborn", "tableone"} <= set(p.python)
    assert all(rules.refused_name_reason(n, p) == "" for n in p.python)


def test_a_name_both_allowed_and_refused_is_a_policy_error():
    with pytest.raises(ValueError, match="also on the allow-list"):
        PackagePolicy.model_validate({"python": {"x-y": {"version": "1"}}, "refused_names": ["X_Y"]})
    with pytest.raises(ValueError, match="64 lower-case hex"):
        PackagePolicy.model_validate({"python": {"x": {"version": "1", "sha256": ["abc"]}}})


def test_every_refusal_reason_reads_in_chinese(pkg_world: Path):
    p = policy()
    reasons = [rules.refused_name_reason("evilpkg", p), rules.refused_name_reason("reqeusts", p),
               "nobody decides their own package request", "give a reason: what the package is for in this project",
               "give a reason: the researcher reads why the package was refused",
               "package request 3 names no version: approve it with --version (a pinned version such as 2.2.3)",
               "only package stewards (stewards in packages.yaml) approve or refuse package requests",
               "you are not a member of project 'study'", "package request 3 is already refused",
               "x==1: only wheels are accepted (x-1.tar.gz is a source distribution, which runs code when built; "
               "a steward vets it first: vetted_sdists)"]
    for r in reasons:
        assert reason_zh(r) != r, r



# --- the CLI -------------------------------------------------------------------------------------------

def test_the_cli_requests_lists_and_refuses_with_json_and_a_typosquat_is_one_clear_line(
        pkg_world: Path, monkeypatch: pytest.MonkeyPatch):
    import json

    from click.testing import CliRunner

    from enclave_ops.cli import main

    run = CliRunner().invoke
    out = run(main, ["packages", "request", "tinyother==1.0", "--project", "study", "--reason", "r", "--user",
                     "alice", "--json"])
    assert out.exit_code == 0, out.output
    rid = json.loads(out.output)["id"]
    monkeypatch.setenv("ENCLAVE_ACTOR", "bob")
    out = run(main, ["packages", "refuse", str(rid), "--reason", "use scipy", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["state"] == "refused"
    listed = json.loads(run(main, ["packages", "list", "--json"]).output)
    assert "tinystat" in listed["allowed"] and [r["state"] for r in listed["requests"]] == ["refused"]
    out = run(main, ["packages", "request", "reqeusts", "--project", "study", "--reason", "r", "--user", "alice"])
    assert out.exit_code == 2 and "typosquat of 'requests'" in out.output and "Traceback" not in out.output
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    out = run(main, ["packages", "request", "reqeusts", "--project", "study", "--reason", "r", "--user", "alice",
                     "--json"])
    assert "仿冒" in json.loads(out.output)["error"]


def test_an_approval_whose_transaction_rolls_back_leaves_the_allow_list_as_it_was(pkg_world: Path, tmp_path: Path):
    make_wheel(tmp_path / "index", "tinyother", "1.0")
    rid = ask("alice", "tinyother==1.0")
    before = (pkg_world / "packages.yaml").read_text()
    with pytest.raises(RuntimeError), session_scope() as s:
        workflow.approve(s, get_settings(), policy(), "bob", rid, "fine", index_args=local_index(tmp_path / "index"))
        assert "tinyother" in policy().python  # written while the transaction is open...
        raise RuntimeError("the database went away before the commit")
    assert (pkg_world / "packages.yaml").read_text() == before  # ...and taken back with it
    with session_scope() as s:
        assert workflow.get_request(s, rid).state == RequestState.REQUESTED and not actions("package.approve")
        workflow.approve(s, get_settings(), policy(), "bob", rid, "fine", index_args=local_index(tmp_path / "index"))
    assert "tinyother" in policy().python  # a committed approval keeps its entry
