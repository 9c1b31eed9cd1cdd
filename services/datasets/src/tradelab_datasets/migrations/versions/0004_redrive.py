"""What the pending sweeper needs: when a dataset's upload was last announced, how often it was
announced again, and the correlation id to announce it with.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
SCHEMA = "datasets"


def upgrade() -> None:
    op.add_column("datasets", sa.Column("correlation_id", sa.Uuid()), schema=SCHEMA)
    op.add_column("datasets", sa.Column("dispatched_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "datasets",
        sa.Column("redrives", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    # Datasets already pending count from their upload.
    op.execute("UPDATE datasets.datasets SET dispatched_at = created_at WHERE status = 'pending'")
    op.create_index(
        "ix_datasets_pending_dispatched",
        "datasets",
        ["dispatched_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_datasets_pending_dispatched", "datasets", schema=SCHEMA)
    op.drop_column("datasets", "redrives", schema=SCHEMA)
    op.drop_column("datasets", "dispatched_at", schema=SCHEMA)
    op.drop_column("datasets", "correlation_id", schema=SCHEMA)
