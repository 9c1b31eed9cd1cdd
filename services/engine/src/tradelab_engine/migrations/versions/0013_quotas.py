"""Quotas: a Monte Carlo study keeps the bars each of its simulations steps through.

The engine limits the simulations x bars of one user's queued and running studies together
(``ENGINE_QUOTA_MONTE_CARLO_SIMULATION_BARS``); summing ``n_simulations * bars`` over them needs
the bars, known when the study is submitted (its horizon, or the length of its source). Studies
written before count as 0 bars: they were admitted without the quota. Partial indexes over the
owner's active jobs keep each quota's count an index scan.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
SCHEMA = "engine"
JOB_TABLES = ("runs", "optimizations", "monte_carlo")
ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.add_column(
        "monte_carlo",
        sa.Column("bars", sa.BigInteger(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_check_constraint("ck_monte_carlo_bars", "monte_carlo", "bars >= 0", schema=SCHEMA)
    for table in JOB_TABLES:
        op.create_index(
            f"ix_{table}_owner_active",
            table,
            ["owner_id"],
            schema=SCHEMA,
            postgresql_where=sa.text(ACTIVE),
        )


def downgrade() -> None:
    for table in JOB_TABLES:
        op.drop_index(f"ix_{table}_owner_active", table, schema=SCHEMA)
    op.drop_constraint("ck_monte_carlo_bars", "monte_carlo", schema=SCHEMA, type_="check")
    op.drop_column("monte_carlo", "bars", schema=SCHEMA)
