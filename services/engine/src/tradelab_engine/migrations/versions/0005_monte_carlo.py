"""Monte Carlo studies: request, priority queue, attempt (exactly-once completion), results.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
SCHEMA = "engine"


def upgrade() -> None:
    op.create_table(
        "monte_carlo",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("source_run_id", sa.Uuid()),
        sa.Column("dataset_id", sa.Uuid()),
        sa.Column("strategy", sa.Text()),
        sa.Column("spec", JSONB(), nullable=False),
        sa.Column("n_simulations", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("simulations_done", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.Text()),
        sa.Column("taken_on", sa.Uuid()),
        sa.Column("results", JSONB()),
        sa.Column("results_uri", sa.Text()),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("failure_message", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_monte_carlo_owner_created",
        "monte_carlo",
        ["owner_id", sa.text("created_at DESC")],
        schema=SCHEMA,
    )
    # The queue: the most urgent queued study first (priority, then age).
    op.create_index(
        "ix_monte_carlo_queue",
        "monte_carlo",
        ["priority_rank", "created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'queued'"),
    )
    # A redelivered job message finds the study it was running.
    op.create_index(
        "ix_monte_carlo_taken_on",
        "monte_carlo",
        ["taken_on"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_table("monte_carlo", schema=SCHEMA)
