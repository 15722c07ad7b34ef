"""package_requests: researchers' requests for Python packages and stewards' decisions (packages/)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("requester", sa.String(64), nullable=False, index=True),
        sa.Column("project", sa.String(40), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("fetch", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("package_requests")
