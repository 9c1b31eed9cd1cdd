"""Dataset metadata: owner, file facts, hashes, status, quality report.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
SCHEMA = "datasets"


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("symbol", sa.Text()),
        sa.Column("exchange", sa.Text()),
        sa.Column("declared", JSONB(), nullable=False),
        sa.Column("timeframe", sa.Text()),
        sa.Column("rows", sa.BigInteger()),
        sa.Column("start_at", sa.DateTime(timezone=True)),
        sa.Column("end_at", sa.DateTime(timezone=True)),
        sa.Column("columns", JSONB()),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("raw_sha256", sa.Text(), nullable=False),
        sa.Column("raw_uri", sa.Text()),
        sa.Column("content_sha256", sa.Text()),
        sa.Column("storage_uri", sa.Text()),
        sa.Column("quality_score", sa.Float()),
        sa.Column("quality", JSONB()),
        sa.Column("reject_reason", sa.Text()),
        sa.Column("reject_message", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner_id", "raw_sha256", name="uq_datasets_owner_raw_sha256"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_datasets_owner_created",
        "datasets",
        ["owner_id", sa.text("created_at DESC")],
        schema=SCHEMA,
    )
    op.create_index("ix_datasets_owner_symbol", "datasets", ["owner_id", "symbol"], schema=SCHEMA)
    op.create_index(
        "ix_datasets_owner_timeframe", "datasets", ["owner_id", "timeframe"], schema=SCHEMA
    )
    op.create_index("ix_datasets_storage_uri", "datasets", ["storage_uri"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("datasets", schema=SCHEMA)
