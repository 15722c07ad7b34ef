"""The automated checks on an uploaded file: size, type by content, a ClamAV scan, personal data.

Each check gives findings; one blocking finding blocks the import, a finding that needs a person holds it
for a steward. A file the checks could not read (undecodable, a failed or impossible scan) is blocked,
never passed. The virus scan is Debian's `clamscan` with the signature database the operator provides
(`Settings.clamav_db_dir`, refreshed from the operator's own mirror): the enclave never downloads signatures.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.errors import Text
from enclave.pii import find_all
from policies.schema import ImportPolicy

CLAMSCAN = "clamscan"
# Signature files clamscan loads from a database directory (main.cvd, daily.cld, local .hdb/.ndb ...).
SIGNATURE_SUFFIXES = {".cvd", ".cld", ".cud", ".hdb", ".hsb", ".ndb", ".ldb", ".mdb", ".msb", ".yar", ".yara"}
# What a name's suffix promises; a file whose content is another type is blocked (a renamed file).
PROMISED = {".csv": {"csv"}, ".tsv": {"tsv"}, ".json": {"json"}, ".parquet": {"parquet"}}


class Outcome(enum.StrEnum):
    PASS = "pass"
    REVIEW = "review"  # a steward looks before the file enters
    BLOCK = "block"


@dataclass(frozen=True)
class Finding:
    check: str  # size, type, malware, personal_data
    outcome: Outcome
    reason: Text

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "outcome": self.outcome.value, "reason": str(self.reason),
                "template": self.reason.template, "params": {k: str(v) for k, v in self.reason.params.items()}}


@dataclass
class Result:
    file_type: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        outcomes = {f.outcome for f in self.findings}
        return Outcome.BLOCK if Outcome.BLOCK in outcomes else Outcome.REVIEW if outcomes else Outcome.PASS


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str | None:
    """UTF-8 (with or without a byte-order mark) or GB18030 text without NUL bytes; None when it is not text."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else text
    return None


def _table_shaped(text: str, delimiter: str) -> bool:
    """At least two columns and the same number on every one of the first 500 non-empty rows."""
    rows = [r for r in csv.reader(io.StringIO(text[:1_000_000]), delimiter=delimiter) if r][:500]
    widths = {len(r) for r in rows}
    return bool(rows) and len(widths) == 1 and widths.pop() >= 2


