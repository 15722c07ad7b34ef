"""Where the enclave keeps its state, read from the environment so tests can run side by side."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from enclave.errors import EnclaveError

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_ENV = "ENCLAVE_CONFIG"


class ConfigError(EnclaveError, ValueError):
    """A setting is missing or malformed; the message names the variable (or file key) and what is wrong."""


# Every setting an operator may give, as the environment variable; the optional TOML file named by
# ENCLAVE_CONFIG uses the same names, lower-case and without the prefix (`public_url = "https://..."`).
SETTING_NAMES = (
    "ENCLAVE_HOME", "ENCLAVE_DB_URL", "ENCLAVE_POLICY_DIR", "ENCLAVE_PUBLIC_URL", "ENCLAVE_PUBLIC_PORT",
    "ENCLAVE_HUB_API_PORT", "ENCLAVE_IDP_PORT", "ENCLAVE_PROXY_API_PORT", "ENCLAVE_EGRESS_PORT",
    "ENCLAVE_IMAGE", "ENCLAVE_TLS_CERT", "ENCLAVE_TLS_KEY", "ENCLAVE_TRUSTED_PROXIES", "ENCLAVE_INSTANCE",
    "ENCLAVE_BACKUP_KEY", "ENCLAVE_OIDC_ISSUER", "ENCLAVE_OIDC_CLIENT_ID", "ENCLAVE_OIDC_CLIENT_SECRET_FILE",
    "ENCLAVE_OIDC_USERNAME_CLAIM", "ENCLAVE_OIDC_GROUPS_CLAIM", "ENCLAVE_OIDC_NAME_CLAIM",
    "ENCLAVE_OIDC_INSTITUTION_CLAIM", "ENCLAVE_BACKUP_REPOSITORY", "ENCLAVE_BACKUP_PASSWORD_FILE",
    "ENCLAVE_GOVERNANCE_PORT", "ENCLAVE_JOBS_PORT", "ENCLAVE_PACKAGES_PORT",
    "ENCLAVE_ACTIVITY_PORT",
    "ENCLAVE_HUB_DB_URL", "ENCLAVE_HUB_CONFIG_DIR",
    "ENCLAVE_CLAMAV_DB_DIR",
    "ENCLAVE_PACKAGES_FETCH_ARGS",
)


def _file_key(name: str) -> str:
    return name.removeprefix("ENCLAVE_").lower()


class _Source:
    """Values from the environment, else from the config file, else the embedded default."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.file: dict[str, Any] = {}
        self.path = env.get(CONFIG_ENV, "")
        if self.path:
            self.file = _read_config_file(Path(self.path))

    def where(self, name: str) -> str:
        """How the operator gave a setting, for error messages."""
        if self.env.get(name) or _file_key(name) not in self.file:
            return name
        return f"{_file_key(name)} in {self.path}"

    def get(self, name: str, default: str = "") -> str:
        if self.env.get(name):
            return self.env[name]
        value = self.file.get(_file_key(name))
        if value is None:
            return default
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return str(value)

    def integer(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{self.where(name)}={raw!r} is not a whole number") from exc


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{CONFIG_ENV}={path}: the configuration file does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{CONFIG_ENV}={path}: cannot read the configuration file ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_ENV}={path}: not valid TOML ({exc})") from exc
    known = {_file_key(n) for n in SETTING_NAMES}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return data


def _http_url(src: _Source, name: str, raw: str) -> str:
    """An absolute http(s) URL with a hostname and no query, fragment or credentials; no trailing slash."""
    parts = urlsplit(raw)
    problem = ""
    if parts.scheme not in ("http", "https"):
        problem = "must start with https:// or http://"
    elif not parts.hostname:
        problem = "has no hostname"
    elif parts.query or parts.fragment or parts.username or parts.password:
        problem = "must not hold a query, fragment or credentials"
    else:
        try:
            parts.port  # noqa: B018  # raises on a port that is not a number in range
        except ValueError:
            problem = "has a port that is not a number from 0 to 65535"
    if problem:
        raise ConfigError(f"{src.where(name)}={raw!r} {problem}")
    return raw.rstrip("/")


