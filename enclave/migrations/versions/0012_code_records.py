"""code_records: every executed notebook cell and terminal command, append-only (activity/)

Revision ID: 0012_code_records
Revises: 0011_imports
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_code_records"
down_revision = "0011_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("user", sa.String(64), nullable=False, index=True),
        sa.Column("project", sa.String(40), nullable=False, index=True),
        sa.Column("workspace", sa.String(200), nullable=False),
        sa.Column("kernel", sa.String(200), nullable=False),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("execution_count", sa.Integer(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("code_length", sa.Integer(), nullable=False),
        sa.Column("executed_at", sa.String(40), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False, index=True),
        sa.Column("audit_seq", sa.Integer(), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("code_records")
