"""Tables of the analytics service, all inside its own PostgreSQL schema."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

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
    sa.Column("initial_cash", sa.Float(), nullable=True),
    sa.Column("report_uri", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
