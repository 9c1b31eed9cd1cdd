"""Outbox and dead letters of the analytics service.

Events are stored with the state they announce (``outbox``, relayed by tradelab_runtime.outbox);
messages a consumer gave up on are parked in ``dead_letters`` (tradelab_runtime.dead_letters).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from alembic import op

from tradelab_runtime.dead_letters import DEAD_LETTERS_TABLE, create_dead_letters_table
from tradelab_runtime.outbox import OUTBOX_TABLE, create_outbox_table

revision = "0004"
down_revision = "0003"
SCHEMA = "analytics"


def upgrade() -> None:
    create_outbox_table(SCHEMA)
    create_dead_letters_table(SCHEMA)


def downgrade() -> None:
    op.drop_table(DEAD_LETTERS_TABLE, schema=SCHEMA)
    op.drop_table(OUTBOX_TABLE, schema=SCHEMA)
