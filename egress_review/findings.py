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

    @property
    def verdict(self) -> Verdict:
        worst = max((f.verdict for f in self.findings), key=lambda v: v.rank, default=Verdict.PASS)
        for m in self.members:
            if m.verdict.rank > worst.rank:
                worst = m.verdict
        return worst

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "type": self.type, "sha256": self.sha256,
                             "verdict": self.verdict.value, "findings": [f.to_dict() for f in self.findings]}
        if self.members:
            d["members"] = [m.to_dict() for m in self.members]
        return d
