"""export requests: versions (a returned request revised as a new one) and reviewers' claims

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_requests") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("revision_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claims", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.create_index("ix_export_requests_revision_of", ["revision_of"])
        batch_op.create_foreign_key("fk_export_requests_revision_of", "export_requests", ["revision_of"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("export_requests") as batch_op:
        batch_op.drop_constraint("fk_export_requests_revision_of", type_="foreignkey")
        batch_op.drop_index("ix_export_requests_revision_of")
        batch_op.drop_column("claims")
        batch_op.drop_column("revision_of")
        batch_op.drop_column("version")
