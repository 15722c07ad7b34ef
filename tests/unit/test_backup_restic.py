"""Backups into a real restic repository (a local path in tmp_path), restores that prove themselves.

backup -> wipe the home -> restore from the repository -> `enclave audit verify` intact; a pack file
changed in the repository, or a snapshot whose manifest was rewritten (and re-signed with another key),
is refused and leaves nothing behind; retention follows the backup policy; the repository password
never reaches a command line; the restore drill records pass and fail in the audit trail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from joserfc import jws
from joserfc.jwk import OKPKey

from egress_review import workflow
from enclave import restic
from enclave.backup import MANIFEST, SIGNATURE, STAGED
from enclave.checksums import sha256_file
from enclave.db import session_scope
from enclave.restic import Repository, ResticError, check_repository_url
from enclave.settings import REPO_ROOT, get_settings
from enclave_ops.cli import main
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def _cli(*args: str) -> tuple[int, dict | list]:
    res = CliRunner().invoke(main, [*args, "--json"])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, json.loads(res.output)


@pytest.fixture
def repo(world: Path, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A restic repository outside the home; its password and the signing key kept offline (outside it too)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("restores into a fresh SQLite home (restore() into PostgreSQL: test_backup.py)")
    offline = tmp_path / "offline"
    monkeypatch.setenv("ENCLAVE_BACKUP_REPOSITORY", str(tmp_path / "repo"))
    monkeypatch.setenv("ENCLAVE_BACKUP_PASSWORD_FILE", str(offline / "restic-password"))
    monkeypatch.setenv("ENCLAVE_BACKUP_KEY", str(offline / "backup-signing.jwk"))
    get_settings.cache_clear()
    with session_scope() as s:
        workflow.submit(s, "alice", "study", [("t.csv", b"g,n\na,120\n")], "table", get_settings().egress_store,
                        POLICY)
    return tmp_path / "repo"


def _policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **backup: object) -> None:
    """The shipped policies with the backup section changed."""
    d = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    data = yaml.safe_load((d / "backup.yaml").read_text())
    (d / "backup.yaml").write_text(yaml.safe_dump({**data, **backup}))
    monkeypatch.setenv("ENCLAVE_POLICY_DIR", str(d))
    get_settings.cache_clear()


def _flip_a_byte_in_every_data_pack(repo: Path, only_file_contents: bool = False) -> int:
    """Every pack file changed; or only those holding file contents (not directory listings), which a
    check of the repository's structure alone does not read."""
    packs = [p for p in (repo / "data").rglob("*") if p.is_file()]
    if only_file_contents:
        repository = Repository.of(get_settings())
        contents = set()
        for index_id in repository.run("list", "index").stdout.split():
            for pack in json.loads(repository.run("cat", "index", index_id).stdout)["packs"]:
                if all(b["type"] == "data" for b in pack["blobs"]):
                    contents.add(pack["id"])
        packs = [p for p in packs if p.name in contents]
    for pack in packs:
        os.chmod(pack, 0o600)
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0x01
        pack.write_bytes(bytes(data))
    return len(packs)


def test_backup_wipe_restore_and_the_audit_trail_still_verifies(repo: Path, tmp_path: Path):
    settings = get_settings()
    code, made = _cli("backup")
    assert code == 0, made
    assert made["repository"] == str(repo) and made["repository_created"] and len(made["snapshot"]) == 64
    assert (repo / "config").exists() and settings.backup_password_path.exists()
    # encrypted: the audit key, in every snapshot, is nowhere in the repository's files in clear
    audit_key = (settings.secrets_dir / "audit.key").read_bytes().strip()
    assert all(audit_key not in p.read_bytes() for p in repo.rglob("*") if p.is_file())
    code, snaps = _cli("backup", "snapshots")
    assert code == 0 and [s["id"] for s in snaps] == [made["snapshot"]]
    assert "enclave" in snaps[0]["tags"] and f"signed-by={made['signed_by']}" in snaps[0]["tags"]

    records_before = _cli("audit", "verify")[1]["records"]
    shutil.rmtree(settings.home)  # the host is lost; repository, its password and the key were elsewhere
    code, got = _cli("restore", "--snapshot", "latest", "--target", str(settings.home))
    assert code == 0 and got["ok"], got
    assert got["snapshot"] == made["snapshot"] and got["restored"] == str(settings.home)
    assert got["checked"]["store_blobs"] == 1 and got["checked"]["audit_records"] >= records_before - 1
    assert not list(tmp_path.glob(".enclave-restore-*"))  # the scratch place is gone
    code, report = _cli("audit", "verify")
    # the snapshot's records, then the restore itself, recorded in the restored trail
    assert code == 0 and report["ok"] and report["records"] == records_before + 1
    code, rebuilt = _cli("audit", "query", "--action", "backup.restore")
    assert code == 0 and [r["target"] for r in rebuilt] == [made["snapshot"]], rebuilt


