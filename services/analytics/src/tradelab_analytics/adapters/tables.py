"""Tables of the analytics service, all inside its own PostgreSQL schema."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from tradelab_runtime.audit import AUDIT_TABLE, audit_columns

SCHEMA = "analytics"

metadata = sa.MetaData(schema=SCHEMA)

analyses = sa.Table(
    "analyses",
    metadata,
    sa.Column("run_id", sa.Uuid(), primary_key=True),
    sa.Column("owner_id", sa.Uuid(), nullable=False),
    sa.Column("dataset_id", sa.Uuid(), nullable=False),
    sa.Column("strategy", sa.Text(), nullable=False),
    sa.Column("parameters", JSONB(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("metrics", JSONB(), nullable=False),
    sa.Column("worst_drawdowns", JSONB(), nullable=False),
    sa.Column("monthly_returns", JSONB(), nullable=False),
    sa.Column("yearly_returns", JSONB(), nullable=False),
    sa.Column("rolling_window", sa.Integer(), nullable=True),
    sa.Column("charts_uri", sa.Text(), nullable=True),
    sa.Column("equity_uri", sa.Text(), nullable=True),
    # Money the user typed: NUMERIC in the database (exact), read back as a float.
    sa.Column("initial_cash", sa.Numeric(asdecimal=False), nullable=True),
    sa.Column("report_uri", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Migration 0005: what the database itself refuses.
    sa.CheckConstraint("status IN ('ready')", name="ck_analyses_status"),
    sa.CheckConstraint("rolling_window > 0", name="ck_analyses_rolling_window"),
    sa.CheckConstraint(
        "initial_cash > 0 AND initial_cash <> 'NaN' AND initial_cash <> 'Infinity'",
        name="ck_analyses_initial_cash",
    ),
)

# Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE; migration 0005).
audit_log = sa.Table(AUDIT_TABLE, metadata, *audit_columns())
