"""projects: work mode (interactive or blind); jobs: code run on real data in sealed containers

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column("work_mode", sa.String(32), nullable=False, server_default="interactive"))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project", sa.String(40), nullable=False, index=True),
        sa.Column("submitter", sa.String(64), nullable=False, index=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("outputs_dir", sa.String(200), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("code_manifest", sa.JSON(), nullable=False),
        sa.Column("image", sa.String(200), nullable=False),
        sa.Column("image_digest", sa.String(200), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("container", sa.String(100), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("release", sa.String(32), nullable=False),
        sa.Column("released_by", sa.String(64), nullable=False),
        sa.Column("rerun_of", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("jobs")
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("work_mode")
