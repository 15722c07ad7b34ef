"""One executed cell or terminal command, as the enclave recorded it (never as the workspace may edit it)."""

from __future__ import annotations

import enum

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from enclave.models import Base, _enum


class CodeKind(enum.StrEnum):
    CELL = "cell"  # a cell a Python kernel executed (notebook, console, nbconvert)
    TERMINAL = "terminal"  # a line typed into a JupyterLab terminal


class CodeRecord(Base):
    """Who ran what, where and when: user, project and workspace come from the workspace's token and
    container, never from what the workspace sent; `sha256` covers every field, and the batch's audit
    record (`audit_seq`, action code.record) holds the hash of its records' hashes, so an edited, added
    or deleted row no longer matches the HMAC-chained trail."""

    __tablename__ = "code_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CodeKind] = mapped_column(_enum(CodeKind))
    user: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str] = mapped_column(String(40), index=True)
    workspace: Mapped[str] = mapped_column(String(200))  # the container's name
    kernel: Mapped[str] = mapped_column(String(200), default="")  # kernel name, or the terminal's name
    session: Mapped[str] = mapped_column(String(200), default="")  # the kernel's or the terminal's id
    execution_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code: Mapped[str] = mapped_column(Text)
    code_length: Mapped[int] = mapped_column(Integer)  # characters as run; `code` keeps at most MAX_CODE of them
    executed_at: Mapped[str] = mapped_column(String(40))  # when the workspace ran it (its clock), UTC ISO
    received_at: Mapped[str] = mapped_column(String(40), index=True)  # when the enclave stored it, UTC ISO
    audit_seq: Mapped[int] = mapped_column(Integer, index=True)  # the batch's code.record audit record
    sha256: Mapped[str] = mapped_column(String(64))
