"""Stored analyses in PostgreSQL; reads are scoped to the owner.

An analysis is stored with its event in the service's outbox, in one transaction
(tradelab_runtime.outbox): no analysis without its announcement, none announced twice. The same
transaction refuses a run deleted or an owner erased meanwhile (``tombstones``).
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.analytics_rpc import AnalysisInfo
from tradelab_contracts.base import Message
from tradelab_runtime import audit
from tradelab_runtime.outbox import Outbox

from .tables import SCHEMA, analyses
from .tombstones import hold_owner, is_erased

INFO_COLUMNS = tuple(AnalysisInfo.model_fields)
Announcement = tuple[Message, str, bytes]
"""An event with its topic and key, stored with the write it announces."""
READY = analyses.c.status == "ready"


class Written(Enum):
    """What became of an analysis write."""

    STORED = "stored"
    """Stored and announced."""
    ALREADY = "already"
    """Nothing written: the run has an analysis already (a redelivery)."""
    ERASED = "erased"
    """Nothing written: the run was deleted or its owner erased."""


@dataclass(frozen=True)
class Failure:
    """Why a run's analysis was given up on."""

    reason: str
    message: str


def _info(row: sa.RowMapping) -> AnalysisInfo:
    return AnalysisInfo.model_validate({name: row[name] for name in INFO_COLUMNS})


class AnalysisRepository:
    """Reads and writes ``analytics.analyses``."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox) -> None:
        self._engine = engine
        self.outbox = outbox

    async def add(self, values: dict[str, Any], announce: Announcement) -> Written:
        """Store a ready analysis and ``announce`` with it; one stored as failed is replaced."""
        replace = {k: v for k, v in values.items() if k not in ("run_id", "owner_id")}
        stmt = insert(analyses).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[analyses.c.run_id],
            set_=replace | {"failure_reason": None, "failure_message": None, "report_uri": None},
            where=analyses.c.status == "failed",
        )
        return await self._write(stmt, values, announce, "analysis.stored")

    async def add_failure(self, values: dict[str, Any], announce: Announcement) -> Written:
        """Store an analysis given up on (status ``failed``) and ``announce`` with it; a run
        with any analysis already keeps it (ALREADY)."""
        stmt = insert(analyses).values(values).on_conflict_do_nothing()
        return await self._write(stmt, values, announce, "analysis.failed")

    async def _write(
        self, stmt: Insert, values: dict[str, Any], announce: Announcement, action: str
    ) -> Written:
        owner, run = values["owner_id"], values["run_id"]
        async with self.outbox.begin() as conn:
            await hold_owner(conn, owner)
            if await is_erased(conn, owner, run):
                return Written.ERASED
            if (await conn.execute(stmt.returning(analyses.c.run_id))).first() is None:
                return Written.ALREADY
            message, topic, key = announce
            await self.outbox.add(conn, message, topic, key)
            await audit.record(conn, SCHEMA, owner, action, "analysis", run)
            return Written.STORED

    async def is_erased(self, owner_id: UUID, run_id: UUID) -> bool:
        """Whether the run was deleted or its owner erased (the write checks again, locked)."""
        async with self._engine.connect() as conn:
            return await is_erased(conn, owner_id, run_id)

    async def failure(self, owner_id: UUID, run_id: UUID) -> Failure | None:
        """Why the owner's analysis of ``run_id`` failed, or None (ready, or none stored)."""
        query = sa.select(analyses.c.failure_reason, analyses.c.failure_message).where(
            analyses.c.run_id == run_id,
            analyses.c.owner_id == owner_id,
            analyses.c.status == "failed",
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Failure(reason=row[0], message=row[1])

    async def get(self, owner_id: UUID, run_id: UUID) -> AnalysisInfo | None:
        """Return the owner's ready analysis of ``run_id``, or None (see :meth:`failure`)."""
        found = await self.get_many(owner_id, [run_id])
        return found.get(run_id)

    async def get_many(self, owner_id: UUID, run_ids: list[UUID]) -> dict[UUID, AnalysisInfo]:
        """Return the owner's ready analyses among ``run_ids`` (others' and unknown or failed
        ones are absent)."""
        query = sa.select(analyses).where(
            analyses.c.run_id.in_(run_ids), analyses.c.owner_id == owner_id, READY
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

    async def set_report_uri(self, run_id: UUID, uri: str) -> bool:
        """Remember where the rendered report is kept; False when the analysis is gone."""
        stmt = analyses.update().where(analyses.c.run_id == run_id).values(report_uri=uri)
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1
