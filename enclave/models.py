"""The things people talk about, as SQLAlchemy models, with their states and allowed transitions."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


def _enum(cls: type[enum.Enum]) -> SAEnum:
    # Stored as plain strings so that adding a state is a data change, not a type migration.
    return SAEnum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Role(enum.StrEnum):
    """Enclave-wide roles, taken from the identity provider's groups claim."""

    RESEARCHER = "researcher"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"


class ProjectState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    CLOSED = "closed"


PROJECT_TRANSITIONS: dict[ProjectState, frozenset[ProjectState]] = {
    ProjectState.REQUESTED: frozenset({ProjectState.APPROVED, ProjectState.CLOSED}),
    ProjectState.APPROVED: frozenset({ProjectState.ACTIVE, ProjectState.SUSPENDED, ProjectState.CLOSED}),
    ProjectState.ACTIVE: frozenset({ProjectState.SUSPENDED, ProjectState.EXPIRED, ProjectState.CLOSED}),
    ProjectState.SUSPENDED: frozenset({ProjectState.ACTIVE, ProjectState.EXPIRED, ProjectState.CLOSED}),
    ProjectState.EXPIRED: frozenset({ProjectState.CLOSED}),
    ProjectState.CLOSED: frozenset(),
}


class MemberRole(enum.StrEnum):
    PI = "pi"
    RESEARCHER = "researcher"


class WorkMode(enum.StrEnum):
    """How a project's researchers meet its data: rows in an interactive workspace, or only through jobs.

    `blind`: the workspace holds the dummy version of every dataset and code runs on the real rows only
    in sealed jobs whose checked outputs come back ("usable but not visible").
    """

    INTERACTIVE = "interactive"
    BLIND = "blind"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    institution: Mapped[str] = mapped_column(String(200), default="")  # from the IdP's claim, as it says
    # "<issuer> <sub>" of the identity the account was first signed in with: another identity presenting the
    # same username (a renamed or reused name at the provider) is refused instead of taking the account over.
    idp_subject: Mapped[str] = mapped_column(String(400), default="")
    roles: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    # Every membership the user ever had (a removed one keeps its row, with `removed_at`) ...
    membership_history: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")
    # ... and the ones in effect now: what every access decision reads.
    memberships: Mapped[list[Membership]] = relationship(
        primaryjoin="and_(User.id == Membership.user_id, Membership.removed_at.is_(None))", viewonly=True)
    # The training and standing on record (one per person), read by every rule that asks "may she still work here".
    accreditation: Mapped[Accreditation | None] = relationship(
        primaryjoin="User.username == foreign(Accreditation.username)", viewonly=True, uselist=False)


class Project(Base):
    """One approved purpose: its own members, datasets, expiry, limits and network."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    approval_ref: Mapped[str] = mapped_column(String(100), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    pi: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[ProjectState] = mapped_column(_enum(ProjectState), default=ProjectState.REQUESTED)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    expiry_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    cpu_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_limit: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pids_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The strictest way of working the project asked for; policy per dataset tier may be stricter still
    # (`enclave.modes.workspace_mode` decides).
    work_mode: Mapped[WorkMode] = mapped_column(_enum(WorkMode), default=WorkMode.INTERACTIVE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Everyone who was ever a member (reviewer independence reads this) and the members now.
    member_history: Mapped[list[Membership]] = relationship(back_populates="project", cascade="all, delete-orphan")
    members: Mapped[list[Membership]] = relationship(
        primaryjoin="and_(Project.id == Membership.project_id, Membership.removed_at.is_(None))", viewonly=True)
    approvals: Mapped[list[Approval]] = relationship(back_populates="project", cascade="all, delete-orphan")


class Membership(Base):
    """A user in a project. Removing a member sets `removed_at` and keeps the row: a former colleague
    stays a colleague for reviewer independence, and re-adding her makes the same row current again."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole), default=MemberRole.RESEARCHER)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    project: Mapped[Project] = relationship(back_populates="member_history")
    user: Mapped[User] = relationship(back_populates="membership_history")


