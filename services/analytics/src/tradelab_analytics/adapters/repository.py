"""Stored analyses in PostgreSQL; reads are scoped to the owner.

An analysis is stored with its event in the service's outbox, in one transaction
(tradelab_runtime.outbox): no analysis without its announcement, none announced twice.
"""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.analytics_rpc import AnalysisInfo
from tradelab_contracts.base import Message
from tradelab_runtime import audit
from tradelab_runtime.outbox import Outbox

from .tables import SCHEMA, analyses

INFO_COLUMNS = tuple(AnalysisInfo.model_fields)
Announcement = tuple[Message, str, bytes]
"""An event with its topic and key, stored with the write it announces."""


def _info(row: sa.RowMapping) -> AnalysisInfo:
    return AnalysisInfo.model_validate({name: row[name] for name in INFO_COLUMNS})


class AnalysisRepository:
    """Reads and writes ``analytics.analyses``."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox) -> None:
        self._engine = engine
        self.outbox = outbox

    async def add(self, values: dict[str, Any], announce: Announcement) -> bool:
        """Store an analysis and ``announce`` with it; False (nothing announced) when the run
        was analysed already (a redelivery)."""
        stmt = insert(analyses).values(values).on_conflict_do_nothing().returning(analyses.c.run_id)
        async with self.outbox.begin() as conn:
            if (await conn.execute(stmt)).first() is None:
                return False
            message, topic, key = announce
            await self.outbox.add(conn, message, topic, key)
            owner, run = values["owner_id"], values["run_id"]
            await audit.record(conn, SCHEMA, owner, "analysis.stored", "analysis", run)
            return True

    async def get(self, owner_id: UUID, run_id: UUID) -> AnalysisInfo | None:
        """Return the owner's analysis of ``run_id``, or None."""
        found = await self.get_many(owner_id, [run_id])
        return found.get(run_id)

    async def get_many(self, owner_id: UUID, run_ids: list[UUID]) -> dict[UUID, AnalysisInfo]:
        """Return the owner's analyses among ``run_ids`` (others' and unknown ones are absent)."""
        query = sa.select(analyses).where(
            analyses.c.run_id.in_(run_ids), analyses.c.owner_id == owner_id
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return {row["run_id"]: _info(row) for row in rows}

    async def report_uri(self, owner_id: UUID, run_id: UUID) -> str | None:
        """Return where the run's rendered report is kept, if it was rendered."""
        query = sa.select(analyses.c.report_uri).where(
            analyses.c.run_id == run_id, analyses.c.owner_id == owner_id
        )
        async with self._engine.connect() as conn:
            uri: str | None = (await conn.execute(query)).scalar_one_or_none()
        return uri

    async def set_report_uri(self, run_id: UUID, uri: str) -> None:
        """Remember where the rendered report is kept."""
        stmt = analyses.update().where(analyses.c.run_id == run_id).values(report_uri=uri)
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
