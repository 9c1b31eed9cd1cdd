"""Runs count the events published about them, so every event carries a sequence number that
survives failover (clients resume from it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
SCHEMA = "engine"


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("runs", "event_seq", schema=SCHEMA)
