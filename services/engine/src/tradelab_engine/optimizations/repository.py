"""Optimisations in PostgreSQL: the search, its chunks and results; every query owner-scoped.

A chunk is counted once: storing its results flips ``optimization_chunks.done`` under a row lock
in the same transaction that inserts the results and bumps the optimisation's counters, so a
chunk redone after a crash (or delivered twice) changes nothing the second time. The transaction
that counts the last chunk also marks the optimisation completed, but readers see it completed
only once its results file is recorded (``visible_status``): until then it is still writing its
files, and a client that saw "completed" could find the walk-forward curve missing. In a
walk-forward optimisation, the transaction that counts a fold's last chunk also runs that fold's
best combination on its test window and stores the fold, so a fold is never counted without its
test.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.engine_rpc import (
    OptimizationInfo,
    OptimizationResultRow,
    RunStatus,
    WalkForwardFold,
)
from tradelab_contracts.optimization import BarWindow
from tradelab_engine.domain.optimize import ResultRow

from .tables import optimization_chunks, optimization_folds, optimization_results, optimizations

FoldTest = Callable[[Mapping[str, Any] | None], Awaitable[dict[str, float | None] | None]]
"""Runs a fold's best combination (None: none qualified) on its test window; its metrics."""

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)

visible_status = sa.case(
    (
        sa.and_(
            optimizations.c.status == RunStatus.COMPLETED.value,
            optimizations.c.results_uri.is_(None),
        ),
        RunStatus.RUNNING.value,
    ),
    else_=optimizations.c.status,
)
"""The status readers see: completed only once the results file is recorded."""


def _seen(row: sa.RowMapping) -> str:
    status: str = row["status"]
    if status == RunStatus.COMPLETED.value and row["results_uri"] is None:
        return RunStatus.RUNNING.value
    return status


