"""Parameter optimisations: the search, its chunks (each counted once) and every result.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
SCHEMA = "engine"


def upgrade() -> None:
    op.create_table(
        "optimizations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_uri", sa.Text(), nullable=False),
        sa.Column("dataset_sha256", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text()),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("spec", JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("evaluated", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("best_parameters", JSONB()),
        sa.Column("best_value", sa.Float()),
        sa.Column("best_metrics", JSONB()),
        sa.Column("results_uri", sa.Text()),
        sa.Column("failure_message", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_optimizations_owner_created",
        "optimizations",
        ["owner_id", sa.text("created_at DESC")],
        schema=SCHEMA,
    )
    op.create_table(
        "optimization_chunks",
        sa.Column("optimization_id", sa.Uuid(), primary_key=True),
        sa.Column("chunk_index", sa.Integer(), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.Text()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_table(
        "optimization_results",
        sa.Column("optimization_id", sa.Uuid(), primary_key=True),
        sa.Column("combo_index", sa.Integer(), primary_key=True),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("parameters", JSONB(), nullable=False),
        sa.Column("metrics", JSONB(), nullable=False),
        sa.Column("objective", sa.Float()),
        sa.Column("ranked", sa.Boolean(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_optimization_results_objective",
        "optimization_results",
        ["optimization_id", "objective"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("optimization_results", schema=SCHEMA)
    op.drop_table("optimization_chunks", schema=SCHEMA)
    op.drop_table("optimizations", schema=SCHEMA)
