"""governance: project applications with immutable versions, approval steps, accreditations, dataset docs

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("applicant", sa.String(64), nullable=False, index=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("amends", sa.String(40), nullable=False, server_default=""),
        sa.Column("draft", sa.JSON, nullable=False),
        sa.Column("project", sa.String(40), nullable=False, server_default=""),
        _ts("created_at", False), _ts("updated_at", False),
    )
    op.create_table(
        "application_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        _ts("submitted_at", False),
        sa.UniqueConstraint("application_id", "number"),
    )
    op.create_table(
        "approval_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("party", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False, server_default=""),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _ts("opened_at"), _ts("due_at"),
        sa.Column("decided_by", sa.String(64), nullable=False, server_default=""),
        _ts("decided_at"),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        _ts("escalated_at"),
    )
    op.create_table(
        "accreditations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("training_completed", sa.Date, nullable=False),
        sa.Column("expires", sa.Date, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False, server_default=""),
        _ts("recorded_at", False),
        sa.Column("warned_for", sa.Date, nullable=True),
    )
    op.create_table(
        "dataset_docs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default=""),
        _ts("updated_at", False),
    )


def downgrade() -> None:
    for table in ("dataset_docs", "accreditations", "approval_steps", "application_versions", "applications"):
        op.drop_table(table)