def _public_url(src: _Source, raw: str) -> str:
    url = _http_url(src, "ENCLAVE_PUBLIC_URL", raw)
    if urlsplit(url).path:
        raise ConfigError(f"{src.where('ENCLAVE_PUBLIC_URL')}={raw!r} must not hold a path: the hub is served "
                          "at the root of its hostname")
    return url


def _networks(src: _Source, name: str) -> tuple[str, ...]:
    """Addresses or networks (CIDR) given comma-separated, each checked."""
    out = []
    for item in filter(None, (x.strip() for x in src.get(name).split(","))):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ConfigError(f"{src.where(name)}: {item!r} is not an IP address or network") from exc
    return tuple(out)


def _db_url(src: _Source, name: str) -> str:
    """A SQLAlchemy database URL (sqlite:/// or postgresql+psycopg://), or "" for the default."""
    raw = src.get(name)
    if raw and not raw.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ConfigError(f"{src.where(name)}: must start with sqlite:///, postgresql:// or postgresql+psycopg:// "
                          "(a SQLAlchemy database URL)")
    return raw


def _words(src: _Source, name: str) -> tuple[str, ...]:
    """Shell words (quotes group a word with spaces); unbalanced quotes are a ConfigError, never a traceback."""
    raw = src.get(name)
    try:
        return tuple(shlex.split(raw))
    except ValueError as exc:
        raise ConfigError(f"{src.where(name)}={raw!r} is not a list of shell words ({exc})") from exc


