"""An export request from a workspace: limits and names checked, the files read as the workspace user,
then the request made - or refused with the reason, and the refusal audited.

Files go from the workspace to a root-only staging folder on the host a chunk at a time and are
read back one at a time for the checks (which store only what they keep), so a request is never in
memory whole; the staging folder is removed whatever happens.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, overload

from sqlalchemy.orm import Session

from egress_review import limits, workflow
from egress_review.collect import collect, collect_one, shown
from egress_review.owndata import OwnDataIndex
from enclave import audit
from enclave.db import session_scope
from enclave.errors import EnclaveError, Unavailable
from enclave.settings import Settings
from policies.schema import EgressPolicy

log = logging.getLogger("egress-review")
REFUSED = audit.AuditAction.EXPORT_REFUSED
MODEL_FIELDS = ("training_data", "holdout_data", "target")


class StagedFiles(Sequence[tuple[str, bytes]]):
    """The request's files as (name, bytes), each read from staging only when it is reached."""

    def __init__(self, staged: list[tuple[str, Path]]) -> None:
        self.staged = staged

    def __len__(self) -> int:
        return len(self.staged)

    @overload
    def __getitem__(self, i: int) -> tuple[str, bytes]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[str, bytes]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, bytes] | list[tuple[str, bytes]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        name, path = self.staged[i]
        return name, path.read_bytes()

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return (self[i] for i in range(len(self)))


@contextmanager
def staging(settings: Settings) -> Iterator[Path]:
    """A fresh root-only folder for one request's files, removed afterwards."""
    settings.egress_staging.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.egress_staging, 0o700)
    folder = Path(tempfile.mkdtemp(dir=settings.egress_staging))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clear_staging(settings: Settings) -> None:
    """Left by requests cut off when the service died."""
    if settings.egress_staging.exists():
        for folder in settings.egress_staging.iterdir():
            shutil.rmtree(folder, ignore_errors=True)


def _stage(folder: Path, chunks: Iterator[bytes]) -> Path:
    path = folder / uuid.uuid4().hex
    try:
        with open(path, "xb") as fh:
            for chunk in chunks:
                fh.write(chunk)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise Unavailable("the enclave's disk is full: the request was not made; tell the enclave "
                              "administrators, then try again") from exc
        raise
    return path


def _model(root: Path, body: dict[str, Any], policy: EgressPolicy) -> dict[str, Any] | None:
    """Training (and held-out) data named for a pickled model's membership-inference test."""
    if not body.get("training_data"):
        return None
    model = {k: body.get(k) for k in MODEL_FIELDS}
    model["data"] = {key: collect_one(root, str(body[key]), policy.max_file_bytes)[1]
                     for key in ("training_data", "holdout_data") if body.get(key)}
    return model


def _audit_refusal(requester: str, slug: str, paths: Sequence[str], reason: str) -> None:
    try:
        with session_scope() as s:
            audit.record(s, requester, REFUSED, project=slug, target=requester, reason=reason,
                         files=[shown(p) for p in paths[:100]], named=len(paths))
    except Exception:  # the refusal itself stands; the database may be the reason
        log.exception("could not audit a refused export request")


def check_submitter(requester: str, slug: str, paths: Sequence[str]) -> None:
    """`workflow.check_submitter` before a file is read; a refusal (a removed member's workspace still
    running, a suspended project) is audited as every other refused request is."""
    try:
        with session_scope() as s:
            workflow.check_submitter(s, requester, slug)
    except EnclaveError as exc:
        _audit_refusal(requester, slug, paths, str(exc))
        raise


def from_workspace(settings: Settings, policy: EgressPolicy, requester: str, slug: str, paths: Sequence[str],
                   justification: str, body: dict[str, Any],
                   own: Callable[[Session, str], OwnDataIndex | None]) -> int:
    """The new request's id; any refusal is raised with its reason after being audited."""
    try:
        return _make(settings, policy, requester, slug, paths, justification, body, own)
    except EnclaveError as exc:
        _audit_refusal(requester, slug, paths, str(exc))
        raise


def _make(settings: Settings, policy: EgressPolicy, requester: str, slug: str, paths: Sequence[str],
          justification: str, body: dict[str, Any], own: Callable[[Session, str], OwnDataIndex | None]) -> int:
    names = limits.check_request_files(paths, policy)
    if body.get("revises") is not None:
        with session_scope() as s:  # refused before a file is read: not hers, not returned, another project
            workflow.revisable(s, requester, body["revises"], slug)
    with session_scope() as s:
        limits.check_daily_limits(s, slug, len(names), policy)
    root = settings.workspace_dir(slug)
    with staging(settings) as folder:
        staged = collect(root, names, policy.max_file_bytes, policy.max_request_bytes, partial(_stage, folder))
        model = _model(root, body, policy)
        with session_scope() as s:
            limits.check_daily_limits(s, slug, len(names), policy)  # again, in the transaction adding the request
            return workflow.submit(s, requester, slug, StagedFiles(staged), justification, settings.egress_store,
                                   policy, own=own(s, slug), model=model, revises=body.get("revises")).id
