"""Fair queueing: the indexes a fair claim reads.

A claim takes the next job of the user with the fewest running jobs over every job table, then
the one served least recently (``lifecycle/fair.py``). Per job table, ``ix_<table>_owner_active``
(migration 0013, the quotas' count) counts a user's running jobs and lists their queued ones, and
``ix_<table>_owner_started`` finds when their latest job started, without reading the user's
whole history. No data changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
SCHEMA = "engine"
JOB_TABLES = ("runs", "optimizations", "monte_carlo")


def upgrade() -> None:
    for table in JOB_TABLES:
        op.create_index(
            f"ix_{table}_owner_started",
            table,
            ["owner_id", "started_at"],
            schema=SCHEMA,
            postgresql_where=sa.text("started_at IS NOT NULL"),
        )


def downgrade() -> None:
    for table in JOB_TABLES:
        op.drop_index(f"ix_{table}_owner_started", table_name=table, schema=SCHEMA)
