"""Findings and verdicts: `pass`, `review` (a human must look) or `block` (cannot be approved as is)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Verdict(enum.StrEnum):
    PASS = "pass"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return {"pass": 0, "review": 1, "block": 2}[self.value]


@dataclass
class Finding:
    check: str
    verdict: Verdict
    detail: str
    entity: str | None = None
    rule: str | None = None
    location: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class FileResult:
    path: str
    type: str | None
    sha256: str
    findings: list[Finding] = field(default_factory=list)
    members: list[FileResult] = field(default_factory=list)
    # The rebuilt form (egress_review.rebuild): what was checked and is stored; None when refused.
    rebuilt: bytes | None = None
    original_sha256: str = ""  # of the bytes as submitted, for the audit record
    rebuild_notes: list[str] = field(default_factory=list)  # what the rebuild dropped or changed

    @property
    def verdict(self) -> Verdict:
        worst = max((f.verdict for f in self.findings), key=lambda v: v.rank, default=Verdict.PASS)
        for m in self.members:
            if m.verdict.rank > worst.rank:
                worst = m.verdict
        return worst

    def to_dict(self, per_kind: int | None = None) -> dict[str, Any]:
        """`per_kind` keeps that many findings of each kind and column, and one line counting the rest."""
        findings = compact(self.findings, per_kind) if per_kind else self.findings
        d: dict[str, Any] = {"path": self.path, "type": self.type, "sha256": self.sha256,
                             "verdict": self.verdict.value, "findings": [f.to_dict() for f in findings],
                             "original_sha256": self.original_sha256 or self.sha256, "rebuilt": self.rebuild_notes}
        if self.members:
            d["members"] = [m.to_dict(per_kind) for m in self.members]
        return d


def compact(findings: list[Finding], per_kind: int) -> list[Finding]:
    """A review record a person can read: an extract full of phone numbers is 50 examples and a count.

    Kinds are (check, entity or rule, verdict, column); the verdict of the file is unchanged.
    """
    kept: list[Finding] = []
    seen: dict[tuple[Any, ...], int] = {}
    for f in findings:
        kind = (f.check, f.entity, f.rule, f.verdict, f.location.get("column"))
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= per_kind:
            kept.append(f)
    for (check, entity, rule, verdict, column), n in seen.items():
        if n > per_kind:
            kept.append(Finding(check, verdict, f"{n - per_kind} more like the above ({n} in all)", entity, rule,
                                {"column": column, "omitted": n - per_kind} if column else {"omitted": n - per_kind}))
    return kept
