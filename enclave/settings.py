"""Where the enclave keeps its state, read from the environment so tests can run side by side."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a whole number") from exc


EGRESS_SERVICE = "egress-review"
# The one uid and gid researchers' processes run as in every workspace container (the image's
# `researcher`, images/workspace/Dockerfile); the host reads export files as this user, never as root.
WORKSPACE_UID = 1000
WORKSPACE_GID = 1000
# Where the hub API, the export service, the IdP and the proxy API listen: plain HTTP stays on the host.
# Workspaces reach the first two at their gateway address, redirected here (hub.network).
INTERNAL_ADDRESS = "127.0.0.1"
EGRESS_PREFIX = f"/services/{EGRESS_SERVICE}/"


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    policy_dir: Path
    public_port: int = 8000
    hub_api_port: int = 8081
    idp_port: int = 9000
    proxy_api_port: int = 8001
    egress_port: int = 8082
    image: str = "enclave-workspace:latest"
    tls_cert: str = ""
    tls_key: str = ""
    instance: str = "enclave"
    backup_key_file: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def projects_dir(self) -> Path:
        return self.home / "projects"

    def workspace_dir(self, slug: str) -> Path:
        """Where a project's `/workspace` is on the host: the mount point of its own filesystem."""
        return self.projects_dir / slug / "workspace"

    def workspace_image(self, slug: str) -> Path:
        """The sparse ext4 image holding that filesystem; its size is the project's disk quota."""
        return self.projects_dir / slug / "workspace.img"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def egress_store(self) -> Path:
        """Content-addressed copies of every file ever requested for export (never mounted anywhere)."""
        return self.home / "egress" / "store"

    @property
    def egress_staging(self) -> Path:
        """Where a request's files wait, on the host and root-only, between the workspace and the checks."""
        return self.home / "egress" / "incoming"

    @property
    def backup_signing_key(self) -> Path:
        """Private key that signs backups; never copied into one (keep an offline copy to restore elsewhere)."""
        return Path(self.backup_key_file) if self.backup_key_file else self.secrets_dir / "backup-signing.jwk"

    @property
    def audit_anchor(self) -> Path:
        return self.home / "audit" / "head.json"

    @property
    def internal_address(self) -> str:
        """Where the plain-HTTP services (hub API, export service, IdP, proxy API) listen."""
        return INTERNAL_ADDRESS

    @property
    def public_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://127.0.0.1:{self.public_port}"

    @property
    def idp_url(self) -> str:
        return f"http://127.0.0.1:{self.idp_port}"

    def secret(self, name: str, nbytes: int = 32) -> str:
        """A persistent random secret, created on first use and readable only by root."""
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        path = self.secrets_dir / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(nbytes))
        return path.read_text().strip()


def load_settings() -> Settings:
    home = Path(os.environ.get("ENCLAVE_HOME", str(REPO_ROOT / "var"))).resolve()
    db_url = os.environ.get("ENCLAVE_DB_URL") or f"sqlite:///{home / 'enclave.sqlite'}"
    return Settings(
        home=home,
        db_url=db_url,
        policy_dir=Path(os.environ.get("ENCLAVE_POLICY_DIR", str(REPO_ROOT / "policies"))).resolve(),
        public_port=_env_int("ENCLAVE_PUBLIC_PORT", 8000),
        hub_api_port=_env_int("ENCLAVE_HUB_API_PORT", 8081),
        idp_port=_env_int("ENCLAVE_IDP_PORT", 9000),
        proxy_api_port=_env_int("ENCLAVE_PROXY_API_PORT", 8001),
        egress_port=_env_int("ENCLAVE_EGRESS_PORT", 8082),
        image=os.environ.get("ENCLAVE_IMAGE", "enclave-workspace:latest"),
        tls_cert=os.environ.get("ENCLAVE_TLS_CERT", ""),
        tls_key=os.environ.get("ENCLAVE_TLS_KEY", ""),
        instance=os.environ.get("ENCLAVE_INSTANCE", "enclave"),
        backup_key_file=os.environ.get("ENCLAVE_BACKUP_KEY", ""),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
