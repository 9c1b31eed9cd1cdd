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
