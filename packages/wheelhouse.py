"""The wheelhouse on the host: the allow-list's files, fetched by pip and checked before anything serves them.

pip does the fetching (`pip download --only-binary=:all: --require-hashes`, for the workspace's Python and
platform, one pinned package at a time); this module then checks every file again itself — a wheel
unless its package's source was vetted, under the size limit, a sha256 the allow-list accepts — in a
staging folder, and only then moves it into the wheelhouse. Nothing half-checked is ever served.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from enclave.errors import EnclaveError
from policies.schema import PackagePolicy, PinnedPackage

WHEEL = ".whl"


class BuildError(EnclaveError):
    """A package could not be fetched or failed a check; the message names the package and the rule."""


@dataclass(frozen=True)
class Fetched:
    name: str
    version: str
    file: str
    sha256: str
    size: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip_command(policy: PackagePolicy, name: str, pin: PinnedPackage, staging: Path, index_args: Sequence[str],
                 ) -> list[str]:
    """pip download for one pinned package, for the workspace's Python: wheels only unless vetted, and the
    allow-list's hashes required when it has them."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(staging), "--no-input",
           "--disable-pip-version-check", "--python-version", policy.python_version, *index_args]
    for platform in policy.platforms:
        cmd += ["--platform", platform]
    if name not in policy.vetted_sdists:
        cmd.append("--only-binary=:all:")
    if pin.sha256:
        req = staging / "requirements.txt"
        req.write_text(f"{name}=={pin.version} " + " ".join(f"--hash=sha256:{h}" for h in pin.sha256) + "\n")
        return [*cmd, "--require-hashes", "-r", str(req)]
    return [*cmd, f"{name}=={pin.version}"]


def _pip_failure(policy: PackagePolicy, label: str, name: str, stderr: str) -> BuildError:
    """pip's failure as a reason naming the rule that failed."""
    if "do not match the hashes" in stderr.lower():
        return BuildError(f"{label}: the downloaded file does not match the allow-list's sha256 (replaced "
                          "upstream, or a wrong hash in packages.yaml); refused")
    if "no matching distribution" in stderr.lower() or "could not find a version" in stderr.lower():
        return BuildError(f"{label}: no wheel of {name} for Python {policy.python_version} "
                          f"({', '.join(policy.platforms)} or pure Python); source distributions are refused "
                          "unless vetted (vetted_sdists)")
    last = next((ln for ln in reversed(stderr.strip().splitlines()) if ln.strip()), "no message")
    return BuildError(f"{label}: pip download failed: {last.strip()}")


def check_file(policy: PackagePolicy, name: str, pin: PinnedPackage, path: Path) -> Fetched:
    """One downloaded file, checked whatever pip said: a wheel (or a vetted sdist), not too big, a known hash."""
    label = f"{name}=={pin.version}"
    if not path.name.endswith(WHEEL) and name not in policy.vetted_sdists:
        raise BuildError(f"{label}: only wheels are accepted ({path.name} is a source distribution, which runs "
                         "code when built; a steward vets it first: vetted_sdists)")
    size = path.stat().st_size
    if size > policy.max_file_bytes:
        raise BuildError(f"{label}: {size} bytes is above the limit of {policy.max_file_bytes} bytes "
                         "(max_file_bytes)")
    digest = sha256_of(path)
    if pin.sha256 and digest not in pin.sha256:
        raise BuildError(f"{label}: sha256 {digest} is not one the allow-list accepts")
    return Fetched(name, pin.version, path.name, digest, size)