def detect_type(name: str, data: bytes) -> str:
    """The file's type from its bytes (the name only chooses between readings of the same text)."""
    if data.startswith(b"PAR1") and data.endswith(b"PAR1"):
        return "parquet"
    if data.startswith(b"PK\x03\x04"):
        return "xlsx" if b"xl/workbook" in data[:65536] else "zip"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith((b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xce")):
        return "executable"
    text = decode_text(data)
    if text is None:
        return "binary"
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        try:
            json.loads(text)
        except ValueError:
            return "text"
        return "json"
    if suffix in {".csv", ".tsv"}:
        for kind, delimiter in (("tsv", "\t"), ("csv", ",")) if suffix == ".tsv" else (("csv", ","), ("tsv", "\t")):
            if _table_shaped(text, delimiter):
                return kind
    return "text"


def check_size(size: int, policy: ImportPolicy) -> list[Finding]:
    if size == 0:
        return [Finding("size", Outcome.BLOCK, Text("the file is empty"))]
    if size > policy.max_file_bytes:
        return [Finding("size", Outcome.BLOCK, Text("the file is {size} bytes, above the limit of {limit} bytes "
                                                    "(max_file_bytes)", size=size, limit=policy.max_file_bytes))]
    return []


def check_type(name: str, file_type: str, policy: ImportPolicy) -> list[Finding]:
    if file_type not in policy.allowed_types:
        return [Finding("type", Outcome.BLOCK, Text("its content is {type}, which imports do not accept (allowed: "
                                                    "{allowed})", type=file_type,
                                                    allowed=", ".join(policy.allowed_types)))]
    promised = PROMISED.get(Path(name).suffix.lower())
    if promised and file_type not in promised:
        return [Finding("type", Outcome.BLOCK, Text("the name ends in {suffix} but the content is {type}",
                                                    suffix=Path(name).suffix.lower(), type=file_type))]
    return []


def signature_files(db_dir: Path) -> list[Path]:
    if not db_dir.is_dir():
        return []
    return sorted(p for p in db_dir.iterdir() if p.suffix.lower() in SIGNATURE_SUFFIXES and p.is_file())


def check_malware(path: Path, db_dir: Path, timeout: int) -> list[Finding]:
    """ClamAV over the file with the operator's database only; no database or no scanner blocks (never passes)."""
    if not signature_files(db_dir):
        return [Finding("malware", Outcome.BLOCK, Text(
            "not scanned for viruses: the ClamAV signature database ({db}) is missing or empty; the operator "
            "provides it (ENCLAVE_CLAMAV_DB_DIR)", db=str(db_dir)))]
    scanner = shutil.which(CLAMSCAN)
    if scanner is None:
        return [Finding("malware", Outcome.BLOCK, Text(
            "not scanned for viruses: clamscan is not installed on this host (Debian package clamav)"))]
    cmd = [scanner, f"--database={db_dir}", "--no-summary", "--stdout", "--infected", "--", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        return [Finding("malware", Outcome.BLOCK, Text("not scanned for viruses: the scan took longer than "
                                                       "{seconds} seconds", seconds=timeout))]
    if done.returncode == 0:
        return []
    if done.returncode == 1:
        line = next((ln for ln in done.stdout.splitlines() if ln.endswith(" FOUND")), "")
        signature = line.rsplit(": ", 1)[-1].removesuffix(" FOUND") if line else "a signature"
        return [Finding("malware", Outcome.BLOCK, Text("ClamAV found {signature}", signature=signature))]
    last = next((ln for ln in reversed((done.stderr or done.stdout).splitlines()) if ln.strip()), "no message")
    return [Finding("malware", Outcome.BLOCK, Text("not scanned for viruses: clamscan failed ({message})",
                                                   message=last.strip()[:200]))]


def readable_text(file_type: str, data: bytes) -> str | None:
    """What the personal-data check reads: the text, or a Parquet table as CSV; None when unreadable."""
    if file_type == "parquet":
        import polars as pl

        try:
            return pl.read_parquet(io.BytesIO(data)).write_csv()
        except Exception:  # noqa: BLE001 - any reader failure means the file could not be read
            return None
    return decode_text(data)


def check_personal_data(file_type: str, data: bytes, policy: ImportPolicy) -> list[Finding]:
    """Personal identifiers (resident IDs, phone numbers, ...): never passed silently, as the policy says."""
    text = readable_text(file_type, data)
    if text is None:
        return [Finding("personal_data", Outcome.BLOCK, Text("the checks could not read the file"))]
    counts = Counter(m.entity.value for m in find_all(text))
    if not counts:
        return []
    outcome = Outcome.REVIEW if policy.personal_data == "review" else Outcome.BLOCK
    found = ", ".join(f"{entity} ×{n}" for entity, n in sorted(counts.items()))
    return [Finding("personal_data", outcome, Text("personal identifiers found: {found}", found=found))]


def run(policy: ImportPolicy, db_dir: Path, name: str, path: Path) -> Result:
    """Every check on the staged file at `path` (named `name`); the size first, so a huge file is never read."""
    size = path.stat().st_size
    result = Result(findings=check_size(size, policy))
    if result.findings:
        return result
    data = path.read_bytes()
    result.file_type = detect_type(name, data)
    result.findings += check_malware(path, db_dir, policy.scan_timeout_seconds)
    typed = check_type(name, result.file_type, policy)
    result.findings += typed
    if not typed:
        result.findings += check_personal_data(result.file_type, data, policy)
    return result
