"""What optimisations are read for: one, a page, results, folds; every query owner-scoped where a
user asks."""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine_rpc import (
    OptimizationInfo,
    OptimizationResultRow,
    RunStatus,
    WalkForwardFold,
)
from tradelab_engine.adapters.tables import (
    optimization_chunks,
    optimization_folds,
    optimization_results,
    optimizations,
)
from tradelab_engine.lifecycle.idempotency import Earlier, keyed
from tradelab_engine.lifecycle.store import ACTIVE

from .rows import fold_of, info_of, result_of


def results_of(optimization_id: UUID, fold_index: int | None) -> list[Any]:
    """Filters selecting an optimisation's results, or one walk-forward fold's."""
    where = [optimization_results.c.optimization_id == optimization_id]
    if fold_index is not None:
        where.append(optimization_results.c.fold_index == fold_index)
    return where


class OptimizationQueries:
    """Reads of the ``engine.optimization*`` tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, owner_id: UUID | None, optimization_id: UUID) -> OptimizationInfo | None:
        """The owner's optimisation (whoever's with ``owner_id`` None: workers), or None."""
        query = sa.select(optimizations).where(optimizations.c.id == optimization_id)
        if owner_id is not None:
            query = query.where(optimizations.c.owner_id == owner_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return info_of(row) if row is not None else None

    async def by_idempotency_key(
        self, owner_id: UUID, key: str
    ) -> Earlier[OptimizationInfo] | None:
        """The owner's optimisation submitted with ``key``, if any."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(keyed(optimizations, owner_id, key))).mappings().first()
        return None if row is None else Earlier(info_of(row), row["request_sha256"])

    async def is_active(self, optimization_id: UUID) -> bool:
        """Whether the optimisation still wants chunks evaluated."""
        query = sa.select(optimizations.c.status).where(optimizations.c.id == optimization_id)
        async with self._engine.connect() as conn:
            status = (await conn.execute(query)).scalar_one_or_none()
        return status in ACTIVE

    async def chunk_done(self, optimization_id: UUID, chunk_index: int) -> bool:
        """Whether the chunk is stored already (a duplicate message need not be evaluated)."""
        query = sa.select(optimization_chunks.c.done).where(
            optimization_chunks.c.optimization_id == optimization_id,
            optimization_chunks.c.chunk_index == chunk_index,
        )
        async with self._engine.connect() as conn:
            return bool((await conn.execute(query)).scalar_one_or_none())

    async def page(
        self, owner_id: UUID, status: RunStatus | None, limit: int, offset: int, active: bool
    ) -> tuple[list[OptimizationInfo], int]:
        """A page of the owner's optimisations, newest first, and how many match."""
        where = [optimizations.c.owner_id == owner_id]
        if active:
            where.append(optimizations.c.status.in_(ACTIVE))
        elif status is not None:
            where.append(optimizations.c.status == status.value)
        async with self._engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).where(*where))
            rows = await conn.execute(
                sa.select(optimizations)
                .where(*where)
                .order_by(optimizations.c.created_at.desc(), optimizations.c.id)
                .limit(limit)
                .offset(offset)
            )
            return [info_of(r) for r in rows.mappings()], int(total or 0)

    async def walk_forward_uri(self, optimization_id: UUID) -> str | None:
        """Where the stitched out-of-sample equity was written, once completed."""
        query = sa.select(optimizations.c.walk_forward_uri).where(
            optimizations.c.id == optimization_id
        )
        async with self._engine.connect() as conn:
            uri: str | None = (await conn.execute(query)).scalar_one_or_none()
        return uri

    async def source(self, optimization_id: UUID) -> tuple[str, str, str | None]:
        """The dataset's storage URI and content hash, and the timeframe, an optimisation runs
        over."""
        columns = (optimizations.c.dataset_uri, optimizations.c.dataset_sha256)
        query = sa.select(*columns, optimizations.c.timeframe).where(
            optimizations.c.id == optimization_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return str(row.dataset_uri), str(row.dataset_sha256), row.timeframe

    async def folds(self, optimization_id: UUID) -> list[WalkForwardFold]:
        """A walk-forward optimisation's folds, in order."""
        query = (
            sa.select(optimization_folds)
            .where(optimization_folds.c.optimization_id == optimization_id)
            .order_by(optimization_folds.c.fold_index)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [fold_of(r) for r in rows]

    async def results(
        self,
        optimization_id: UUID,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fold_index: int | None = None,
    ) -> tuple[list[OptimizationResultRow], int]:
        """A page of results ordered by the objective (``order_by`` None) or a metric; of one
        walk-forward fold when ``fold_index`` is given."""
        key = (
            optimization_results.c.objective
            if order_by is None
            else optimization_results.c.metrics[order_by].as_float()
        )
        ordering = key.desc().nulls_last() if descending else key.asc().nulls_last()
        where = results_of(optimization_id, fold_index)
        async with self._engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).where(*where))
            rows = await conn.execute(
                sa.select(optimization_results)
                .where(*where)
                .order_by(ordering, optimization_results.c.combo_index)
                .limit(limit)
                .offset(offset)
            )
            page = [result_of(r) for r in rows.mappings()]
        return page, int(total or 0)

    async def chunk_results(
        self, optimization_id: UUID, chunk_index: int
    ) -> list[OptimizationResultRow] | None:
        """A stored chunk's results in combination order; None while it is not stored."""
        rows_query = (
            sa.select(optimization_results)
            .where(
                optimization_results.c.optimization_id == optimization_id,
                optimization_results.c.chunk_index == chunk_index,
            )
            .order_by(optimization_results.c.combo_index)
        )
        if not await self.chunk_done(optimization_id, chunk_index):
            return None
        async with self._engine.connect() as conn:
            rows = (await conn.execute(rows_query)).mappings().all()
        return [result_of(r) for r in rows]

    async def all_results(
        self, optimization_id: UUID, fold_index: int | None = None
    ) -> list[OptimizationResultRow]:
        """Every result (of one fold when given), in search order (heatmap, results file)."""
        query = (
            sa.select(optimization_results)
            .where(*results_of(optimization_id, fold_index))
            .order_by(optimization_results.c.combo_index)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [result_of(r) for r in rows]
