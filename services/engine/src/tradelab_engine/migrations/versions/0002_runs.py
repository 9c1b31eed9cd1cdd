"""Backtest runs: request, status, progress, attempt (for exactly-once completion), results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
SCHEMA = "engine"


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_uri", sa.Text(), nullable=False),
        sa.Column("dataset_sha256", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text()),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("parameters", JSONB(), nullable=False),
        sa.Column("options", JSONB(), nullable=False),
        sa.Column("cache_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.Text()),
        sa.Column("summary", JSONB()),
        sa.Column("equity_uri", sa.Text()),
        sa.Column("trades_uri", sa.Text()),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("failure_message", sa.Text()),
        sa.Column("engine_version", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_runs_owner_created", "runs", ["owner_id", sa.text("created_at DESC")], schema=SCHEMA
    )
    # The result cache: an identical finished request is answered from here.
    op.create_index(
        "ix_runs_cache_key_completed",
        "runs",
        ["cache_key"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'completed' AND NOT cached"),
    )
    op.create_index(
        "ix_runs_parameters", "runs", ["parameters"], schema=SCHEMA, postgresql_using="gin"
    )
    op.create_index("ix_runs_equity_uri", "runs", ["equity_uri"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("runs", schema=SCHEMA)