class Dataset(Base):
    """One immutable version of a dataset; the manifest records every file's checksum and schema."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    tier: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(500))
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


class Approval(Base):
    """A dataset version approved for a project; revoking keeps the row for the record."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"))
    approved_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    project: Mapped[Project] = relationship(back_populates="approvals")
    dataset: Mapped[Dataset] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ExportState(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    CONFLICTED = "conflicted"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"
    REVISED = "revised"  # returned, then replaced by its requester's next version (a new request)


EXPORT_TRANSITIONS: dict[ExportState, frozenset[ExportState]] = {
    ExportState.SUBMITTED: frozenset({ExportState.IN_REVIEW, ExportState.WITHDRAWN}),
    ExportState.IN_REVIEW: frozenset({ExportState.APPROVED, ExportState.RETURNED, ExportState.REJECTED,
                                      ExportState.CONFLICTED, ExportState.WITHDRAWN}),
    # Back to review when a review (or the resolution) that decided it stops counting before the release.
    ExportState.CONFLICTED: frozenset({ExportState.APPROVED, ExportState.RETURNED, ExportState.REJECTED,
                                       ExportState.IN_REVIEW}),
    ExportState.APPROVED: frozenset({ExportState.RELEASED, ExportState.IN_REVIEW, ExportState.CONFLICTED}),
    ExportState.RETURNED: frozenset({ExportState.SUBMITTED, ExportState.WITHDRAWN, ExportState.REVISED}),
    ExportState.REJECTED: frozenset(),
    ExportState.RELEASED: frozenset(),
    ExportState.WITHDRAWN: frozenset(),
    ExportState.REVISED: frozenset(),
}


class Decision(enum.StrEnum):
    """A reviewer's (or a conflict resolver's) decision on a whole request."""

    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"


class FileVote(enum.StrEnum):
    """A reviewer's vote on one file of a request: approve it, ask for changes, or reject it."""

    APPROVE = "approve"
    CHANGES = "changes"
    REJECT = "reject"


class FileOutcome(enum.StrEnum):
    """What the review made of one file: only `approved` files of an approved request are released."""

    PENDING = "pending"  # fewer than two reviews so far
    APPROVED = "approved"  # both reviewers (or, after a conflict, a reviewer and the resolver) approved it
    RETURNED = "returned"  # changes asked for: withheld, and may come back in a new version
    REJECTED = "rejected"  # withheld for good
    CONFLICTED = "conflicted"  # one reviewer approved it and the other did not: a third reviewer decides


class ExportRequest(Base):
    """Files a researcher asks to take out, with the automated findings and two reviews."""

    __tablename__ = "export_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(40), index=True)
    requester: Mapped[str] = mapped_column(String(64), index=True)
    justification: Mapped[str] = mapped_column(Text)
    state: Mapped[ExportState] = mapped_column(_enum(ExportState), default=ExportState.SUBMITTED)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolution: Mapped[str] = mapped_column(Text, default="")
    # A conflict is resolved by a third reviewer, who votes on every file as a reviewer does.
    resolved_by: Mapped[str] = mapped_column(String(64), default="")
    resolution_votes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A returned request revised by its requester: the new version is a new request naming the one it revises.
    version: Mapped[int] = mapped_column(Integer, default=1)
    revision_of: Mapped[int | None] = mapped_column(ForeignKey("export_requests.id"), nullable=True, index=True)
    # Reviewers working on it now: username -> ISO time claimed (shown in the queue, audited).
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)

    files: Mapped[list[ExportFile]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                   order_by="ExportFile.id")
    # The reviews that count: a voided one (its reviewer stopped being independent before the request was
    # decided) stays on the record in `voided_reviews` and counts for nothing.
    reviews: Mapped[list[Review]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="Review.id",
        primaryjoin="and_(ExportRequest.id == Review.request_id, Review.void_reason == '')")
    voided_reviews: Mapped[list[Review]] = relationship(
        viewonly=True, order_by="Review.id",
        primaryjoin="and_(ExportRequest.id == Review.request_id, Review.void_reason != '')")
    release: Mapped[Release | None] = relationship(back_populates="request", cascade="all, delete-orphan")


class ExportFile(Base):
    """A copy taken at request time, addressed by sha256: later edits in the workspace change nothing."""

    __tablename__ = "export_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("export_requests.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    scan: Mapped[dict[str, Any]] = mapped_column(default=dict)

    request: Mapped[ExportRequest] = relationship(back_populates="files")

    @property
    def verdict(self) -> str:
        return str(self.scan.get("verdict", "review"))


class Review(Base):
    """One reviewer's decision on a request, with per-file votes; unique per reviewer."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("request_id", "reviewer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("export_requests.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[Decision] = mapped_column(_enum(Decision))
    file_votes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment_to_requester: Mapped[str] = mapped_column(Text, default="")
    private_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Why the review stopped counting before the request was decided ("" while it counts): its reviewer
    # joined the project or lost the reviewer role, so the request waits for another independent review.
    void_reason: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[ExportRequest] = relationship(back_populates="reviews")


class Release(Base):
    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("export_requests.id", ondelete="CASCADE"), unique=True)
    released_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)

    request: Mapped[ExportRequest] = relationship(back_populates="release")


class JobState(enum.StrEnum):
    """A blind-mode job: queued, running, then finished (ran to its end, whatever its exit code),
    failed (could not run or was stopped by a limit), cancelled, or interrupted (its container was lost
    while the service was away: nothing of it is recorded, and it can be run again)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class JobRelease(enum.StrEnum):
    """Whether a job's log and outputs came back into the workspace: the checks passed them, an output
    checker released them, or they are held (review) or blocked."""

    PENDING = "pending"
    DELIVERED = "delivered"
    HELD = "held"
    BLOCKED = "blocked"
    RELEASED = "released"
    WITHHELD = "withheld"


