"""Drop ``login_failures``: failed logins are throttled by the gateway, in Redis.

Counting them here keyed the count by e-mail, so anyone could lock an account's owner out by
failing against it from anywhere; the gateway counts per (account, address) and per address, in
a store every replica shares.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
SCHEMA = "auth"


def upgrade() -> None:
    op.drop_table("login_failures", schema=SCHEMA)


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_login_failures_key_failed_at", "login_failures", ["key", "failed_at"], schema=SCHEMA
    )
