"""import_requests: files brought in through the import airlock, their checks and stewards' reviews (imports/)

Revision ID: 0011_imports
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_imports"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("requester", sa.String(64), nullable=False, index=True),
        sa.Column("project", sa.String(40), nullable=False, index=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("import_requests")