def fetch_one(policy: PackagePolicy, name: str, wheelhouse: Path, index_args: Sequence[str] = ()) -> list[Fetched]:
    """Fetch and check one allow-listed package into `wheelhouse`; on any failure nothing of it is added."""
    pin = policy.python[name]
    label = f"{name}=={pin.version}"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    staging = wheelhouse.parent / f".incoming-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o700)
    try:
        proc = subprocess.run(_pip_command(policy, name, pin, staging, index_args), capture_output=True,
                              text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise _pip_failure(policy, label, name, proc.stderr + proc.stdout)
        files = sorted(p for p in staging.iterdir() if p.name != "requirements.txt")
        if not files:
            raise BuildError(f"{label}: pip download fetched nothing")
        checked = [check_file(policy, name, pin, p) for p in files]
        for p in files:
            os.replace(p, wheelhouse / p.name)
        return checked
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{label}: pip download did not finish in {exc.timeout:.0f} s") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build(policy: PackagePolicy, wheelhouse: Path, names: Sequence[str] | None = None,
          index_args: Sequence[str] = ()) -> tuple[list[Fetched], dict[str, str]]:
    """Fetch every allow-listed package (or the named ones): what was fetched, and per failed package why."""
    fetched: list[Fetched] = []
    failed: dict[str, str] = {}
    for name in names if names is not None else sorted(policy.python):
        try:
            fetched += fetch_one(policy, name, wheelhouse, index_args)
        except BuildError as exc:
            failed[name] = str(exc)
    return fetched, failed


def requirements_of(wheel: Path, python_version: str) -> list[str]:
    """The packages a wheel needs on the workspace's Python (its Requires-Dist, extras left out), normalised.

    pip fetches with --no-deps so that nothing outside the allow-list enters the wheelhouse; this tells the
    steward which dependencies still need an entry of their own. `packaging` (what pip itself uses) reads
    the requirement and its markers.
    """
    if not wheel.name.endswith(WHEEL):
        return []
    with zipfile.ZipFile(wheel) as zf:
        meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), "")
        text = zf.read(meta).decode("utf-8", "replace") if meta else ""
    env = {**default_environment(), "python_version": python_version, "python_full_version": f"{python_version}.0",
           "sys_platform": "linux", "platform_system": "Linux", "extra": ""}
    out = set()
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        try:
            req = Requirement(line.removeprefix("Requires-Dist:").strip())
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate(env):
            out.add(canonicalize_name(req.name))
    return sorted(out)


def missing_dependencies(policy: PackagePolicy, wheelhouse: Path, fetched: Sequence[Fetched]) -> dict[str, list[str]]:
    """Per fetched package, what it requires that the allow-list does not hold (to approve next)."""
    out: dict[str, list[str]] = {}
    for f in fetched:
        missing = [r for r in requirements_of(wheelhouse / f.file, policy.python_version) if r not in policy.python]
        if missing:
            out[f.name] = missing
    return out


# --- the allow-list file --------------------------------------------------------------------------------

def _python_block(python: dict[str, PinnedPackage]) -> list[str]:
    lines = ["python:"]
    for name in python:
        pin = python[name]
        lines.append(f"  {name}: {{version: \"{pin.version}\"" + (", sha256: [" + ", ".join(pin.sha256) + "]"
                                                                  if pin.sha256 else "") + "}")
    return lines


def read_allow_list(path: Path) -> PackagePolicy:
    return PackagePolicy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def update_allow_list(path: Path, changes: Mapping[str, PinnedPackage | None]) -> PackagePolicy:
    """Add, re-pin or (with None) drop packages in packages.yaml, keeping every line outside its `python:`
    block (comments included); the result is validated before it replaces the file, under a lock against a
    second writer."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8")
        current = PackagePolicy.model_validate(yaml.safe_load(text))
        python = {k: v for k, v in {**current.python, **changes}.items() if v is not None}
        lines = text.splitlines()
        if "python:" not in lines:
            raise BuildError(f"{path}: no 'python:' line starting the allow-list; cannot add to it")
        start = lines.index("python:")
        end = start + 1
        while end < len(lines) and re.match(r"^\s+\S", lines[end]):
            end += 1
        new_text = "\n".join([*lines[:start], *_python_block(python), *lines[end:]]) + "\n"
        updated = PackagePolicy.model_validate(yaml.safe_load(new_text))
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(new_text, encoding="utf-8")
        os.replace(tmp, path)
        return updated


def filled_hashes(policy: PackagePolicy, fetched: Sequence[Fetched]) -> dict[str, PinnedPackage]:
    """Entries that had no sha256 yet, with the hashes of the files just fetched and checked for them."""
    out: dict[str, PinnedPackage] = {}
    for f in fetched:
        pin = policy.python.get(f.name)
        if pin is not None and not pin.sha256:
            prev = out.get(f.name, pin)
            out[f.name] = PinnedPackage(version=pin.version, sha256=sorted({*prev.sha256, f.sha256}))
    return out
