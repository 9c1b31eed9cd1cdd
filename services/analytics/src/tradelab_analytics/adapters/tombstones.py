"""Tombstones: the runs deleted and owners erased, so no analysis of theirs is written after.

An analysis write and an erasure of the same owner take one transaction-scoped advisory lock
(:func:`hold_owner`), so they never interleave: the erasure's tombstone and delete happen wholly
before the write (which then finds the tombstone and refuses) or wholly after it (and delete
what it wrote). Checking a tombstone without the lock would let a write that checked before the
tombstone commit its row after the erasure's delete had already run.
"""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import tombstones

_LOCK_SPACE = "tradelab-analytics:owner:"


async def hold_owner(conn: AsyncConnection, owner_id: UUID) -> None:
    """Serialise, until ``conn``'s transaction ends, the writes and erasures of ``owner_id``."""
    key = sa.func.hashtextextended(_LOCK_SPACE + str(owner_id), 0)
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


async def is_erased(conn: AsyncConnection, owner_id: UUID, run_id: UUID) -> bool:
    """Whether the run was deleted or its owner erased."""
    t = tombstones.c
    buried = sa.or_(
        sa.and_(t.entity == "run", t.entity_id == run_id),
        sa.and_(t.entity == "owner", t.entity_id == owner_id),
    )
    return bool(await conn.scalar(sa.select(sa.exists().where(buried))))


async def bury(conn: AsyncConnection, entity: str, entity_id: UUID) -> None:
    """Record that the run (``entity="run"``) or owner (``"owner"``) is gone (idempotent)."""
    stmt = insert(tombstones).values(entity=entity, entity_id=entity_id)
    await conn.execute(stmt.on_conflict_do_nothing())
