"""Optimisations as a job kind of the shared lifecycle.

A genetic search is one job that one replica claims under a lease on a turn (``RunOptimization``,
``lifecycle.fair``), exactly like a backtest: the sweeper re-queues it when its worker died and
the next claim resumes from the stored generations. A grid or random search is many chunk
messages and no lease: the sweeper publishes again the undone chunks of one that made no
progress for ``redispatch_after_s`` (a broker restarted empty lost them; a chunk is counted once,
so a duplicate is harmless), or, when every chunk is stored but the end is not (its replica died
while writing the files), its last chunk, whose delivery completes it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import RunStatus
from tradelab_engine.adapters.tables import optimization_chunks, optimization_folds, optimizations
from tradelab_engine.lifecycle.store import ACTIVE, Announcement, JobStore
from tradelab_runtime.logging import get_logger

from .messages import chunk_message, failed_event, genetic_job, is_genetic

log = get_logger(__name__)
BATCH = 100
LEGACY = "The optimisation was interrupted by an engine upgrade and cannot resume; submit it again."
SEARCH_KIND: sa.ColumnElement[str] = optimizations.c.spec["search"]["kind"].astext
GRID = SEARCH_KIND != "genetic"
GENETIC = SEARCH_KIND == "genetic"


@dataclass(frozen=True)
class OptimizationJobs:
    """Optimisations (``engine.optimizations``)."""

    table: sa.Table = optimizations
    entity: str = "optimization"

    @property
    def queue_order(self) -> tuple[sa.ColumnElement[Any], ...]:
        """A user's genetic searches in order of submission."""
        return (optimizations.c.created_at, optimizations.c.id)

    @property
    def turns(self) -> sa.ColumnElement[bool]:
        """Genetic searches only: a grid's work is its chunks, which no turn claims."""
        return GENETIC

    def dispatch(self, row: sa.RowMapping) -> Announcement | None:
        """A genetic search's ``RunOptimization``; None for a grid, whose chunks are
        re-driven by :meth:`redispatch_stalled`."""
        return genetic_job(row) if is_genetic(row["spec"]) else None

    def gave_up(self, row: sa.RowMapping) -> Announcement:
        """The ``OptimizationFailed`` of a genetic search given up."""
        return failed_event(row)

    async def redispatch_stalled(
        self, conn: AsyncConnection, store: JobStore, now: datetime
    ) -> int:
        """Publish again the undone chunks (or the last, to complete it) of every grid search
        without progress for ``redispatch_after_s``."""
        t = optimizations
        before = now - timedelta(seconds=store.terms.redispatch_after_s)
        stalled = (
            (
                await conn.execute(
                    sa.update(t)
                    .where(
                        t.c.id.in_(
                            sa.select(t.c.id)
                            .where(t.c.status.in_(ACTIVE), GRID, t.c.updated_at < before)
                            .limit(BATCH)
                            .with_for_update(skip_locked=True)
                        )
                    )
                    .values(dispatched_at=now, updated_at=now)
                    .returning(t)
                )
            )
            .mappings()
            .all()
        )
        for row in stalled:
            sent = await _redispatch(conn, store, row)
            log.warning(
                "optimisation chunks published again", optimization_id=str(row["id"]), chunks=sent
            )
        return len(stalled)


async def _redispatch(conn: AsyncConnection, store: JobStore, row: sa.RowMapping) -> int:
    c = optimization_chunks
    chunks = (
        (
            await conn.execute(
                sa.select(c)
                .where(c.c.optimization_id == row["id"])
                .where(sa.or_(~c.c.done, c.c.chunk_index == row["chunks"] - 1))
                .order_by(c.c.chunk_index)
            )
        )
        .mappings()
        .all()
    )
    undone = [chunk for chunk in chunks if not chunk["done"]] or list(chunks[-1:])
    folds = {
        f["fold_index"]: f
        for f in (
            await conn.execute(
                sa.select(optimization_folds).where(
                    optimization_folds.c.optimization_id == row["id"]
                )
            )
        ).mappings()
    }
    if any(chunk["combinations"] is None for chunk in undone):
        await _give_up(conn, store, row)  # submitted before migration 0010: cannot be rebuilt
        return 0
    for chunk in undone:
        message, topic, key, partition = chunk_message(row, chunk, folds.get(chunk["fold_index"]))
        await store.outbox.add(conn, message, topic, key, partition)
    return len(undone)


async def _give_up(conn: AsyncConnection, store: JobStore, row: sa.RowMapping) -> None:
    t = optimizations
    failed = (
        (
            await conn.execute(
                sa.update(t)
                .where(t.c.id == row["id"])
                .values(
                    status=RunStatus.FAILED.value,
                    failure_reason=FailureReason.INTERNAL.value,
                    failure_message=LEGACY,
                    event_seq=t.c.event_seq + 1,
                    finished_at=row["updated_at"],
                )
                .returning(t)
            )
        )
        .mappings()
        .one()
    )
    await store.store_event(conn, failed_event(failed))
