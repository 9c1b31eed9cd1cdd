"""Outbox, dead letters and job leases.

Events are stored with the state they announce (``outbox``, relayed by tradelab_runtime.outbox);
messages a consumer gave up on are parked in ``dead_letters``. Backtests and Monte Carlo studies
get the lease their running attempt renews (``lease_expires_at``) and the time their job message
was last published (``dispatched_at``), so a sweeper re-queues the jobs of a dead worker and
publishes again the messages of queued jobs a restarted broker lost.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from tradelab_runtime.dead_letters import DEAD_LETTERS_TABLE, create_dead_letters_table
from tradelab_runtime.outbox import OUTBOX_TABLE, create_outbox_table

revision = "0008"
down_revision = "0007"
SCHEMA = "engine"
JOB_TABLES = ("runs", "monte_carlo")


def upgrade() -> None:
    create_outbox_table(SCHEMA)
    create_dead_letters_table(SCHEMA)
    for table in JOB_TABLES:
        op.add_column(
            table, sa.Column("lease_expires_at", sa.DateTime(timezone=True)), schema=SCHEMA
        )
        op.add_column(table, sa.Column("dispatched_at", sa.DateTime(timezone=True)), schema=SCHEMA)
        # Jobs already queued or running were dispatched when they were created; a running one
        # has no lease yet, so the sweeper takes it over at once (its worker was the old code).
        op.execute(f"UPDATE {SCHEMA}.{table} SET dispatched_at = created_at")  # noqa: S608 - constants
        op.create_index(
            f"ix_{table}_active",
            table,
            ["status", "lease_expires_at"],
            schema=SCHEMA,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )


def downgrade() -> None:
    for table in JOB_TABLES:
        op.drop_index(f"ix_{table}_active", table_name=table, schema=SCHEMA)
        op.drop_column(table, "dispatched_at", schema=SCHEMA)
        op.drop_column(table, "lease_expires_at", schema=SCHEMA)
    op.drop_table(DEAD_LETTERS_TABLE, schema=SCHEMA)
    op.drop_table(OUTBOX_TABLE, schema=SCHEMA)
