"""reviews.void_reason: a review whose reviewer stopped being independent before the decision stops counting

Revision ID: 0013_void_reviews
Revises: 0012_code_records
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_void_reviews"
down_revision = "0012_code_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("void_reason")
