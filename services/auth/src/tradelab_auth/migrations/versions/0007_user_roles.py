"""Add ``users.role``: ``user`` or ``admin`` (admins read the performance reports).

Every existing account becomes a ``user``; the first admin is named by ``AUTH_ADMIN_EMAIL`` or
promoted with ``tradelab-admin users promote``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
SCHEMA = "auth"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("role", sa.Text(), nullable=False, server_default="user"),
        schema=SCHEMA,
    )
    op.create_check_constraint("ck_users_role", "users", "role IN ('user', 'admin')", schema=SCHEMA)


def downgrade() -> None:
    op.drop_constraint("ck_users_role", "users", schema=SCHEMA)
    op.drop_column("users", "role", schema=SCHEMA)
