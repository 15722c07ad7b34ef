"""Findings and verdicts: `pass`, `review` (a human must look) or `block` (cannot be approved as is)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any


class Verdict(enum.StrEnum):
    PASS = "pass"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _RANK[self.value]


_RANK = {"pass": 0, "review": 1, "block": 2}  # built once: a file's verdict ranks every one of its findings


@dataclass
class Finding:
    check: str
    verdict: Verdict
    detail: str
    entity: str | None = None
    rule: str | None = None
    location: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """What `dataclasses.asdict` gave (fields in order, the location copied, None left out), built directly:
        asdict deep-copies every value, and an extract full of identifiers has tens of thousands of findings."""
        d = {"check": self.check, "verdict": self.verdict.value, "detail": self.detail, "entity": self.entity,
             "rule": self.rule, "location": _copied(self.location)}
        return {k: v for k, v in d.items() if v is not None}


def _copied(value: Any) -> Any:
    """Containers copied (as asdict copies them), everything else as it is (the locations hold plain values)."""
    if isinstance(value, dict):
        if not any(isinstance(v, dict | list | tuple) for v in value.values()):
            return dict(value)  # a flat location (row, column): one copy, not one call per value
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copied(v) for v in value)
    return value


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


# --- findings written for people (the pages) ------------------------------------------------------

GUIDANCE = ("small-counts", "statistics", "personal-data", "row-level", "own-data", "file-type", "model")
_COUNT = re.compile(r"\bcount (\d+)")


def guidance_topic(finding: dict[str, Any]) -> str:
    """Which section of the guidance page says what the researcher can do about this kind of finding."""
    check, rule = str(finding.get("check", "")), str(finding.get("rule") or finding.get("kind") or "")
    if check == "disclosure-control":
        small = rule.startswith(("threshold", "redact", "round", "zeros")) or "count" in rule or "suppress" in rule
        return "small-counts" if small else "statistics"
    return {"personal-data": "personal-data", "row-level": "row-level", "own-data": "own-data",
            "model": "model"}.get(check, "file-type")


def _where(location: dict[str, Any], lang: str) -> str:
    """'第 3 行 n 列' / 'row 3, column n': the numbers and names a location gives, in the reader's words."""
    from egress_review.i18n import WHERE

    words = WHERE["zh-CN" if lang == "zh-CN" else "en"]
    parts = [words[k].format(v=location[k]) for k in ("sheet", "member", "cell", "line", "row", "column", "page")
             if k in location and location[k] not in (None, "")]
    return " ".join(parts) if lang == "zh-CN" else ", ".join(parts)


def _what(finding: dict[str, Any], lang: str, values: bool) -> str:
    from egress_review.i18n import ENTITY_NAMES, RULE_TEXT

    zh = lang == "zh-CN"
    check, rule = str(finding.get("check", "")), str(finding.get("rule") or finding.get("kind") or "")
    name, _, param = rule.partition("=") if "=" in rule else (rule, "", "")
    if rule.startswith("threshold>="):
        name, param = "threshold", rule.removeprefix("threshold>=")
    elif rule.startswith("redact<="):
        name, param = "redact", rule.removeprefix("redact<=")
    elif rule.startswith("round-to-"):
        name, param = "round", rule.removeprefix("round-to-")
    count = _COUNT.search(str(finding.get("detail", ""))) if values else None
    table = RULE_TEXT["zh-CN" if zh else "en"]
    if check == "personal-data":
        entity = str(finding.get("entity") or finding.get("kind") or "")
        label = ENTITY_NAMES.get(entity, (entity, entity))[0 if zh else 1]
        return table["personal-data"].format(kind=label)
    if check == "own-data":
        return table["own-data"]
    key = f"{name}:count" if count and f"{name}:count" in table else name
    if key in table:
        return table[key].format(n=count.group(1) if count else "", p=param, kind=rule)
    return table.get(f"check:{check}", table["check:other"]).format(kind=rule or check, check=check)


def person_text(finding: dict[str, Any], lang: str, values: bool = False) -> str:
    """'第 3 行 n 列：计数 4 低于阈值 10': where, then what, in the reader's language.

    `values` adds numbers the check read from the data (reviewers only); a requester's form never
    carries a value, so her sentence names the rule's limit and the place, not the count.
    """
    where = _where(finding.get("location") or {}, lang)
    what = _what(finding, lang, values)
    if not where:
        return what
    return f"{where}：{what}" if lang == "zh-CN" else f"{where}: {what}"


def advice(finding: dict[str, Any], lang: str) -> str:
    """What the researcher can do about this kind of finding (one line; the guidance page says more)."""
    from egress_review.i18n import ADVICE

    return ADVICE["zh-CN" if lang == "zh-CN" else "en"][guidance_topic(finding)]
