"""Stored analyses in PostgreSQL; reads are scoped to the owner."""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.analytics_rpc import AnalysisInfo

from .tables import analyses


class AnalysisRepository:
    """Reads and writes ``analytics.analyses``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, values: dict[str, Any]) -> bool:
        """Store an analysis; False when the run was analysed already (a redelivery)."""
        stmt = insert(analyses).values(values).on_conflict_do_nothing().returning(analyses.c.run_id)
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def get(self, owner_id: UUID, run_id: UUID) -> AnalysisInfo | None:
        """Return the owner's analysis of ``run_id``, or None."""
        async with self._engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(analyses).where(
                            analyses.c.run_id == run_id, analyses.c.owner_id == owner_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return AnalysisInfo(
            run_id=row["run_id"],
            owner_id=row["owner_id"],
            dataset_id=row["dataset_id"],
            strategy=row["strategy"],
            parameters=row["parameters"],
            metrics=row["metrics"],
            created_at=row["created_at"],
        )
