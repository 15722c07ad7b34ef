"""memberships: a removed member keeps her row (removed_at), so "ever a member" can be answered

Reviewer independence must not be restored by removing someone from a project for one review.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM memberships WHERE removed_at IS NOT NULL")
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.drop_column("removed_at")
