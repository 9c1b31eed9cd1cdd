"""Tables of the analytics service, all inside its own PostgreSQL schema."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from tradelab_runtime.audit import AUDIT_TABLE, audit_columns
from tradelab_runtime.integrity import one_of

SCHEMA = "analytics"
STATUSES = ("ready", "failed")
FAILURE_REASONS = ("results_not_found", "results_unreadable", "internal")
"""``ReportFailureReason`` values (tradelab_contracts.analytics)."""
FAILURE_FIELDS_MATCH_STATUS = (
    "(status = 'failed') = (failure_reason IS NOT NULL) "
    "AND (failure_reason IS NULL) = (failure_message IS NULL)"
)
TOMBSTONE_ENTITIES = ("run", "owner")

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
    # Migration 0008: the chart names, so that reading an analysis need not open its charts.
    sa.Column("chart_names", JSONB(), nullable=True),
    sa.Column("equity_uri", sa.Text(), nullable=True),
    # Money the user typed: NUMERIC in the database (exact), read back as a float.
    sa.Column("initial_cash", sa.Numeric(asdecimal=False), nullable=True),
    sa.Column("report_uri", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Why the analysis was given up on (status failed only; migration 0006).
    sa.Column("failure_reason", sa.Text(), nullable=True),
    sa.Column("failure_message", sa.Text(), nullable=True),
    # Migrations 0005 and 0006: what the database itself refuses.
    sa.CheckConstraint(one_of("status", STATUSES), name="ck_analyses_status"),
    sa.CheckConstraint(
        one_of("failure_reason", FAILURE_REASONS), name="ck_analyses_failure_reason"
    ),
    sa.CheckConstraint(FAILURE_FIELDS_MATCH_STATUS, name="ck_analyses_failure"),
    sa.CheckConstraint("rolling_window > 0", name="ck_analyses_rolling_window"),
    sa.CheckConstraint(
        "initial_cash > 0 AND initial_cash <> 'NaN' AND initial_cash <> 'Infinity'",
        name="ck_analyses_initial_cash",
    ),
)

# Runs deleted and owners erased (migration 0006): no analysis of theirs is written afterwards,
# however late its BacktestCompleted arrives. Kept, never pruned (docs/architecture.md).
tombstones = sa.Table(
    "tombstones",
    metadata,
    sa.Column("entity", sa.Text(), primary_key=True),
    sa.Column("entity_id", sa.Uuid(), primary_key=True),
    sa.Column(
        "erased_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.CheckConstraint(one_of("entity", TOMBSTONE_ENTITIES), name="ck_tombstones_entity"),
)

# Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE; migration 0005).
audit_log = sa.Table(AUDIT_TABLE, metadata, *audit_columns())
