"""How much a project may ask to take out, per request and per day: the limits of the egress policy.

A workspace could otherwise flood reviewers, fill the export store or probe the checks by brute force
(thousands of small requests); each limit refuses with a message naming the limit and the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egress_review.collect import clean
from enclave.errors import EnclaveError, NotAllowed
from enclave.models import ExportFile, ExportRequest, Project
from policies.schema import EgressPolicy

DAY = timedelta(hours=24)


def check_request_files(paths: Sequence[str], policy: EgressPolicy) -> list[str]:
    """The request's paths, cleaned; refused when there are none, too many, or one is named twice."""
    if not paths:
        raise EnclaveError("no files in the request")
    if len(paths) > policy.max_files_per_request:
        raise NotAllowed("a request may name at most {max_files_per_request} files; this one "
                         "names {named}: split it, or put the files in one zip archive",
                         max_files_per_request=policy.max_files_per_request, named=len(paths))
    names = [clean(p) for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EnclaveError("each file may be named only once in a request; named more than once: {names}",
                           names=", ".join(twice))
    return names


def check_daily_limits(session: Session, slug: str, files: int, policy: EgressPolicy,
                       now: datetime | None = None) -> None:
    """Refused when the project's requests (or their files) in the last 24 hours reach the policy's limits.

    The project row is locked first (PostgreSQL), so simultaneous requests are counted one after another.
    """
    session.execute(select(Project.id).where(Project.slug == slug).with_for_update())
    since = (now or datetime.now(UTC)) - DAY
    recent = (ExportRequest.project == slug, ExportRequest.created_at >= since)
    requests = session.scalar(select(func.count(ExportRequest.id)).where(*recent)) or 0
    if requests >= policy.max_requests_per_day:
        raise NotAllowed("project '{slug}' has made {requests} export requests in the last 24 "
                         "hours, the most policy allows ({max_requests_per_day}); try again "
                         "later", slug=slug, requests=requests, max_requests_per_day=policy.max_requests_per_day)
    done = session.scalar(select(func.count(ExportFile.id)).join(ExportRequest).where(*recent)) or 0
    if done + files > policy.max_files_per_day:
        raise NotAllowed("project '{slug}' has requested {done} files in the last 24 hours; "
                         "{files} more would pass the limit of {max_files_per_day} per day; try "
                         "again later",
                         slug=slug, done=done, files=files, max_files_per_day=policy.max_files_per_day)