EGRESS_SERVICE = "egress-review"
# The one uid and gid researchers' processes run as in every workspace container (the image's
# `researcher`, images/workspace/Dockerfile); the host reads export files as this user, never as root.
WORKSPACE_UID = 1000
WORKSPACE_GID = 1000
# Where the hub API, the export service, the IdP and the proxy API listen: plain HTTP stays on the host.
# Workspaces reach the first two at their gateway address, redirected here (hub.network).
INTERNAL_ADDRESS = "127.0.0.1"
EGRESS_PREFIX = f"/services/{EGRESS_SERVICE}/"
# The browser's time zone (an IANA name), set by the hub's pages (which may run script) for the service pages
# (which may not), so every page shows times in the reader's zone with the zone named.
TIME_ZONE_COOKIE = "enclave-tz"
# Catalogue, project applications and approvals, accreditation, audit pages: a hub service like egress-review.
GOVERNANCE_SERVICE = "governance"
GOVERNANCE_PREFIX = f"/services/{GOVERNANCE_SERVICE}/"
# Blind-mode jobs submitted from workspaces (jobs.service): a hub service whose JSON API workspaces call.
JOBS_SERVICE = "enclave-jobs"
JOBS_PREFIX = f"/services/{JOBS_SERVICE}/"
# Approved Python packages (packages.service): the index pip reads (/simple/) and the requests API, one port.
PACKAGES_SERVICE = "enclave-packages"
PACKAGES_PREFIX = f"/services/{PACKAGES_SERVICE}/"
# The code recorder (activity.service): workspaces post every executed cell and terminal command to it.
ACTIVITY_SERVICE = "enclave-activity"
ACTIVITY_PREFIX = f"/services/{ACTIVITY_SERVICE}/"
# Inside a workspace: where the recorder client spools records while the service does not answer.
WORKSPACE_RECORD_SPOOL = "/tmp/enclave-record"
# The labels every container the enclave starts carries, so each part finds its own (and only its own
# instance's: two enclaves share one engine in the tests) without spelling them again.
INSTANCE_LABEL = "org.enclave.instance"
PROJECT_LABEL = "org.enclave.project"  # a workspace: the project it belongs to
USER_LABEL = "org.enclave.user"  # a workspace: whose it is
ROLE_LABEL = "org.enclave.role"  # a helper container: what it is for (e.g. "mia", the membership check)
# Where a container sees the project's files: its workspace (read-write) and the approved datasets (read-only).
WORKSPACE_MOUNT = "/workspace"
DATA_MOUNT = "/data"
# Blind-mode jobs: their containers carry these labels (never org.enclave.project, which marks workspaces),
# and their checked results come back into the project workspace under this folder, read-only.
JOB_LABEL = "org.enclave.job"
JOB_PROJECT_LABEL = "org.enclave.job-project"
WORKSPACE_JOBS = "jobs"
# Files brought in through the import airlock (imports/): the project's released imports, mounted read-only here.
IMPORTS_MOUNT = "/workspace/imports"
# Mounted into blind workspaces beside the dummy data: the synthetic-data notice (en and zh-CN).
SYNTHETIC_NOTICE = "README-SYNTHETIC-DATA.md"


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
    governance_port: int = 8083
    jobs_port: int = 8084
    packages_port: int = 8085
    activity_port: int = 8086
    image: str = "enclave-workspace:latest"
    tls_cert: str = ""
    tls_key: str = ""
    instance: str = "enclave"
    backup_key_file: str = ""
    backup_repository: str = ""  # restic repository: a local path, sftp:host:/path or s3:host/bucket/path
    backup_password_file: str = ""
    # What an operator configures for a real site (all empty: the embedded 127.0.0.1 defaults of `make up`).
    site_url: str = ""  # ENCLAVE_PUBLIC_URL: what browsers use, e.g. https://enclave.example.org
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-* headers the hub believes
    oidc_issuer_url: str = ""  # the identity provider, by its issuer URL (discovery document beneath it)
    oidc_client_id: str = "enclave-hub"
    oidc_client_secret_file: str = ""  # a root-only file holding the client secret
    oidc_username_claim: str = "sub"  # stable; never preferred_username, which users can often change
    oidc_groups_claim: str = "groups"
    oidc_name_claim: str = "name"
    oidc_institution_claim: str = "institution"
    # The hub's own database (JupyterHub's users, servers, tokens); empty: SQLite in home, as `make up`.
    hub_db_url_setting: str = ""
    # Site overrides for JupyterHub (*.py, loaded in name order after ours); /etc/enclave/jupyterhub_config.d
    # on a production host. Empty: none.
    hub_config_dir: str = ""
    clamav_db_setting: str = ""  # ENCLAVE_CLAMAV_DB_DIR: the operator's ClamAV signatures (their own mirror)
    # Extra arguments for the host's `pip download` when a steward approves a package or the wheelhouse is built
    # (ENCLAVE_PACKAGES_FETCH_ARGS, shell words): a site's own mirror (`--index-url https://mirror/simple`,
    # `--cert ...`); the tests give a local folder (`--no-index --find-links DIR`). Empty: pip's own index.
    packages_fetch_args: tuple[str, ...] = ()
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
    def lexicon_cache(self) -> Path:
        """Lexicons derived from packaged word lists (`enclave.pii.lexicons`): rebuilt when missing, never shipped."""
        return self.home / "cache" / "lexicons"

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
    def hub_db_url(self) -> str:
        """JupyterHub's database (ENCLAVE_HUB_DB_URL, e.g. postgresql+psycopg://...); SQLite in home by default."""
        url = self.hub_db_url_setting or f"sqlite:///{self.home / 'jupyterhub.sqlite'}"
        # SQLAlchemy's plain postgresql:// means psycopg2; the enclave installs psycopg (3)
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url

    def hub_config_overrides(self) -> list[Path]:
        """The site's JupyterHub overrides in ENCLAVE_HUB_CONFIG_DIR, in name order (a missing folder: none)."""
        if not self.hub_config_dir:
            return []
        return sorted(Path(self.hub_config_dir).glob("*.py"))

    @property
    def jobs_dir(self) -> Path:
        """Blind-mode jobs on the host: per job its code snapshot, outputs folder and log (root-only)."""
        return self.home / "jobs"

    @property
    def jobs_store(self) -> Path:
        """Content-addressed copies of job code snapshots and checked outputs (never mounted as a whole)."""
        return self.home / "jobs" / "store"

    def dummy_dir(self, name: str, version: str) -> Path:
        """The dummy (synthetic) version of a dataset version, made at ingestion: what blind workspaces mount."""
        return self.home / "dummy" / name / version

    @property
    def wheelhouse_dir(self) -> Path:
        """Approved packages' wheels, fetched and checked on the host: what the enclave's index serves."""
        return self.home / "packages" / "wheelhouse"

    def imports_dir(self, slug: str) -> Path:
        """A project's released imports on the host (`<id>/<name>`): mounted read-only at IMPORTS_MOUNT."""
        return self.home / "imports" / "projects" / slug

    @property
    def imports_staging(self) -> Path:
        """Uploaded files waiting for their checks or a steward, root-only, never mounted."""
        return self.home / "imports" / "staging"

    @property
    def clamav_db_dir(self) -> Path:
        """The ClamAV signature database the operator provides and refreshes from their own mirror; the
        enclave never downloads signatures. Without one every import is blocked as unscanned."""
        return Path(self.clamav_db_setting) if self.clamav_db_setting else self.home / "clamav"

    @property
    def backup_signing_key(self) -> Path:
        """Private key that signs backups; never copied into one (keep an offline copy to restore elsewhere)."""
        return Path(self.backup_key_file) if self.backup_key_file else self.secrets_dir / "backup-signing.jwk"

    @property
    def backup_password_path(self) -> Path:
        """The restic repository's password; never copied into a backup (keep an offline copy)."""
        return Path(self.backup_password_file) if self.backup_password_file else self.secrets_dir / "restic-password"

    @property
    def egress_staging(self) -> Path:
        """Where a request's files wait, on the host and root-only, between the workspace and the checks."""
        return self.home / "egress" / "incoming"

    @property
    def audit_anchor(self) -> Path:
        return self.home / "audit" / "head.json"

    @property
    def gateway_ports(self) -> list[int]:
        """The host ports workspaces reach at their gateway (redirected to 127.0.0.1, hub.network): the hub API,
        the export service, the jobs service, the package index and the code
        recorder, nothing else."""
        return [self.hub_api_port, self.egress_port, self.jobs_port, self.packages_port, self.activity_port]

    @property
    def internal_ports(self) -> list[int]:
        """The plain-HTTP ports that answer on 127.0.0.1 only: refused from every interface but loopback and the
        enclave bridges, so from outside only the public proxy port answers."""
        return [self.hub_api_port, self.egress_port, self.idp_port, self.proxy_api_port, self.governance_port,
                self.jobs_port, self.packages_port, self.activity_port]

    @property
    def internal_address(self) -> str:
        """Where the plain-HTTP services (hub API, export service, IdP, proxy API) listen."""
        return INTERNAL_ADDRESS

    @property
    def local_url(self) -> str:
        """Where the public port answers on this host (health checks), whatever name browsers use."""
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://127.0.0.1:{self.public_port}"

    @property
    def public_url(self) -> str:
        """The URL researchers' browsers use (ENCLAVE_PUBLIC_URL); the local one by default."""
        return self.site_url or self.local_url

    @property
    def oidc_issuer(self) -> str:
        """The identity provider's issuer URL (ENCLAVE_OIDC_ISSUER); the demo IdP on this host by default."""
        return self.oidc_issuer_url or f"http://127.0.0.1:{self.idp_port}"

    @property
    def idp_url(self) -> str:
        return self.oidc_issuer

    def oidc_client_secret(self) -> str:
        """The hub's client secret at the identity provider, read from its file (never from the environment).

        Without ENCLAVE_OIDC_CLIENT_SECRET_FILE it is the demo IdP's registration, made on first use.
        """
        if not self.oidc_client_secret_file:
            return self.secret("idp-client")
        path = Path(self.oidc_client_secret_file)
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"ENCLAVE_OIDC_CLIENT_SECRET_FILE={path}: cannot read it ({exc.strerror})") from exc
        if not value:
            raise ConfigError(f"ENCLAVE_OIDC_CLIENT_SECRET_FILE={path} is empty")
        return value

    def secret(self, name: str, nbytes: int = 32) -> str:
        """A persistent random secret, created on first use and readable only by root.

        Two processes (or threads) may ask for a new secret at once: each writes a whole private file
        and links it into place, so the first link wins and nobody ever reads a half-written secret.
        """
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        path = self.secrets_dir / name
        if not path.exists():
            tmp = self.secrets_dir / f".{name}.{secrets.token_hex(8)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(nbytes))
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, over the optional TOML file named by ENCLAVE_CONFIG, over the defaults.

    A bad value stops here with a ConfigError naming the variable (or file key) and what is wrong.
    """
    src = _Source(os.environ if env is None else env)
    home = Path(src.get("ENCLAVE_HOME", str(REPO_ROOT / "var"))).resolve()
    tls_cert, tls_key = src.get("ENCLAVE_TLS_CERT"), src.get("ENCLAVE_TLS_KEY")
    if bool(tls_cert) != bool(tls_key):
        raise ConfigError("ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY go together: set both (TLS on the public port) "
                          "or neither (plain HTTP, or TLS terminated by a reverse proxy)")
    site_url = src.get("ENCLAVE_PUBLIC_URL")
    site_url = _public_url(src, site_url) if site_url else ""
    trusted = _networks(src, "ENCLAVE_TRUSTED_PROXIES")
    if site_url.startswith("https://") and not tls_cert and not trusted:
        raise ConfigError(f"{src.where('ENCLAVE_PUBLIC_URL')}={site_url!r} is https, but neither ENCLAVE_TLS_CERT "
                          "(TLS on the public port) nor ENCLAVE_TRUSTED_PROXIES (the proxy that terminates TLS) "
                          "is set")
    issuer = src.get("ENCLAVE_OIDC_ISSUER")
    claims = {n: src.get(f"ENCLAVE_OIDC_{n.upper()}_CLAIM", d)
              for n, d in (("username", "sub"), ("groups", "groups"), ("name", "name"),
                           ("institution", "institution"))}
    return Settings(
        home=home,
        db_url=src.get("ENCLAVE_DB_URL") or f"sqlite:///{home / 'enclave.sqlite'}",
        policy_dir=Path(src.get("ENCLAVE_POLICY_DIR", str(REPO_ROOT / "policies"))).resolve(),
        public_port=src.integer("ENCLAVE_PUBLIC_PORT", 8000),
        hub_api_port=src.integer("ENCLAVE_HUB_API_PORT", 8081),
        idp_port=src.integer("ENCLAVE_IDP_PORT", 9000),
        proxy_api_port=src.integer("ENCLAVE_PROXY_API_PORT", 8001),
        egress_port=src.integer("ENCLAVE_EGRESS_PORT", 8082),
        governance_port=src.integer("ENCLAVE_GOVERNANCE_PORT", 8083),
        jobs_port=src.integer("ENCLAVE_JOBS_PORT", 8084),
        packages_port=src.integer("ENCLAVE_PACKAGES_PORT", 8085),
        activity_port=src.integer("ENCLAVE_ACTIVITY_PORT", 8086),
        image=src.get("ENCLAVE_IMAGE", "enclave-workspace:latest"),
        tls_cert=tls_cert,
        tls_key=tls_key,
        instance=src.get("ENCLAVE_INSTANCE", "enclave"),
        backup_key_file=src.get("ENCLAVE_BACKUP_KEY"),
        site_url=site_url,
        trusted_proxies=trusted,
        oidc_issuer_url=_http_url(src, "ENCLAVE_OIDC_ISSUER", issuer) if issuer else "",
        oidc_client_id=src.get("ENCLAVE_OIDC_CLIENT_ID", "enclave-hub"),
        oidc_client_secret_file=src.get("ENCLAVE_OIDC_CLIENT_SECRET_FILE"),
        oidc_username_claim=claims["username"],
        oidc_groups_claim=claims["groups"],
        oidc_name_claim=claims["name"],
        oidc_institution_claim=claims["institution"],
        backup_repository=src.get("ENCLAVE_BACKUP_REPOSITORY"),
        backup_password_file=src.get("ENCLAVE_BACKUP_PASSWORD_FILE"),
        hub_db_url_setting=_db_url(src, "ENCLAVE_HUB_DB_URL"),
        hub_config_dir=src.get("ENCLAVE_HUB_CONFIG_DIR"),
        clamav_db_setting=src.get("ENCLAVE_CLAMAV_DB_DIR"),
        packages_fetch_args=_words(src, "ENCLAVE_PACKAGES_FETCH_ARGS"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def hub_service_env(settings: Settings, name: str, prefix: str, port: int, token_secret: str) -> dict[str, str]:
    """What JupyterHub would give a managed service. The enclave's web services (export review, governance,
    jobs) run on their own (the process runner or systemd), so each sets these itself, the same way."""
    return {
        "JUPYTERHUB_SERVICE_NAME": name, "JUPYTERHUB_API_TOKEN": settings.secret(token_secret),
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{settings.hub_api_port}/hub/api", "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_PREFIX": prefix, "JUPYTERHUB_CLIENT_ID": f"service-{name}",
        "JUPYTERHUB_HOST": "", "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps([f"access:services!service={name}"]),
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
    }