def test_a_tampered_pack_file_is_refused_and_nothing_is_restored(repo: Path, tmp_path: Path):
    assert _cli("backup")[0] == 0
    assert _flip_a_byte_in_every_data_pack(repo) >= 1
    target = tmp_path / "restored"
    code, bad = _cli("restore", "--snapshot", "latest", "--target", str(target))
    assert code == 1 and not bad["ok"] and bad["restored"] is None, bad
    # `restic check` finds it first (the restore is never tried): its own report, under our prefix
    assert any(p.startswith("restic check: ") and "Pack ID does not match" in p for p in bad["problems"]), bad
    assert not target.exists() and not list(tmp_path.glob(".enclave-restore-*"))


def test_a_damaged_pack_not_in_the_checked_part_is_still_refused_by_the_restore(repo: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    """restic authenticates every blob it restores: a part of the repository the check skipped cannot slip by."""
    _policy_dir(tmp_path, monkeypatch, read_data_subset="none")
    assert _cli("backup")[0] == 0
    assert _flip_a_byte_in_every_data_pack(repo, only_file_contents=True) >= 1
    code, bad = _cli("restore", "--snapshot", "latest", "--target", str(tmp_path / "r"))
    assert code == 1 and bad["restored"] is None
    assert any("could not be read back" in p and "altered or is damaged" in p for p in bad["problems"]), bad
    assert not (tmp_path / "r").exists()


def _forge_snapshot(tmp_path: Path, resign_with: OKPKey | None) -> str:
    """What someone holding the repository password does: take the latest snapshot, change a file,
    make every checksum in backup.json match again (optionally signing it with a key of their own),
    and store it as the enclave's newest snapshot."""
    repository = Repository.of(get_settings())
    work = tmp_path / "forgery"
    repository.restore("latest", work)
    staged = work / STAGED
    policy = staged / "policies" / "egress.yaml"
    policy.write_text(policy.read_text().replace("row_cap: 5000", "row_cap: 50000000"))
    manifest = json.loads((staged / MANIFEST).read_text())
    for name, entry in manifest["files"].items():
        entry.update(sha256=sha256_file(staged / name), bytes=(staged / name).stat().st_size)
    (staged / MANIFEST).write_text(json.dumps(manifest, indent=1))
    if resign_with is not None:
        token = jws.serialize_compact({"alg": "Ed25519"}, (staged / MANIFEST).read_bytes(), resign_with,
                                      algorithms=["Ed25519"])
        (staged / SIGNATURE).write_text(jws.detach_content(token))
    return repository.backup(work, STAGED, [])


@pytest.mark.parametrize("resign", [False, True], ids=["manifest-rewritten", "re-signed-with-another-key"])
def test_a_snapshot_whose_manifest_was_rewritten_is_refused(repo: Path, tmp_path: Path, resign: bool):
    assert _cli("backup")[0] == 0
    forged = _forge_snapshot(tmp_path, OKPKey.generate_key("Ed25519") if resign else None)
    code, bad = _cli("restore", "--snapshot", "latest", "--target", str(tmp_path / "r"))
    assert code == 1 and bad["snapshot"] == forged and bad["restored"] is None, bad
    assert bad["problems"] == [bad["problems"][0]] and "signature does not verify" in bad["problems"][0]
    assert not (tmp_path / "r").exists()


def test_retention_from_the_backup_policy_forgets_and_prunes(repo: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    _policy_dir(tmp_path, monkeypatch, keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0)
    made = [_cli("backup")[1] for _ in range(3)]
    assert [m["forgotten"] for m in made] == [[], [], [made[0]["snapshot"]]]
    code, snaps = _cli("backup", "snapshots")
    assert [s["id"] for s in snaps] == [made[1]["snapshot"], made[2]["snapshot"]]
    with pytest.raises(ResticError, match="no snapshot of enclave"):
        Repository.of(get_settings()).snapshot(made[0]["snapshot"])


def test_a_policy_without_a_kept_snapshot_or_with_a_bad_read_back_part_is_refused(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    for i, (bad, named) in enumerate([({"keep_last": 0}, "keep_last"), ({"read_data_subset": "lots"}, "lots"),
                                      ({"read_data_subset": "0%"}, "0%"), ({"read_data_subset": "8/7"}, "8/7"),
                                      ({"keep_dayly": 3}, "keep_dayly")]):
        _policy_dir(tmp_path / str(i), monkeypatch, **bad)
        code, err = _cli("policy", "check")
        assert code == 2 and "backup.yaml" in err["error"] and named in err["error"], err


def test_the_repository_password_is_never_on_a_command_line_nor_in_a_snapshot(repo: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    seen: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((list(argv), dict(kwargs.get("env") or {})))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setenv("RESTIC_PASSWORD", "from-the-admins-shell")  # never handed on to restic
    monkeypatch.setattr(restic.subprocess, "run", recording_run)
    assert _cli("backup")[0] == 0
    assert _cli("backup", "drill")[0] == 0
    settings = get_settings()
    password = settings.backup_password_path.read_text().strip()
    assert len(password) >= 32 and oct(settings.backup_password_path.stat().st_mode & 0o777) == "0o600"
    commands = {argv[2] for argv, _ in seen}
    assert {"init", "backup", "forget", "check", "restore"} <= commands
    assert all(password not in arg for argv, _ in seen for arg in argv)
    assert all(env["RESTIC_PASSWORD_FILE"] == str(settings.backup_password_path) and "RESTIC_PASSWORD" not in env
               for _, env in seen)
    # neither the password nor the signing key travels inside the snapshot
    Repository.of(settings).restore("latest", tmp_path / "look")
    private = json.loads(settings.backup_signing_key.read_text())["d"].encode()
    files = [p.read_bytes() for p in (tmp_path / "look").rglob("*") if p.is_file()]
    assert files and all(password.encode() not in b and private not in b for b in files)


def test_the_drill_records_pass_and_fail_in_the_audit_trail(repo: Path, tmp_path: Path):
    made = _cli("backup")[1]
    code, ok = _cli("backup", "drill")
    assert code == 0 and ok["drill"] == "pass" and ok["snapshot"] == made["snapshot"], ok
    assert ok["checked"]["audit_records"] > 5 and ok["scratch_removed"]
    _flip_a_byte_in_every_data_pack(repo)
    code, failed = _cli("backup", "drill")
    assert code == 1 and failed["drill"] == "fail" and failed["problems"], failed
    code, rows = _cli("audit", "query", "--action", "backup.drill")
    assert code == 0 and [(r["target"], json.loads(r["details"])["outcome"] if isinstance(r["details"], str)
                           else r["details"]["outcome"]) for r in rows] == [(made["snapshot"], "pass"),
                                                                              (made["snapshot"], "fail")]
    assert not [p for p in get_settings().home.iterdir() if p.name.startswith((".enclave-drill-", ".backup-"))]
    code, report = _cli("audit", "verify")
    assert code == 0 and report["ok"]


def test_a_drill_with_no_snapshot_fails_and_says_why(repo: Path):
    assert _cli("backup", "init", "--check")[1]["created"] is True  # Ansible's check mode: nothing made
    assert not get_settings().backup_password_path.exists() and not repo.exists()
    assert _cli("backup", "init")[1]["created"] is True
    assert _cli("backup", "init", "--check")[1]["created"] is False
    assert _cli("backup", "init")[1]["created"] is False
    code, failed = _cli("backup", "drill")
    assert code == 1 and failed["drill"] == "fail" and "holds no snapshot" in failed["problems"][0]


@pytest.mark.parametrize(("url", "message"), [
    ("", "no backup repository configured"),
    ("backups/restic", "must be an absolute path"),
    ("rest:http://host:8000/", "unsupported"),
    ("s3:https://AKIA:secret@minio.internal/bucket", "holds a password"),
    ("sftp://backup:hunter2@vault.internal//srv/restic", "holds a password"),
])
def test_a_repository_location_that_is_missing_relative_unsupported_or_holds_a_secret_is_refused(url: str,
                                                                                                message: str):
    with pytest.raises(ResticError, match=message) as err:
        check_repository_url(url)
    assert "secret" not in str(err.value) and "hunter2" not in str(err.value)


def test_supported_repository_locations_are_accepted():
    for url in ("/srv/restic", "sftp:backup@vault.internal:/srv/restic", "s3:https://minio.internal/enclave",
                "s3:s3.amazonaws.com/bucket/enclave"):
        assert check_repository_url(url) == url


def test_backup_without_a_configured_repository_says_how_to_configure_one(world: Path):
    code, err = _cli("backup")
    assert code == 2 and "ENCLAVE_BACKUP_REPOSITORY" in err["error"]


def test_a_wrong_repository_password_is_named(repo: Path):
    assert _cli("backup")[0] == 0
    get_settings().backup_password_path.write_text("not-the-password\n")
    code, err = _cli("restore", "--snapshot", "latest", "--target", "/tmp/never-used-enclave-target")
    assert code == 2 and "does not open the backup repository" in err["error"]
