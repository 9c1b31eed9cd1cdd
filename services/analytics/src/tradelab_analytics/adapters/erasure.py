"""Deleting stored analyses when their run or their owner is deleted.

Each erasure leaves a tombstone in its transaction, so a BacktestCompleted still being analysed
or retried cannot write the analysis back afterwards (``tombstones``).
"""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_runtime import audit

from .tables import SCHEMA, analyses
from .tombstones import bury, hold_owner


class AnalysisEraser:
    """Deletes rows of ``analytics.analyses`` by run or by owner (each a no-op the second time)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def delete_run(self, owner_id: UUID, run_id: UUID) -> int:
        """Delete the owner's analysis of ``run_id``; return how many rows went (0 or 1)."""
        stmt = sa.delete(analyses).where(
            analyses.c.run_id == run_id, analyses.c.owner_id == owner_id
        )
        async with self._engine.begin() as conn:
            await hold_owner(conn, owner_id)
            await bury(conn, "run", run_id)
            deleted: int = (await conn.execute(stmt)).rowcount
            if deleted:
                await audit.record(conn, SCHEMA, owner_id, "analysis.deleted", "analysis", run_id)
            return deleted

    async def delete_owner(self, owner_id: UUID) -> int:
        """Delete every analysis of ``owner_id``; return how many rows went."""
        stmt = sa.delete(analyses).where(analyses.c.owner_id == owner_id)
        async with self._engine.begin() as conn:
            await hold_owner(conn, owner_id)
            await bury(conn, "owner", owner_id)
            deleted: int = (await conn.execute(stmt)).rowcount
            if deleted:
                detail = {"analyses": deleted}
                await audit.record(conn, SCHEMA, owner_id, "user.erased", "user", owner_id, detail)
            return deleted
