"""Tables of the engine service, all inside its own PostgreSQL schema."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import SchemaItem

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import RunStatus
from tradelab_contracts.montecarlo import MonteCarloMethod, Priority
from tradelab_runtime.audit import AUDIT_TABLE, audit_columns
from tradelab_runtime.integrity import json_number, one_of
from tradelab_runtime.trace_context import trace_context_column

SCHEMA = "engine"

metadata = sa.MetaData(schema=SCHEMA)


# What the database itself refuses (migration 0009) ------------------------------------------------
def _check(table: str, suffix: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=f"ck_{table}_{suffix}")


def _job_checks(table: str) -> list[sa.CheckConstraint]:
    return [
        _check(table, "status", one_of("status", RunStatus)),
        _check(table, "event_seq", "event_seq >= 0"),
    ]


def _attempt_checks(table: str) -> list[sa.CheckConstraint]:
    return [
        _check(table, "failure_reason", one_of("failure_reason", FailureReason)),
        _check(table, "progress", "progress BETWEEN 0 AND 1"),
        _check(table, "attempt", "attempt >= 0"),
    ]


def _money_checks(table: str, document: str) -> list[sa.CheckConstraint]:
    """User-entered money lives in the JSONB engine options; checked there."""
    return [
        _check(table, "initial_cash", json_number(document, "initial_cash", "{v} > 0")),
        _check(table, "fee_rate", json_number(document, "fee_rate", "{v} >= 0")),
        _check(table, "fixed_fee", json_number(document, "fixed_fee", "{v} >= 0")),
    ]


def _of_optimization(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["optimization_id"],
        [f"{SCHEMA}.optimizations.id"],
        name=f"fk_{table}_optimization",
        ondelete="CASCADE",
    )


CHUNKS_DONE = "chunks >= 0 AND chunks_done BETWEEN 0 AND chunks"


# A job's Idempotency-Key (migration 0012) ---------------------------------------------------------
def idempotency_index(table: str) -> str:
    """The unique index that keeps one job per owner and key in ``table``."""
    return f"uq_{table}_owner_idempotency_key"


def _active_index(table: str) -> sa.Index:
    """The owner's queued and running jobs, counted by every quota check (migration 0013)."""
    return sa.Index(
        f"ix_{table}_owner_active",
        "owner_id",
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def _started_index(table: str) -> sa.Index:
    """When the owner's latest job started, read by every fair claim (migration 0014)."""
    return sa.Index(
        f"ix_{table}_owner_started",
        "owner_id",
        "started_at",
        postgresql_where=sa.text("started_at IS NOT NULL"),
    )


def _idempotency(table: str) -> list[SchemaItem]:
    """The key a job was submitted with and its request's hash; one job per owner and key."""
    bounded = (
        "(idempotency_key IS NULL AND request_sha256 IS NULL) OR "
        "(char_length(idempotency_key) BETWEEN 1 AND 255 AND char_length(request_sha256) = 64)"
    )
    return [
        sa.Column("idempotency_key", sa.Text()),
        sa.Column("request_sha256", sa.Text()),
        _check(table, "idempotency_key", bounded),
        sa.Index(
            idempotency_index(table),
            "owner_id",
            "idempotency_key",
            unique=True,
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        ),
    ]


runs = sa.Table(
    "runs",
    metadata,
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
    sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"),
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
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    sa.Column("dispatched_at", sa.DateTime(timezone=True)),
    *_job_checks("runs"),
    *_attempt_checks("runs"),
    *_money_checks("runs", "options"),
    *_idempotency("runs"),
    _active_index("runs"),
    _started_index("runs"),
    trace_context_column(),  # the submitting request's, for the worker (migration 0015)
)

optimizations = sa.Table(
    "optimizations",
    metadata,
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
    sa.Column("folds", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("out_of_sample", JSONB()),
    sa.Column("walk_forward_uri", sa.Text()),
    # The shared job lifecycle (migration 0010): a genetic search is claimed under a lease.
    sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("worker", sa.Text()),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    sa.Column("dispatched_at", sa.DateTime(timezone=True)),
    sa.Column("failure_reason", sa.Text()),
    *_job_checks("optimizations"),
    _check(
        "optimizations",
        "counts",
        "total >= 0 AND skipped >= 0 AND evaluated >= 0 AND folds >= 0",
    ),
    _check("optimizations", "chunks", CHUNKS_DONE),
    *_money_checks("optimizations", "spec->'options'"),
    # Migration 0011.
    _check("optimizations", "failure_reason", one_of("failure_reason", FailureReason)),
    _check("optimizations", "attempt", "attempt >= 0"),
    *_idempotency("optimizations"),
    _active_index("optimizations"),
    _started_index("optimizations"),
    trace_context_column(),  # the submitting request's, for the worker (migration 0015)
)

optimization_chunks = sa.Table(
    "optimization_chunks",
    metadata,
    sa.Column("optimization_id", sa.Uuid(), primary_key=True),
    sa.Column("chunk_index", sa.Integer(), primary_key=True),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("done", sa.Boolean(), nullable=False),
    sa.Column("worker", sa.Text()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    # What the chunk evaluates, so the sweeper can publish it again (migration 0010).
    sa.Column("combinations", JSONB()),
    sa.Column("first_index", sa.Integer()),
    sa.Column("fold_index", sa.Integer()),
    _check("optimization_chunks", "size", "size >= 0"),
    _check("optimization_chunks", "first_index", "first_index >= 0"),
    _check("optimization_chunks", "fold_index", "fold_index >= 0"),
    _of_optimization("optimization_chunks"),
)

optimization_results = sa.Table(
    "optimization_results",
    metadata,
    sa.Column("optimization_id", sa.Uuid(), primary_key=True),
    sa.Column("combo_index", sa.Integer(), primary_key=True),
    sa.Column("chunk_index", sa.Integer(), nullable=False),
    sa.Column("parameters", JSONB(), nullable=False),
    sa.Column("metrics", JSONB(), nullable=False),
    sa.Column("objective", sa.Float()),
    sa.Column("ranked", sa.Boolean(), nullable=False),
    sa.Column("fold_index", sa.Integer()),
    _of_optimization("optimization_results"),
)

optimization_folds = sa.Table(
    "optimization_folds",
    metadata,
    sa.Column("optimization_id", sa.Uuid(), primary_key=True),
    sa.Column("fold_index", sa.Integer(), primary_key=True),
    sa.Column("train_start_bar", sa.Integer(), nullable=False),
    sa.Column("train_end_bar", sa.Integer(), nullable=False),
    sa.Column("test_start_bar", sa.Integer(), nullable=False),
    sa.Column("test_end_bar", sa.Integer(), nullable=False),
    sa.Column("train_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("train_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("test_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("test_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("chunks", sa.Integer(), nullable=False),
    sa.Column("chunks_done", sa.Integer(), nullable=False),
    sa.Column("done", sa.Boolean(), nullable=False),
    sa.Column("best_parameters", JSONB()),
    sa.Column("train_metrics", JSONB()),
    sa.Column("test_metrics", JSONB()),
    _check("optimization_folds", "chunks", CHUNKS_DONE),
    _of_optimization("optimization_folds"),
)

# --- Monte Carlo studies (migration 0005) ---------------------------------------------------------
monte_carlo = sa.Table(
    "monte_carlo",
    metadata,
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
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    sa.Column("dispatched_at", sa.DateTime(timezone=True)),
    *_job_checks("monte_carlo"),
    *_attempt_checks("monte_carlo"),
    _check("monte_carlo", "method", one_of("method", MonteCarloMethod)),
    _check("monte_carlo", "priority", one_of("priority", Priority)),
    _check("monte_carlo", "n_simulations", "n_simulations > 0"),
    _check("monte_carlo", "simulations_done", "simulations_done >= 0"),
    *_money_checks("monte_carlo", "spec->'options'"),
    *_idempotency("monte_carlo"),
    # Migration 0013: bars each simulation steps through, for the simulation-bars quota.
    sa.Column("bars", sa.BigInteger(), nullable=False, server_default="0"),
    _check("monte_carlo", "bars", "bars >= 0"),
    _active_index("monte_carlo"),
    _started_index("monte_carlo"),
    trace_context_column(),  # the submitting request's, for the worker (migration 0015)
)

# --- Saved rule strategies (migration 0007) -------------------------------------------------------
user_strategies = sa.Table(
    "user_strategies",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("owner_id", sa.Uuid(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("rules", JSONB(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("owner_id", "name", name="uq_user_strategies_owner_name"),
)

JOB_TABLES = (runs, optimizations, monte_carlo)
"""Every table of jobs a user queues: a fair claim counts a user's running jobs over all of them."""

# Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE; migration 0009).
audit_log = sa.Table(AUDIT_TABLE, metadata, *audit_columns())
