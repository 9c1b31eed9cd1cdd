"""Create the inbox that makes the engine service's consumers idempotent.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

from tradelab_runtime.inbox import INBOX_TABLE, create_inbox_table

revision = "0001"
down_revision = None
SCHEMA = "engine"


def upgrade() -> None:
    create_inbox_table(SCHEMA)


def downgrade() -> None:
    op.drop_table(INBOX_TABLE, schema=SCHEMA)
