"""users: institution from the identity provider, and the identity (issuer and sub) an account is bound to

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("institution", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("idp_subject", sa.String(length=400), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("idp_subject")
        batch_op.drop_column("institution")