class Job(Base):
    """Code run on a project's real data in a sealed container; the row is its provenance record."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(40), index=True)
    submitter: Mapped[str] = mapped_column(String(64), index=True)
    command: Mapped[str] = mapped_column(Text)
    outputs_dir: Mapped[str] = mapped_column(String(200), default="results")
    code_sha256: Mapped[str] = mapped_column(String(64))  # of the snapshot's manifest (path -> sha256)
    code_manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image: Mapped[str] = mapped_column(String(200), default="")
    image_digest: Mapped[str] = mapped_column(String(200), default="")
    datasets: Mapped[dict[str, Any]] = mapped_column(default=dict)  # name -> {version, tier, manifest sha256s}
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[JobState] = mapped_column(_enum(JobState), default=JobState.QUEUED, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    container: Mapped[str] = mapped_column(String(100), default="")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # file -> {sha256, bytes, verdict, kinds}
    release: Mapped[JobRelease] = mapped_column(_enum(JobRelease), default=JobRelease.PENDING)
    released_by: Mapped[str] = mapped_column(String(64), default="")
    rerun_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEvent(Base):
    """One record of the append-only, HMAC-chained audit trail."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Single row naming the chain's last record; updating it first serialises concurrent writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="0" * 64)


# --- governance: applications for projects, their approval chains, accreditation, dataset documentation ---


class ApplicationState(enum.StrEnum):
    """Where a project application stands; `approved` means the project (or amendment) was made."""

    DRAFT = "draft"
    SUBMITTED = "submitted"  # its current version waits for the parties of the approval chain
    CHANGES = "changes"  # a party asked for changes: the applicant amends it (a new version)
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


APPLICATION_TRANSITIONS: dict[ApplicationState, frozenset[ApplicationState]] = {
    ApplicationState.DRAFT: frozenset({ApplicationState.SUBMITTED, ApplicationState.WITHDRAWN}),
    ApplicationState.SUBMITTED: frozenset({ApplicationState.CHANGES, ApplicationState.APPROVED,
                                           ApplicationState.REJECTED, ApplicationState.WITHDRAWN}),
    ApplicationState.CHANGES: frozenset({ApplicationState.SUBMITTED, ApplicationState.WITHDRAWN}),
    ApplicationState.APPROVED: frozenset(),
    ApplicationState.REJECTED: frozenset(),
    ApplicationState.WITHDRAWN: frozenset(),
}


class Party(enum.StrEnum):
    """Who must agree to an application (governance.yaml names the people)."""

    STEWARD = "steward"  # the data steward of each requested dataset
    DATA_OWNER = "data_owner"  # the owner of each requested dataset of a high tier
    ETHICS = "ethics"  # the ethics / compliance officer


class StepState(enum.StrEnum):
    WAITING = "waiting"  # an earlier stage of the chain has not finished
    PENDING = "pending"  # open for its party's decision
    APPROVED = "approved"
    CHANGES = "changes"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # the version it was for was replaced by an amendment


class StepDecision(enum.StrEnum):
    """A party's decision on one step of an application's approval chain."""

    APPROVE = "approve"
    CHANGES = "changes"
    REJECT = "reject"


class Application(Base):
    """A researcher's application for a project (or an amendment of one); submitted versions are immutable."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[ApplicationState] = mapped_column(_enum(ApplicationState), default=ApplicationState.DRAFT)
    amends: Mapped[str] = mapped_column(String(40), default="")  # slug of the project an amendment changes
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the applicant is editing now
    project: Mapped[str] = mapped_column(String(40), default="")  # the project made (or amended) on approval
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[ApplicationVersion]] = relationship(back_populates="application",
                                                              cascade="all, delete-orphan",
                                                              order_by="ApplicationVersion.number")
    steps: Mapped[list[ApprovalStep]] = relationship(back_populates="application", cascade="all, delete-orphan",
                                                     order_by="ApprovalStep.id")


class ApplicationVersion(Base):
    """One submitted text of an application, never changed afterwards (an amendment is the next number)."""

    __tablename__ = "application_versions"
    __table_args__ = (UniqueConstraint("application_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[Application] = relationship(back_populates="versions")


class ApprovalStep(Base):
    """One party's decision on one version of an application, with the time policy gives it."""

    __tablename__ = "approval_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    party: Mapped[Party] = mapped_column(_enum(Party))
    subject: Mapped[str] = mapped_column(String(64), default="")  # the dataset a steward or owner decides for
    stage: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[StepState] = mapped_column(_enum(StepState), default=StepState.WAITING)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    application: Mapped[Application] = relationship(back_populates="steps")


class Accreditation(Base):
    """A person's training and standing: the level decides which dataset tiers they may use, until it expires."""

    __tablename__ = "accreditations"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    training_completed: Mapped[date] = mapped_column(Date)
    expires: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    warned_for: Mapped[date | None] = mapped_column(Date, nullable=True)  # the expiry a lapse warning was sent for


class DatasetDoc(Base):
    """What stewards write about a dataset version (description, column notes); the data itself never changes."""

    __tablename__ = "dataset_docs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    columns: Mapped[dict[str, Any]] = mapped_column(default=dict)  # column -> description
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
