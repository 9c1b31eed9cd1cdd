"""The queries of the cascades: active jobs by owner or dataset, an owner's rows and files."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine_rpc import RunStatus
from tradelab_contracts.optimization import OptimizationCancelled
from tradelab_contracts.topics import OPTIMIZATION_CANCELLED
from tradelab_engine.adapters.tables import (
    monte_carlo,
    optimization_chunks,
    optimization_folds,
    optimization_results,
    optimizations,
    runs,
    user_strategies,
)
from tradelab_runtime.outbox import Outbox

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
OWNER_PREFIXES = ("backtests", "optimizations", "montecarlo")
"""Object store folders the engine writes, each ``<folder>/<owner>/...``."""


@dataclass(frozen=True)
class Scope:
    """The jobs a cascade acts on: an owner's, or those reading one dataset."""

    owner_id: UUID | None = None
    dataset_id: UUID | None = None

    def of(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        """The conditions selecting this scope's rows of ``table``."""
        where = []
        if self.owner_id is not None:
            where.append(table.c.owner_id == self.owner_id)
        if self.dataset_id is not None:
            where.append(table.c.dataset_id == self.dataset_id)
        return where


class CascadeRepository:
    """Reads and deletes across the engine's tables for the cascades."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox) -> None:
        self._engine = engine
        self._outbox = outbox

    async def active_ids(self, table: sa.Table, scope: Scope) -> list[UUID]:
        """Ids of the queued or running jobs of ``table`` in ``scope``."""
        query = sa.select(table.c.id).where(*scope.of(table), table.c.status.in_(ACTIVE))
        async with self._engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    async def cancel_optimizations(self, scope: Scope, now: datetime) -> list[UUID]:
        """Cancel the active optimisations in ``scope``, each with its ``OptimizationCancelled``
        stored in the same transaction; return their ids."""
        t = optimizations
        stmt = (
            t.update()
            .where(*scope.of(t), t.c.status.in_(ACTIVE))
            .values(
                status=RunStatus.CANCELLED.value,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
                event_seq=t.c.event_seq + 1,
            )
            .returning(t.c.id, t.c.owner_id, t.c.event_seq)
        )
        async with self._outbox.begin() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
            for row in rows:
                event = OptimizationCancelled(
                    optimization_id=row["id"], owner_id=row["owner_id"], sequence=row["event_seq"]
                )
                await self._outbox.add(conn, event, OPTIMIZATION_CANCELLED, row["id"].bytes)
        return [row["id"] for row in rows]

    async def shared_files(self, owner_id: UUID) -> frozenset[str]:
        """Result files of the owner's runs that another user's cached run also points at."""
        mine = sa.select(runs.c.equity_uri, runs.c.trades_uri).where(runs.c.owner_id == owner_id)
        theirs = sa.select(runs.c.equity_uri, runs.c.trades_uri).where(
            runs.c.owner_id != owner_id,
            runs.c.equity_uri.in_(mine.with_only_columns(runs.c.equity_uri).scalar_subquery()),
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(theirs)).all()
        return frozenset(uri for row in rows for uri in row if uri)

    async def delete_owner(self, owner_id: UUID) -> dict[str, int]:
        """Delete every row of ``owner_id`` in one transaction; how many went from each table."""
        owned_optimizations = sa.select(optimizations.c.id).where(
            optimizations.c.owner_id == owner_id
        )
        counts: dict[str, int] = {}
        async with self._engine.begin() as conn:
            for child in (optimization_chunks, optimization_results, optimization_folds):
                result = await conn.execute(
                    sa.delete(child).where(child.c.optimization_id.in_(owned_optimizations))
                )
                counts[child.name] = result.rowcount
            for table in (optimizations, runs, monte_carlo, user_strategies):
                result = await conn.execute(sa.delete(table).where(table.c.owner_id == owner_id))
                counts[table.name] = result.rowcount
        return counts
