"""The sweeper: nothing stays queued or running forever.

Every ``interval_s`` one replica (an advisory lock per job table) looks at the active jobs:

- running under an expired lease (its worker died, or lost the database for longer than the
  lease): back to ``queued`` with its job message published again, or, once it has had
  ``max_attempts`` attempts, ``failed`` with reason ``attempts_exhausted`` and its failed event;
- queued since its message was published more than ``redispatch_after_s`` ago: the message is
  published again (a broker restarted empty lost it; a duplicate is harmless, claims are atomic);
- of a kind whose work travels in many messages (:class:`ChunkedKind`: an optimisation's chunks),
  active without progress for ``redispatch_after_s``: the kind publishes its undone work again.

Each change and its message are committed together through the outbox.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import RunStatus
from tradelab_runtime.clock import Clock
from tradelab_runtime.logging import get_logger

from .store import JobKind, JobStore

log = get_logger(__name__)
BATCH = 100


@runtime_checkable
class ChunkedKind(JobKind, Protocol):
    """A job kind whose running jobs wait on many messages of their own (chunks)."""

    async def redispatch_stalled(
        self, conn: AsyncConnection, store: JobStore, now: datetime
    ) -> int:
        """Store again (in ``conn``'s transaction) the messages of the undone work of jobs that
        made no progress for ``store.terms.redispatch_after_s``; return how many jobs."""


def gave_up_message(attempts: int) -> str:
    """What a user reads about a job given up."""
    return (
        f"The job was interrupted {attempts} times (its engine stopped or lost its database) "
        "and was given up; submit it again."
    )


async def _expired(conn: AsyncConnection, store: JobStore, now: datetime) -> int:
    t, terms = store.table, store.terms
    rows = await conn.execute(
        sa.select(t.c.id, t.c.attempt)
        .where(t.c.status == RunStatus.RUNNING.value, t.c.lease_expires_at < now)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    count = 0
    for job_id, attempt in rows.all():
        if attempt >= terms.max_attempts:
            values = {
                "status": RunStatus.FAILED.value,
                "failure_reason": FailureReason.ATTEMPTS_EXHAUSTED.value,
                "failure_message": gave_up_message(attempt),
                "event_seq": t.c.event_seq + 1,
                "lease_expires_at": None,
                "finished_at": now,
            }
        else:
            values = {"status": RunStatus.QUEUED.value, "lease_expires_at": None}
        row = (
            (
                await conn.execute(
                    sa.update(t)
                    .where(t.c.id == job_id)
                    .values(**values, worker=None, dispatched_at=now, updated_at=now)
                    .returning(t)
                )
            )
            .mappings()
            .one()
        )
        give_up = row["status"] == RunStatus.FAILED.value
        await store.store_event(
            conn, store.kind.gave_up(row) if give_up else store.kind.dispatch(row)
        )
        await store.audit_ending(conn, row)
        if give_up:
            store.observe_end(row)
        log.warning("lease expired", table=t.name, job_id=str(job_id), given_up=give_up)
        count += 1
    return count


async def _stale(conn: AsyncConnection, store: JobStore, now: datetime) -> int:
    t = store.table
    before = now - timedelta(seconds=store.terms.redispatch_after_s)
    rows = await conn.execute(
        sa.update(t)
        .where(
            t.c.id.in_(
                sa.select(t.c.id)
                .where(
                    t.c.status == RunStatus.QUEUED.value,
                    sa.or_(t.c.dispatched_at.is_(None), t.c.dispatched_at < before),
                )
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        .values(dispatched_at=now)
        .returning(t)
    )
    found = rows.mappings().all()
    for row in found:
        await store.store_event(conn, store.kind.dispatch(row))
    return len(found)


async def sweep_once(store: JobStore, now: datetime) -> tuple[int, int]:
    """Re-queue or give up expired jobs and re-dispatch stale queued ones; return both counts
    (``(0, 0)`` when another replica is sweeping this table)."""
    async with store.outbox.begin() as conn:
        lock = sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(f"sweep:{store.table.fullname}"))
        if not await conn.scalar(sa.select(lock)):
            return 0, 0
        expired, stale = await _expired(conn, store, now), await _stale(conn, store, now)
        if isinstance(store.kind, ChunkedKind):
            stale += await store.kind.redispatch_stalled(conn, store, now)
        return expired, stale


class Sweeper:
    """Sweep every job table periodically in the background."""

    def __init__(self, stores: list[JobStore], clock: Clock, interval_s: float) -> None:
        self._stores = stores
        self._clock = clock
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for store in self._stores:
                try:
                    await sweep_once(store, self._clock.now())
                except Exception as exc:
                    log.warning("sweep failed", table=store.table.name, error=str(exc))
            await asyncio.sleep(self._interval_s)

    async def start(self) -> None:
        """Start sweeping."""
        self._task = asyncio.create_task(self._run(), name="job-sweeper")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
