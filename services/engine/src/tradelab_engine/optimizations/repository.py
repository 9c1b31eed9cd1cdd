"""Optimisations in PostgreSQL: the search, its chunks, results and folds, written through the
shared job lifecycle (``lifecycle.store``) and the outbox.

Submitting stores the optimisation, its chunks (what each evaluates) and its folds together with
every message that starts it: the chunk messages with their partitions, or a genetic search's
``RunOptimization``. A chunk is counted once: storing its results flips
``optimization_chunks.done`` under a row lock in the same transaction that inserts the results
and bumps the counters, so a chunk redone after a crash (or delivered twice) changes nothing the
second time. The end (completed with its files, failed, cancelled) is one ``JobStore.finish``:
status and event in one transaction, once. In a walk-forward optimisation the transaction that
counts a fold's last chunk also runs that fold's best on its test window and stores the fold, so
a fold is never counted without its test.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import OptimizationInfo, RunStatus
from tradelab_engine.adapters.tables import (
    SCHEMA,
    optimization_chunks,
    optimization_folds,
    optimization_results,
    optimizations,
)
from tradelab_engine.domain.optimize import ResultRow
from tradelab_engine.lifecycle.idempotency import key_conflicts
from tradelab_engine.lifecycle.store import ACTIVE, Announce, JobStore
from tradelab_engine.quotas.repository import Admit
from tradelab_runtime import audit

from .messages import chunk_message, genetic_job, is_genetic
from .queries import OptimizationQueries, results_of
from .rows import info_of

FoldTest = Callable[[Mapping[str, Any] | None], Awaitable[dict[str, float | None] | None]]
"""Runs a fold's best combination (None: none qualified) on its test window; its metrics."""


@dataclass(frozen=True)
class ChunkStored:
    """What storing a chunk changed: the optimisation after it, and whether every chunk is now
    stored (the optimisation is then ready to be completed)."""

    info: OptimizationInfo
    all_done: bool


