"""Demo data for `make up`: users in the demo IdP, a project, and a synthetic de-identified dataset."""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from datasets_mount.ingest import import_root, ingest
from datasets_mount.synthetic import write_cohort
from enclave.db import session_scope
from enclave.models import Dataset, MemberRole, Project, ProjectState
from enclave.projects import add_member, approve_dataset, create_project, today, transition, upsert_user
from enclave.settings import Settings
from enclave_demo.idp import hash_password
from policies import Policies

DEMO_USERS: list[dict[str, Any]] = [
    {"username": "alice", "name": "Alice Li 李爱丽", "groups": ["researcher"]},
    {"username": "bob", "name": "Bob Wang 王博", "groups": ["reviewer"]},
    {"username": "carol", "name": "Carol Zhang 张卡", "groups": ["reviewer"]},
    {"username": "admin", "name": "Dana Admin 管理员", "groups": ["admin"]},
    {"username": "audrey", "name": "Audrey Chen 陈审计", "groups": ["auditor"]},
]
DEMO_INSTITUTION = "Demo University Hospital 演示大学附属医院"
DEMO_PROJECT = "demo-diabetes"
DEMO_DATASET = ("cohort", "v1")


def idp_config_path(settings: Settings) -> Path:
    return settings.home / "idp" / "config.json"


def logins_path(settings: Settings) -> Path:
    return settings.secrets_dir / "demo-logins.json"


def demo_logins(settings: Settings) -> dict[str, str]:
    """Demo passwords, generated once per installation (never fixed in the code)."""
    path = logins_path(settings)
    logins: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for u in DEMO_USERS:
        if u["username"] not in logins:
            logins[u["username"]] = secrets.token_urlsafe(9)
            changed = True
    if changed:
        settings.secret("audit.key")  # makes the secrets folder with its permissions
        path.write_text(json.dumps(logins, indent=1))
        path.chmod(0o600)
    return logins


def write_idp_config(settings: Settings, extra_users: list[dict[str, Any]] | None = None) -> Path:
    """The demo IdP's users and the hub's client registration."""
    logins = demo_logins(settings)
    users = {}
    for u in DEMO_USERS + (extra_users or []):
        password = u.get("password") or logins[u["username"]]
        users[u["username"]] = {"password": hash_password(password), "name": u["name"],
                                "email": f"{u['username']}@example.org", "groups": u["groups"],
                                "institution": u.get("institution", DEMO_INSTITUTION)}
    cfg = {
        "issuer": settings.oidc_issuer,
        "key_file": str(settings.secrets_dir / "idp-signing-key.json"),
        "users": users,
        "clients": {settings.oidc_client_id: {"secret": settings.oidc_client_secret(),
                                    "redirect_uris": [f"{settings.public_url}/hub/oauth_callback"],
                                    "post_logout_redirect_uris": [f"{settings.public_url}/hub/login"]}},
    }
    path = idp_config_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg, indent=1, ensure_ascii=False))
    path.chmod(0o600)
    return path


# The EICAR anti-virus test file, assembled from two halves so that this source file is not itself the signature.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Enclave.Test.EICAR"


def write_eicar_database(folder: Path) -> Path:
    """A ClamAV database that knows exactly one signature, the EICAR test file's hash (a one-line .hdb,
    md5:size:name): written from code, never downloaded."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "enclave-test.hdb"
    db.write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:{EICAR_SIGNATURE}\n")  # noqa: S324 - ClamAV's format
    return db


def _demo_virus_signatures(settings: Settings) -> None:
    """The demo's stand-in for the operator's ClamAV database, so the import airlock scans in `make up`.

    Written only where no database is configured or present: a production host names its own
    (ENCLAVE_CLAMAV_DB_DIR, refreshed from the site's mirror) and the demo never replaces it.
    """
    folder = settings.clamav_db_dir
    if settings.clamav_db_setting or (folder.is_dir() and any(folder.iterdir())):
        return
    write_eicar_database(folder)


def seed(settings: Settings, policies: Policies, actor: str = "demo-seed") -> dict[str, Any]:
    """Create the demo users, dataset and project; running it again changes nothing."""
    _demo_virus_signatures(settings)
    with session_scope() as s:
        for u in DEMO_USERS:
            upsert_user(s, actor, u["username"], display_name=u["name"], email=f"{u['username']}@example.org",
                        roles=u["groups"])
        name, version = DEMO_DATASET
        if not s.execute(select(Dataset).where(Dataset.name == name, Dataset.version == version)).first():
            # through the same checks as any steward's data
            imports = import_root(settings, policies)
            imports.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=imports) as tmp:
                write_cohort(Path(tmp), rows=20000)
                ingest(s, actor, settings, policies, Path(tmp), name=name, version=version, tier=2)
        if not s.execute(select(Project).where(Project.slug == DEMO_PROJECT)).first():
            create_project(s, actor, slug=DEMO_PROJECT, title="Diabetes outcomes (demo) 糖尿病结局研究（演示）",
                           approval_ref="DEMO-ETHICS-2026-001",
                           purpose="Demonstration: readmission after diabetes admissions",
                           pi="alice", start=today(), expiry=today() + timedelta(days=365))
            transition(s, actor, DEMO_PROJECT, ProjectState.APPROVED, "demo approval")
            add_member(s, actor, DEMO_PROJECT, "alice", MemberRole.PI)
            allowed = {t for t, tier in policies.datasets.tiers.items() if tier.allowed_in_workspaces}
            approve_dataset(s, actor, DEMO_PROJECT, name, version, allowed)
            transition(s, actor, DEMO_PROJECT, ProjectState.ACTIVE, "demo start")
    return {"project": DEMO_PROJECT, "dataset": f"{DEMO_DATASET[0]}@{DEMO_DATASET[1]}",
            "users": [u["username"] for u in DEMO_USERS]}
