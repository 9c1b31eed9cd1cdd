"""Tables of the datasets service, all inside its own PostgreSQL schema."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_contracts.datasets_rpc import DatasetStatus
from tradelab_runtime.audit import AUDIT_TABLE, audit_columns
from tradelab_runtime.integrity import one_of

SCHEMA = "datasets"

metadata = sa.MetaData(schema=SCHEMA)

datasets = sa.Table(
    "datasets",
    metadata,
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
    sa.Column("correlation_id", sa.Uuid()),
    # When the upload was last announced for ingestion, and how often it was announced again.
    sa.Column("dispatched_at", sa.DateTime(timezone=True)),
    sa.Column("redrives", sa.Integer(), nullable=False, server_default="0"),
    # Ingestions started and never ended (a process killed while reading the file).
    sa.Column("ingest_starts", sa.Integer(), nullable=False, server_default="0"),
    # The same bytes uploaded twice by one user are one dataset.
    sa.UniqueConstraint("owner_id", "raw_sha256", name="uq_datasets_owner_raw_sha256"),
    # Migration 0005: what the database itself refuses.
    sa.CheckConstraint(one_of("status", DatasetStatus), name="ck_datasets_status"),
    sa.CheckConstraint(
        one_of("reject_reason", DatasetRejectReason), name="ck_datasets_reject_reason"
    ),
    sa.CheckConstraint("size_bytes >= 0", name="ck_datasets_size_bytes"),
    sa.CheckConstraint("rows >= 0", name="ck_datasets_rows"),
    sa.CheckConstraint("redrives >= 0", name="ck_datasets_redrives"),
    sa.CheckConstraint("ingest_starts >= 0", name="ck_datasets_ingest_starts"),
    sa.CheckConstraint("quality_score BETWEEN 0 AND 100", name="ck_datasets_quality_score"),
    sa.Index("ix_datasets_owner_created", "owner_id", sa.text("created_at DESC")),
    sa.Index("ix_datasets_owner_symbol", "owner_id", "symbol"),
    sa.Index("ix_datasets_owner_timeframe", "owner_id", "timeframe"),
    sa.Index("ix_datasets_storage_uri", "storage_uri"),
    sa.Index(
        "ix_datasets_pending_dispatched",
        "dispatched_at",
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

# Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE; migration 0005).
audit_log = sa.Table(AUDIT_TABLE, metadata, *audit_columns())