def _info(row: sa.RowMapping) -> OptimizationInfo:
    spec: dict[str, Any] = row["spec"]
    return OptimizationInfo.model_validate(
        {
            **spec,
            "id": row["id"],
            "owner_id": row["owner_id"],
            "dataset_id": row["dataset_id"],
            "strategy": row["strategy"],
            "status": _seen(row),
            "total": row["total"],
            "evaluated": row["evaluated"],
            "skipped": row["skipped"],
            "chunks": row["chunks"],
            "chunks_done": row["chunks_done"],
            "progress": row["evaluated"] / row["total"] if row["total"] else 1.0,
            "sequence": row["event_seq"],
            "best_parameters": row["best_parameters"],
            "best_value": row["best_value"],
            "best_metrics": row["best_metrics"],
            "results_uri": row["results_uri"],
            "failure_message": row["failure_message"],
            "folds": row["folds"],
            "out_of_sample": row["out_of_sample"],
            "created_at": row["created_at"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
        }
    )


def _row(row: sa.RowMapping) -> OptimizationResultRow:
    return OptimizationResultRow(
        index=row["combo_index"],
        parameters=row["parameters"],
        metrics=row["metrics"],
        objective=row["objective"],
        ranked=row["ranked"],
        fold_index=row["fold_index"],
    )


def _fold(row: sa.RowMapping) -> WalkForwardFold:
    return WalkForwardFold(
        fold_index=row["fold_index"],
        train=BarWindow(start_bar=row["train_start_bar"], end_bar=row["train_end_bar"]),
        test=BarWindow(start_bar=row["test_start_bar"], end_bar=row["test_end_bar"]),
        train_start=row["train_start"],
        train_end=row["train_end"],
        test_start=row["test_start"],
        test_end=row["test_end"],
        done=row["done"],
        best_parameters=row["best_parameters"],
        train_metrics=row["train_metrics"],
        test_metrics=row["test_metrics"],
    )


@dataclass(frozen=True)
class ChunkStored:
    """What storing a chunk changed: the optimisation after it, and whether it completed it."""

    info: OptimizationInfo
    completed: bool


class OptimizationRepository:
    """Reads and writes the ``engine.optimization*`` tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self,
        values: dict[str, Any],
        chunk_sizes: list[int],
        folds: list[dict[str, Any]] | None = None,
    ) -> OptimizationInfo:
        """Store a new optimisation, its chunks and its walk-forward folds (if any)."""
        async with self._engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        optimizations.insert()
                        .values({**values, "folds": len(folds or [])})
                        .returning(optimizations)
                    )
                )
                .mappings()
                .one()
            )
            await conn.execute(
                optimization_chunks.insert(),
                [
                    {"optimization_id": values["id"], "chunk_index": i, "size": n, "done": False}
                    for i, n in enumerate(chunk_sizes)
                ],
            )
            if folds:
                await conn.execute(
                    optimization_folds.insert(),
                    [
                        {"optimization_id": values["id"], "chunks_done": 0, "done": False, **f}
                        for f in folds
                    ],
                )
        return _info(row)

    async def get(self, owner_id: UUID, optimization_id: UUID) -> OptimizationInfo | None:
        """The owner's optimisation, or None."""
        query = sa.select(optimizations).where(
            optimizations.c.id == optimization_id, optimizations.c.owner_id == owner_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _info(row) if row is not None else None

    async def is_active(self, optimization_id: UUID) -> bool:
        """Whether the optimisation still wants chunks evaluated."""
        query = sa.select(optimizations.c.status).where(optimizations.c.id == optimization_id)
        async with self._engine.connect() as conn:
            status = (await conn.execute(query)).scalar_one_or_none()
        return status in ACTIVE

    async def page(
        self, owner_id: UUID, status: RunStatus | None, limit: int, offset: int, active: bool
    ) -> tuple[list[OptimizationInfo], int]:
        """A page of the owner's optimisations, newest first, and how many match."""
        where = [optimizations.c.owner_id == owner_id]
        if active:
            where.append(visible_status.in_(ACTIVE))
        elif status is not None:
            where.append(visible_status == status.value)
        async with self._engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).where(*where))
            rows = await conn.execute(
                sa.select(optimizations)
                .where(*where)
                .order_by(optimizations.c.created_at.desc(), optimizations.c.id)
                .limit(limit)
                .offset(offset)
            )
            return [_info(r) for r in rows.mappings()], int(total or 0)

    async def store_chunk(
        self,
        optimization_id: UUID,
        chunk_index: int,
        rows: list[ResultRow],
        maximize: bool,
        worker: str,
        now: datetime,
        fold_index: int | None = None,
        fold_test: FoldTest | None = None,
    ) -> ChunkStored | None:
        """Store a chunk's results once; None when it was stored already or the optimisation
        is no longer active (cancelled, failed).

        With ``fold_index``, counting the fold's last chunk also stores the fold: its best
        combination, that one's training metrics and ``fold_test``'s metrics on its test window.
        """
        async with self._engine.begin() as conn:
            chunk = (
                await conn.execute(
                    sa.select(optimization_chunks.c.done)
                    .where(
                        optimization_chunks.c.optimization_id == optimization_id,
                        optimization_chunks.c.chunk_index == chunk_index,
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if chunk is None or chunk:
                return None
            status = (
                await conn.execute(
                    sa.select(optimizations.c.status)
                    .where(optimizations.c.id == optimization_id)
                    .with_for_update()
                )
            ).scalar_one()
            if status not in ACTIVE:
                return None
            await conn.execute(
                insert(optimization_results)
                .values(
                    [
                        {
                            "optimization_id": optimization_id,
                            "combo_index": r.index,
                            "chunk_index": chunk_index,
                            "parameters": r.parameters,
                            "metrics": r.metrics,
                            "objective": r.objective,
                            "ranked": r.ranked,
                            "fold_index": fold_index,
                        }
                        for r in rows
                    ]
                )
                .on_conflict_do_nothing()
            )
            await conn.execute(
                optimization_chunks.update()
                .where(
                    optimization_chunks.c.optimization_id == optimization_id,
                    optimization_chunks.c.chunk_index == chunk_index,
                )
                .values(done=True, worker=worker, finished_at=now)
            )
            if fold_index is None:
                best = await _best(conn, optimization_id, maximize)
            else:
                best = await _count_fold(conn, optimization_id, fold_index, maximize, fold_test)
            updated = (
                (
                    await conn.execute(
                        optimizations.update()
                        .where(optimizations.c.id == optimization_id)
                        .values(
                            evaluated=optimizations.c.evaluated + len(rows),
                            chunks_done=optimizations.c.chunks_done + 1,
                            status=sa.case(
                                (
                                    optimizations.c.chunks_done + 1 == optimizations.c.chunks,
                                    RunStatus.COMPLETED.value,
                                ),
                                else_=RunStatus.RUNNING.value,
                            ),
                            started_at=sa.func.coalesce(optimizations.c.started_at, now),
                            finished_at=sa.case(
                                (optimizations.c.chunks_done + 1 == optimizations.c.chunks, now),
                                else_=None,
                            ),
                            # The last chunk is announced twice: its progress, then the end.
                            event_seq=optimizations.c.event_seq
                            + sa.case(
                                (optimizations.c.chunks_done + 1 == optimizations.c.chunks, 2),
                                else_=1,
                            ),
                            updated_at=now,
                            **best,
                        )
                        .returning(optimizations)
                    )
                )
                .mappings()
                .one()
            )
        return ChunkStored(_info(updated), updated["status"] == RunStatus.COMPLETED.value)

    async def set_results_uri(self, optimization_id: UUID, uri: str) -> bool:
        """Record where the full results table was written, which shows the optimisation
        completed; False when it was cancelled or failed while its files were written."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                optimizations.update()
                .where(
                    optimizations.c.id == optimization_id,
                    optimizations.c.status == RunStatus.COMPLETED.value,
                )
                .values(results_uri=uri)
            )
        return done.rowcount == 1

    async def set_announced(self, optimization_id: UUID) -> None:
        """Record that the end was announced: nothing is left to finish."""
        async with self._engine.begin() as conn:
            await conn.execute(
                optimizations.update()
                .where(optimizations.c.id == optimization_id)
                .values(announced=True)
            )

    async def unannounced(self, owner_id: UUID, optimization_id: UUID) -> OptimizationInfo | None:
        """The optimisation if its last chunk is stored but its end was never announced (the
        replica that stored it died first), else None."""
        query = sa.select(optimizations).where(
            optimizations.c.id == optimization_id,
            optimizations.c.owner_id == owner_id,
            optimizations.c.status == RunStatus.COMPLETED.value,
            optimizations.c.announced.is_(False),
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _info(row) if row is not None else None

    async def set_walk_forward(
        self, optimization_id: UUID, uri: str, out_of_sample: dict[str, float | None]
    ) -> None:
        """Record the stitched out-of-sample equity's file and metrics."""
        async with self._engine.begin() as conn:
            await conn.execute(
                optimizations.update()
                .where(optimizations.c.id == optimization_id)
                .values(walk_forward_uri=uri, out_of_sample=out_of_sample)
            )

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
        return [_fold(r) for r in rows]

    async def end(
        self,
        owner_id: UUID | None,
        optimization_id: UUID,
        status: RunStatus,
        now: datetime,
        message: str | None = None,
    ) -> OptimizationInfo | None:
        """Cancel or fail an active optimisation; None if it already ended (or is not found).

        One still writing its files counts as active: ended now, it is never shown completed.
        """
        where = [optimizations.c.id == optimization_id, visible_status.in_(ACTIVE)]
        if owner_id is not None:
            where.append(optimizations.c.owner_id == owner_id)
        stmt = (
            optimizations.update()
            .where(*where)
            .values(
                status=status.value,
                failure_message=message,
                finished_at=now,
                updated_at=now,
                event_seq=optimizations.c.event_seq + 1,
            )
            .returning(optimizations)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return _info(row) if row is not None else None

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
        where = _results_of(optimization_id, fold_index)
        async with self._engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).where(*where))
            rows = await conn.execute(
                sa.select(optimization_results)
                .where(*where)
                .order_by(ordering, optimization_results.c.combo_index)
                .limit(limit)
                .offset(offset)
            )
            page = [_row(r) for r in rows.mappings()]
        return page, int(total or 0)

    async def chunk_results(
        self, optimization_id: UUID, chunk_index: int
    ) -> list[OptimizationResultRow] | None:
        """A stored chunk's results in combination order; None while it is not stored."""
        done = sa.select(optimization_chunks.c.done).where(
            optimization_chunks.c.optimization_id == optimization_id,
            optimization_chunks.c.chunk_index == chunk_index,
        )
        rows_query = (
            sa.select(optimization_results)
            .where(
                optimization_results.c.optimization_id == optimization_id,
                optimization_results.c.chunk_index == chunk_index,
            )
            .order_by(optimization_results.c.combo_index)
        )
        async with self._engine.connect() as conn:
            if not (await conn.execute(done)).scalar_one_or_none():
                return None
            rows = (await conn.execute(rows_query)).mappings().all()
        return [_row(r) for r in rows]

    async def all_results(
        self, optimization_id: UUID, fold_index: int | None = None
    ) -> list[OptimizationResultRow]:
        """Every result (of one fold when given), in search order (heatmap, results file)."""
        where = _results_of(optimization_id, fold_index)
        query = (
            sa.select(optimization_results)
            .where(*where)
            .order_by(optimization_results.c.combo_index)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_row(r) for r in rows]


def _results_of(optimization_id: UUID, fold_index: int | None) -> list[Any]:
    """Filters selecting an optimisation's results, or one walk-forward fold's."""
    where = [optimization_results.c.optimization_id == optimization_id]
    if fold_index is not None:
        where.append(optimization_results.c.fold_index == fold_index)
    return where


async def _count_fold(
    conn: AsyncConnection,
    optimization_id: UUID,
    fold_index: int,
    maximize: bool,
    fold_test: FoldTest | None,
) -> dict[str, Any]:
    """Count a chunk of a walk-forward fold; store the fold when it was its last chunk.

    Returns the optimisation's new best (the latest finished fold's), or {} to keep it.
    """
    where = (
        optimization_folds.c.optimization_id == optimization_id,
        optimization_folds.c.fold_index == fold_index,
    )
    fold = (
        (
            await conn.execute(
                optimization_folds.update()
                .where(*where)
                .values(chunks_done=optimization_folds.c.chunks_done + 1)
                .returning(optimization_folds.c.chunks_done, optimization_folds.c.chunks)
            )
        )
        .mappings()
        .one()
    )
    if fold["chunks_done"] < fold["chunks"]:
        return {}
    best = await _best(conn, optimization_id, maximize, fold_index)
    parameters = best.get("best_parameters")
    test = await fold_test(parameters) if fold_test is not None else None
    await conn.execute(
        optimization_folds.update()
        .where(*where)
        .values(
            done=True,
            best_parameters=parameters,
            train_metrics=best.get("best_metrics"),
            test_metrics=test,
        )
    )
    latest = await conn.scalar(
        sa.select(sa.func.max(optimization_folds.c.fold_index)).where(
            optimization_folds.c.optimization_id == optimization_id, optimization_folds.c.done
        )
    )
    return best if latest == fold_index else {}


async def _best(
    conn: AsyncConnection, optimization_id: UUID, maximize: bool, fold_index: int | None = None
) -> dict[str, Any]:
    """The best ranked result stored so far (this transaction's inserts included), of one fold
    when ``fold_index`` is given."""
    objective = optimization_results.c.objective
    ordering = objective.desc() if maximize else objective.asc()
    row = (
        (
            await conn.execute(
                sa.select(optimization_results)
                .where(
                    *_results_of(optimization_id, fold_index),
                    optimization_results.c.ranked,
                    objective.is_not(None),
                )
                .order_by(ordering, optimization_results.c.combo_index)
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return {}
    return {
        "best_parameters": row["parameters"],
        "best_value": row["objective"],
        "best_metrics": row["metrics"],
    }
