"""Tables of the engine service, all inside its own PostgreSQL schema."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "engine"

metadata = sa.MetaData(schema=SCHEMA)

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
)
