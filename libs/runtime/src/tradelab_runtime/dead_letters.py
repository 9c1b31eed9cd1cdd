"""Dead letters: messages a consumer gave up on, kept in the service's schema for an operator.

A parked message keeps its whole original payload, topic, partition, offset, key, the last error
and the attempt count. Parking stores the row and a ``DeadLettered`` event in one transaction (the
event goes out through the outbox). Replaying puts the original payload back on its topic through
the same outbox and stamps the row, so a replay is itself never lost.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.system import (
    DEAD_LETTER_ERROR_CHARS,
    DeadLettered,
    payload_preview,
)
from tradelab_contracts.topics import SYSTEM_DEAD_LETTERED

from .outbox import Outbox, add_raw

DEAD_LETTERS_TABLE = "dead_letters"


def create_dead_letters_table(schema: str) -> None:
    """Create the dead-letter table inside an Alembic migration."""
    op.create_table(
        DEAD_LETTERS_TABLE,
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer()),
        sa.Column("offset", sa.BigInteger()),
        sa.Column("key", sa.LargeBinary()),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.Uuid()),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("attempts >= 1", name="ck_dead_letters_attempts"),
        schema=schema,
    )


def dead_letters_table(schema: str) -> sa.TableClause:
    """The dead letters of ``schema`` for queries."""
    return sa.table(
        DEAD_LETTERS_TABLE,
        sa.column("id", sa.BigInteger()),
        sa.column("topic", sa.Text()),
        sa.column("partition", sa.Integer()),
        sa.column("offset", sa.BigInteger()),
        sa.column("key", sa.LargeBinary()),
        sa.column("payload", sa.LargeBinary()),
        sa.column("message_id", sa.Uuid()),
        sa.column("error", sa.Text()),
        sa.column("attempts", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("replayed_at", sa.DateTime(timezone=True)),
        schema=schema,
    )


@dataclass(frozen=True)
class Letter:
    """A message as it was read from the broker."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    payload: bytes
    message_id: UUID | None


@dataclass(frozen=True)
class DeadLetter:
    """A parked message, as an operator lists it."""

    id: int
    topic: str
    partition: int | None
    offset: int | None
    message_id: UUID | None
    error: str
    attempts: int
    created_at: datetime
    replayed_at: datetime | None
    payload: bytes


class DeadLetters:
    """Park, list and replay one service's dead letters."""

    def __init__(self, service: str, outbox: Outbox) -> None:
        self.service = service
        self._outbox = outbox
        self._table = dead_letters_table(outbox.schema)

    async def park(self, letter: Letter, error: str, attempts: int) -> None:
        """Store ``letter`` and announce it with a ``DeadLettered`` event, in one transaction."""
        error = error[:DEAD_LETTER_ERROR_CHARS]
        event = DeadLettered(
            service=self.service,
            original_topic=letter.topic,
            original_partition=letter.partition,
            original_offset=letter.offset,
            original_message_id=letter.message_id,
            payload=payload_preview(letter.payload),
            error=error,
            attempts=attempts,
        )
        async with self._outbox.begin() as conn:
            await conn.execute(
                sa.insert(self._table).values(
                    topic=letter.topic,
                    partition=letter.partition,
                    offset=letter.offset,
                    key=letter.key,
                    payload=letter.payload,
                    message_id=letter.message_id,
                    error=error,
                    attempts=attempts,
                )
            )
            await self._outbox.add(conn, event, SYSTEM_DEAD_LETTERED, self.service.encode())


async def list_dead_letters(
    engine: AsyncEngine, schema: str, *, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetter]:
    """The schema's dead letters, oldest first."""
    table = dead_letters_table(schema)
    query = sa.select(table).order_by(table.c.id).limit(limit)
    if not include_replayed:
        query = query.where(table.c.replayed_at.is_(None))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings()
        return [DeadLetter(**{f: row[f] for f in DeadLetter.__dataclass_fields__}) for row in rows]


async def replay_dead_letter(conn: AsyncConnection, schema: str, letter_id: int) -> bool:
    """Put a parked message back on its topic through the outbox; False if there is no such
    letter or it was replayed already."""
    table = dead_letters_table(schema)
    row = (
        (
            await conn.execute(
                sa.update(table)
                .where(table.c.id == letter_id, table.c.replayed_at.is_(None))
                .values(replayed_at=sa.func.now())
                .returning(table.c.topic, table.c.key, table.c.payload, table.c.message_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return False
    await add_raw(
        conn,
        schema,
        topic=row["topic"],
        key=row["key"] or b"",
        payload=row["payload"],
        message_id=row["message_id"],
    )
    return True
