"""Stored analyses: one row per backtest run, metrics as JSONB.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
SCHEMA = "analytics"


def upgrade() -> None:
    op.create_table(
        "analyses",
        sa.Column("run_id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("parameters", JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("metrics", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_analyses_owner_created",
        "analyses",
        ["owner_id", sa.text("created_at DESC")],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_analyses_parameters", "analyses", ["parameters"], schema=SCHEMA, postgresql_using="gin"
    )


def downgrade() -> None:
    op.drop_table("analyses", schema=SCHEMA)
