"""Deleting a deleted user's datasets in SQL."""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_runtime import audit

from .tables import SCHEMA, datasets


class DatasetEraser:
    """Deletes every row of ``datasets.datasets`` an owner has (a no-op the second time)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def delete_owner(self, owner_id: UUID) -> int:
        """Delete the owner's datasets; return how many went."""
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(datasets).where(datasets.c.owner_id == owner_id))
            if result.rowcount:
                detail = {"datasets": result.rowcount}
                await audit.record(conn, SCHEMA, owner_id, "user.erased", "user", owner_id, detail)
            return result.rowcount
