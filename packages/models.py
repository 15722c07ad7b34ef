"""A researcher's request for a Python package, and the steward's decision on it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from enclave.models import Base, _enum, utcnow


class RequestState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"  # on the allow-list; `fetch` says whether its wheels are in the wheelhouse
    REFUSED = "refused"


class PackageRequest(Base):
    """One request: who asked for which package (at which version) for which project, and why."""

    __tablename__ = "package_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))  # PEP 503 normalised
    version: Mapped[str] = mapped_column(String(64), default="")  # "" until approved: the steward pins it
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[RequestState] = mapped_column(_enum(RequestState), default=RequestState.REQUESTED)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    fetch: Mapped[str] = mapped_column(Text, default="")  # "" not tried, "ok", or why fetching failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
