"""The restic repository backups go to: encrypted, deduplicated, possibly on another host.

restic (the Debian package) does the cryptography and the storage; this module only runs it. The
repository is one URL in configuration (`ENCLAVE_BACKUP_REPOSITORY`: an absolute local path, an
`sftp:host:/path` or an `s3:host/bucket/path` URL). restic gets the repository and its password *file*
through its environment (`RESTIC_REPOSITORY`, `RESTIC_PASSWORD_FILE`), never as arguments: any local
user can read another process's command line. Credentials of the storage itself (S3 keys, the SSH key
for SFTP) come from the environment file or the SSH configuration, never from the URL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from enclave.errors import EnclaveError
from enclave.settings import Settings
from policies.schema import BackupPolicy

RESTIC = "restic"
TAG = "enclave"
# restic's own settings that would override or leak what we give it: we set the repository and the
# password file, nothing else may pick the password.
_OVERRIDDEN = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY_FILE")
_SCHEMES = ("sftp:", "s3:")
_DAMAGE = re.compile(r"ciphertext verification failed|Pack ID does not match|does not match|"
                     r"repository contains errors|unexpected EOF|invalid data returned", re.IGNORECASE)


class ResticError(EnclaveError):
    """restic could not do what was asked; the message says what and why, in the operator's terms."""


def check_repository_url(url: str) -> str:
    """A supported repository location with no secret in it; the reason otherwise."""
    if not url:
        raise ResticError("no backup repository configured: set ENCLAVE_BACKUP_REPOSITORY to an absolute "
                          "path, an sftp:host:/path or an s3:host/bucket/path URL (or give a folder: "
                          "enclave backup DIR)")
    if url.startswith(_SCHEMES):
        rest = url.split(":", 1)[1]
        netloc = urlsplit(rest).netloc if "//" in rest else rest.split("/", 1)[0].split(":", 1)[0]
        if ":" in netloc.split("@", 1)[0] and "@" in netloc:
            raise ResticError(f"backup repository {url.split(':', 1)[0]}:...: holds a password; give storage "
                              "credentials in the environment file (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or "
                              "the SSH configuration, never in the URL")
        return url
    if ":" in url.split("/", 1)[0]:
        raise ResticError(f"backup repository {url.split(':', 1)[0]}:...: unsupported; use an absolute path, "
                          "an sftp: or an s3: URL")
    if not Path(url).is_absolute():
        raise ResticError(f"backup repository {url}: a local repository must be an absolute path")
    return url


