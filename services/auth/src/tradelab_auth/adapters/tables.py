"""Tables of the auth service, all inside its own PostgreSQL schema (SQLAlchemy Core).

Migrations are written by hand in ``migrations/versions``; these definitions are what the
repository queries and must match them.
"""

from datetime import datetime

import sqlalchemy as sa

from tradelab_contracts.auth import UserRole
from tradelab_runtime.audit import AUDIT_TABLE, audit_columns
from tradelab_runtime.integrity import one_of

SCHEMA = "auth"

metadata = sa.MetaData(schema=SCHEMA)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("email", sa.Text(), nullable=False),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    # Migration 0006: 'user' or 'admin' (a check constraint refuses anything else).
    sa.Column("role", sa.Text(), nullable=False, server_default="user"),
    sa.CheckConstraint(one_of("role", UserRole), name="ck_users_role"),
    sa.Index("ux_users_email", "email", unique=True),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "user_id",
        sa.Uuid(),
        sa.ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("family_id", sa.Uuid(), nullable=False),
    sa.Column("token_hash", sa.Text(), nullable=False, unique=True),
    _timestamp("issued_at"),
    _timestamp("expires_at"),
    _timestamp("rotated_at", nullable=True),
    _timestamp("revoked_at", nullable=True),
    sa.Index("ix_refresh_tokens_family_id", "family_id"),
    sa.Index("ix_refresh_tokens_user_id", "user_id"),
)

# Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE; migration 0004).
audit_log = sa.Table(AUDIT_TABLE, metadata, *audit_columns())
