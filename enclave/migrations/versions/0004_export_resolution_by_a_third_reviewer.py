"""who resolved a conflicted export request, and their per-file votes

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_requests") as batch_op:
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("resolution_votes", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("export_requests") as batch_op:
        batch_op.drop_column("resolution_votes")
        batch_op.drop_column("resolved_by")
