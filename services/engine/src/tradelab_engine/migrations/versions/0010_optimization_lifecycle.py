"""Optimisations on the shared job lifecycle.

A genetic search is claimed like any job (``attempt``, ``worker``, a lease its evolving replica
renews, ``dispatched_at``; ``failure_reason`` for the sweeper's give-up). Every chunk keeps what it
evaluates (``combinations``, ``first_index``, ``fold_index``) so the sweeper can publish again the
chunks a restarted broker lost. ``announced`` is dropped: the end of an optimisation is stored with
its event (the outbox), so there is no announcement left to patch.

An optimisation left completed without its results file by the old three-step completion goes back
to ``running``: the sweeper re-drives its completion, which writes the file and announces the end.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
SCHEMA = "engine"


def upgrade() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("worker", sa.Text()),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("failure_reason", sa.Text()),
    ]
    for column in columns:
        op.add_column("optimizations", column, schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.optimizations SET status = 'running', finished_at = NULL, "  # noqa: S608 - constants
        "event_seq = greatest(event_seq - 1, 0) "
        "WHERE status = 'completed' AND results_uri IS NULL"
    )
    op.execute(f"UPDATE {SCHEMA}.optimizations SET dispatched_at = created_at")  # noqa: S608 - constants
    op.drop_column("optimizations", "announced", schema=SCHEMA)
    op.create_index(
        "ix_optimizations_active",
        "optimizations",
        ["status", "lease_expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.add_column("optimization_chunks", sa.Column("combinations", JSONB()), schema=SCHEMA)
    op.add_column("optimization_chunks", sa.Column("first_index", sa.Integer()), schema=SCHEMA)
    op.add_column("optimization_chunks", sa.Column("fold_index", sa.Integer()), schema=SCHEMA)


def downgrade() -> None:
    for column in ("fold_index", "first_index", "combinations"):
        op.drop_column("optimization_chunks", column, schema=SCHEMA)
    op.drop_index("ix_optimizations_active", table_name="optimizations", schema=SCHEMA)
    op.add_column(
        "optimizations",
        sa.Column("announced", sa.Boolean(), nullable=False, server_default=sa.true()),
        schema=SCHEMA,
    )
    for column in ("failure_reason", "dispatched_at", "lease_expires_at", "worker", "attempt"):
        op.drop_column("optimizations", column, schema=SCHEMA)
