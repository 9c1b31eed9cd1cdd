"""Idempotent consumption: a message id is claimed once per service, in the service's schema.

Kafka redelivers after a crash or a rebalance, and the development broker has no transactions, so a
consumer records each message id in the same database transaction as its effects. A redelivered
message finds its id taken and is skipped.
"""

from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.ext.asyncio import AsyncConnection

INBOX_TABLE = "processed_messages"


def create_inbox_table(schema: str) -> None:
    """Create the inbox table inside an Alembic migration."""
    op.create_table(
        INBOX_TABLE,
        sa.Column("message_id", sa.Uuid(), primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        schema=schema,
    )


async def claim_message(conn: AsyncConnection, schema: str, message_id: UUID, topic: str) -> bool:
    """Record ``message_id`` as processed; return False if it already was.

    Call inside the transaction that applies the message's effects so both commit or neither does.
    """
    table = sa.table(INBOX_TABLE, sa.column("message_id"), sa.column("topic"), schema=schema)
    stmt = (
        sa.dialects.postgresql.insert(table)
        .values(message_id=message_id, topic=topic)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(table.c.message_id)
    )
    return (await conn.execute(stmt)).first() is not None