class OptimizationRepository(OptimizationQueries):
    """Reads and writes the ``engine.optimization*`` tables."""

    def __init__(self, engine: AsyncEngine, jobs: JobStore) -> None:
        super().__init__(engine)
        self.jobs = jobs

    async def add(
        self,
        values: dict[str, Any],
        chunks: list[dict[str, Any]],
        folds: list[dict[str, Any]] | None = None,
        correlation_id: UUID | None = None,
        admit: Admit | None = None,
    ) -> OptimizationInfo:
        """Store a new optimisation, its chunks and folds, and the messages that start it (its
        chunks, or its genetic search), in one transaction, once ``admit`` (the owner's quota
        check) let it in.

        Raises `IdempotencyKeyTakenError` when the owner already has one with its key, and
        `QuotaExceededError` when ``admit`` refuses it."""
        folds = folds or []
        with key_conflicts(optimizations):
            return await self._add(values, chunks, folds, correlation_id, admit)

    async def _add(
        self,
        values: dict[str, Any],
        chunks: list[dict[str, Any]],
        folds: list[dict[str, Any]],
        correlation_id: UUID | None,
        admit: Admit | None,
    ) -> OptimizationInfo:
        outbox = self.jobs.outbox
        async with outbox.begin() as conn:
            if admit is not None:
                await admit(conn)
            stmt = optimizations.insert().values(
                {**values, "folds": len(folds), "dispatched_at": values["created_at"]}
            )
            row = (await conn.execute(stmt.returning(optimizations))).mappings().one()
            chunk_rows = [{"optimization_id": row["id"], "done": False, **c} for c in chunks]
            await conn.execute(optimization_chunks.insert(), chunk_rows)
            fold_rows = [
                {"optimization_id": row["id"], "chunks_done": 0, "done": False, **f} for f in folds
            ]
            if fold_rows:
                await conn.execute(optimization_folds.insert(), fold_rows)
            if is_genetic(row["spec"]):
                await self.jobs.store_event(conn, genetic_job(row, correlation_id))
            else:
                by_index = {f["fold_index"]: f for f in fold_rows}
                for chunk in chunk_rows:
                    fold = by_index.get(chunk["fold_index"])
                    message, topic, key, partition = chunk_message(row, chunk, fold, correlation_id)
                    await outbox.add(conn, message, topic, key, partition)
            await audit.record(
                conn, SCHEMA, row["owner_id"], "optimization.submitted", "optimization", row["id"]
            )
        return info_of(row)

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
        is no longer active (cancelled, failed, completed).

        With ``fold_index``, counting the fold's last chunk also stores the fold: its best
        combination, that one's training metrics and ``fold_test``'s metrics on its test window.
        """
        async with self.jobs.outbox.begin() as conn:
            if not await _claim_chunk(conn, optimization_id, chunk_index):
                return None
            await _insert_results(conn, optimization_id, chunk_index, fold_index, rows)
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
            t = optimizations
            stmt = (
                t.update()
                .where(t.c.id == optimization_id)
                .values(
                    evaluated=t.c.evaluated + len(rows),
                    chunks_done=t.c.chunks_done + 1,
                    status=RunStatus.RUNNING.value,
                    started_at=sa.func.coalesce(t.c.started_at, now),
                    event_seq=t.c.event_seq + 1,
                    updated_at=now,
                    **best,
                )
                .returning(t)
            )
            updated = (await conn.execute(stmt)).mappings().one()
        return ChunkStored(info_of(updated), updated["chunks_done"] == updated["chunks"])

    async def complete(
        self,
        optimization_id: UUID,
        attempt: int | None,
        values: dict[str, Any],
        now: datetime,
        announce: Announce,
    ) -> OptimizationInfo | None:
        """Record the results files and the completed status, with ``announce``'s event, once
        every chunk is stored; None if it ended meanwhile (or another attempt owns it)."""
        t = optimizations
        row = await self.jobs.finish(
            optimization_id,
            attempt,
            {**values, "status": RunStatus.COMPLETED.value},
            now,
            announce,
            only_if=(t.c.chunks_done == t.c.chunks,),
        )
        return info_of(row) if row is not None else None

    async def end(
        self,
        owner_id: UUID | None,
        optimization_id: UUID,
        status: RunStatus,
        now: datetime,
        announce: Announce,
        message: str | None = None,
    ) -> OptimizationInfo | None:
        """Cancel or fail an active optimisation (the owner's, when given) and store its event;
        None if it already ended (or is not found)."""
        values: dict[str, Any] = {"status": status.value, "failure_message": message}
        if status == RunStatus.FAILED:
            values["failure_reason"] = FailureReason.INTERNAL.value
        only_if = () if owner_id is None else (optimizations.c.owner_id == owner_id,)
        row = await self.jobs.finish(optimization_id, None, values, now, announce, only_if=only_if)
        return info_of(row) if row is not None else None


async def _claim_chunk(conn: AsyncConnection, optimization_id: UUID, chunk_index: int) -> bool:
    """Lock the chunk and its optimisation; whether the chunk is still to be stored."""
    done = (
        await conn.execute(
            sa.select(optimization_chunks.c.done)
            .where(
                optimization_chunks.c.optimization_id == optimization_id,
                optimization_chunks.c.chunk_index == chunk_index,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if done is None or done:
        return False
    status = (
        await conn.execute(
            sa.select(optimizations.c.status)
            .where(optimizations.c.id == optimization_id)
            .with_for_update()
        )
    ).scalar_one()
    return status in ACTIVE


async def _insert_results(
    conn: AsyncConnection,
    optimization_id: UUID,
    chunk_index: int,
    fold_index: int | None,
    rows: list[ResultRow],
) -> None:
    if not rows:
        return
    # One executemany: SQLAlchemy batches it into multi-row INSERTs of a cached statement
    # (insertmanyvalues), within the bind-parameter limit whatever the chunk's size.
    await conn.execute(
        insert(optimization_results).on_conflict_do_nothing(),
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
        ],
    )


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
                    *results_of(optimization_id, fold_index),
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
