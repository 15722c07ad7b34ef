"""An import: one file a researcher brought in for a project, the checks' outcome and a steward's decision."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from enclave.models import Base, _enum, utcnow


class ImportState(enum.StrEnum):
    HELD = "held"  # waits for a steward's review
    RELEASED = "released"  # delivered into the project's workspace (checks passed, or a steward approved)
    BLOCKED = "blocked"  # the checks blocked it; the file was discarded
    REFUSED = "refused"  # a steward refused it; the file was discarded


class ImportRequest(Base):
    """One uploaded file: who brought it for which project and why, what it is, and what became of it."""

    __tablename__ = "import_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str] = mapped_column(String(40), index=True)
    filename: Mapped[str] = mapped_column(String(200))  # made safe: the name it has in the workspace
    purpose: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    file_type: Mapped[str] = mapped_column(String(32), default="")  # by content (checks.detect_type)
    state: Mapped[ImportState] = mapped_column(_enum(ImportState))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