def _summary(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    return "; ".join(lines[-4:])[-600:] or "no message"


@dataclass(frozen=True)
class Repository:
    url: str
    password_file: Path
    host: str

    @classmethod
    def of(cls, settings: Settings) -> Repository:
        """The configured repository; snapshots carry the instance name as host, so `latest` and retention
        mean this enclave's snapshots on whichever machine restores them."""
        return cls(check_repository_url(settings.backup_repository), settings.backup_password_path,
                   settings.instance)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _OVERRIDDEN}
        env.update(RESTIC_REPOSITORY=self.url, RESTIC_PASSWORD_FILE=str(self.password_file))
        return env

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        if shutil.which(RESTIC) is None:
            raise ResticError("restic is not installed (Debian package restic: scripts/install_system.sh)")
        # no local cache: everything is read from the repository itself (and a restore into a wiped home
        # finds that home empty)
        res = subprocess.run([RESTIC, "--no-cache", *args], cwd=cwd, env=self.env(), capture_output=True, text=True)
        if check and res.returncode != 0:
            raise self._error(args[0], res.stderr + res.stdout)
        return res

    def _error(self, command: str, output: str) -> ResticError:
        if "wrong password" in output:
            return ResticError(f"the password in {self.password_file} does not open the backup repository "
                               f"{self.url}: restore the offline copy of the repository password")
        if _DAMAGE.search(output):
            return ResticError(f"backup repository {self.url} was altered or is damaged (restic {command}: "
                               f"{_summary(output)})")
        return ResticError(f"restic {command} on {self.url} failed: {_summary(output)}")

    def initialized(self) -> bool:
        res = self.run("cat", "config", check=False)
        if res.returncode == 0:
            return True
        if "unable to open config file" in res.stderr:
            return False
        raise self._error("cat config", res.stderr)

    def init(self, check: bool = False) -> bool:
        """Create the repository (and, when there is none, a new random password file); False when it exists.

        With `check`, only say whether it would be created (Ansible's check mode)."""
        if self.password_file.exists() and self.initialized():
            return False
        if check:
            return True
        created = not self.password_file.exists()
        if created:
            self.password_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
        res = self.run("init", check=False)
        if res.returncode != 0:
            if created:  # a password that opens nothing must not look like the repository's
                self.password_file.unlink()
            if "already exists" in res.stderr:
                raise ResticError(f"backup repository {self.url} exists but its password file "
                                  f"{self.password_file} is not there: restore the offline copy")
            raise self._error("init", res.stderr)
        return True

    def require(self) -> None:
        """The repository exists and the password opens it, or why not."""
        if not self.password_file.exists():
            raise ResticError(f"backup repository password file {self.password_file} is not there: restore "
                              "the offline copy (ENCLAVE_BACKUP_PASSWORD_FILE)")
        if not self.initialized():
            raise ResticError(f"no backup repository at {self.url}: run enclave backup init (or a first "
                              "enclave backup)")

    def backup(self, cwd: Path, path: str, tags: list[str]) -> str:
        """Snapshot `cwd/path` (stored under the relative name `path`); the new snapshot's full id."""
        args = ["backup", "--json", "--host", self.host, "--tag", TAG]
        for tag in tags:
            args += ["--tag", tag]
        res = self.run(*args, path, cwd=cwd)
        short = next((json.loads(ln)["snapshot_id"] for ln in res.stdout.splitlines()
                      if '"message_type":"summary"' in ln.replace(" ", "")), None)
        if not short:
            raise ResticError(f"restic backup on {self.url} reported no snapshot: {_summary(res.stderr)}")
        return str(self.snapshot(short)["id"])

    def snapshots(self) -> list[dict[str, Any]]:
        """This enclave's snapshots, oldest first."""
        res = self.run("snapshots", "--json", "--host", self.host, "--tag", TAG)
        return list(json.loads(res.stdout or "[]"))

    def snapshot(self, ref: str) -> dict[str, Any]:
        """One of this enclave's snapshots by id (or unique prefix), or `latest`."""
        snaps = self.snapshots()
        if ref == "latest":
            if not snaps:
                raise ResticError(f"backup repository {self.url} holds no snapshot of enclave {self.host}")
            return max(snaps, key=lambda s: s["time"])
        found = [s for s in snaps if s["id"].startswith(ref)]
        if len(found) != 1:
            raise ResticError(f"snapshot {ref}: {'no' if not found else 'more than one'} snapshot of enclave "
                              f"{self.host} in {self.url} has that id")
        return found[0]

    def restore(self, snapshot_id: str, target: Path) -> None:
        self.run("restore", snapshot_id, "--target", str(target))

    def check(self, read_data_subset: str) -> list[str]:
        """The repository's structure, and `read_data_subset` of its data read back; empty when sound."""
        part = {"all": ["--read-data"], "none": []}.get(read_data_subset, [f"--read-data-subset={read_data_subset}"])
        res = self.run("check", *part, check=False)
        if res.returncode == 0:
            return []
        lines = [ln.strip() for ln in (res.stdout + res.stderr).splitlines()
                 if ln.strip() and not ln.startswith(("[", "using ", "load ", "check ", "read ", "create ",
                                                      "no errors"))]
        return [f"restic check: {ln}" for ln in lines] or [f"restic check failed: {_summary(res.stderr)}"]

    def forget(self, policy: BackupPolicy) -> list[str]:
        """Apply the policy's retention to this enclave's snapshots and prune; the ids removed."""
        keep = {"--keep-last": policy.keep_last, "--keep-daily": policy.keep_daily,
                "--keep-weekly": policy.keep_weekly, "--keep-monthly": policy.keep_monthly,
                "--keep-yearly": policy.keep_yearly}
        args = ["forget", "--json", "--prune", "--host", self.host, "--tag", TAG, "--group-by", "host"]
        for flag, n in keep.items():
            if n:
                args += [flag, str(n)]
        res = self.run(*args)
        first = next((ln for ln in res.stdout.splitlines() if ln.startswith("[")), "[]")
        return [s["id"] for group in json.loads(first) for s in group.get("remove") or []]

    def shown(self) -> str:
        return self.url
