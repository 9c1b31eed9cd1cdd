"""Lifecycle transitions of one job table, in SQL; the table is any with the standard columns
(``id, status, attempt, worker, event_seq, lease_expires_at, dispatched_at, started_at,
finished_at, updated_at``)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tradelab_contracts.base import Message
from tradelab_contracts.engine_rpc import RunStatus
from tradelab_engine.adapters.tables import SCHEMA
from tradelab_runtime import audit
from tradelab_runtime.metrics import ServiceMetrics
from tradelab_runtime.outbox import Outbox

from .fair import next_job

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
Announcement = tuple[Message, str, bytes]
"""An event with its topic and key."""
Announce = Callable[[sa.RowMapping], Announcement | None]
"""Build the event a transition implies from the job's new row (None: nothing to announce)."""


class JobKind(Protocol):
    """What the lifecycle needs to know of one kind of job."""

    @property
    def table(self) -> sa.Table:
        """The job table."""

    @property
    def entity(self) -> str:
        """What the audit log calls a job of the kind (``backtest``, ``optimization``...)."""

    @property
    def queue_order(self) -> tuple[sa.ColumnElement[Any], ...]:
        """The order one user's claimable jobs of the kind are taken in (oldest first)."""

    @property
    def turns(self) -> sa.ColumnElement[bool]:
        """Which jobs of the table a job message's turn may take (``sa.true()``: any)."""

    def dispatch(self, row: sa.RowMapping) -> Announcement | None:
        """The job message that (re)starts a queued job (None: its work travels in messages of
        its own, which the kind re-drives itself, as an optimisation's chunks)."""

    def gave_up(self, row: sa.RowMapping) -> Announcement:
        """The failed event of a job given up after too many attempts (row already failed)."""


@dataclass(frozen=True)
class LeaseTerms:
    """How long a claim holds and how patient the sweeper is."""

    lease_s: float = 30.0
    """A running attempt that has not renewed its lease for this long is presumed dead."""
    max_attempts: int = 3
    """Attempts a job gets before it fails with ``attempts_exhausted``."""
    redispatch_after_s: float = 60.0
    """A job queued this long since its message was published gets its message again."""

    def lease_until(self, now: datetime) -> datetime:
        """When a lease taken or renewed at ``now`` expires."""
        return now + timedelta(seconds=self.lease_s)


class JobStore:
    """Claim, renew, record progress of and finish the jobs of one table."""

    def __init__(
        self,
        kind: JobKind,
        outbox: Outbox,
        terms: LeaseTerms,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.kind = kind
        self.table = kind.table
        self.outbox = outbox
        self.terms = terms
        self.metrics = metrics or ServiceMetrics()

    def claimable(self, now: datetime) -> sa.ColumnElement[bool]:
        """A job a worker may take: queued, or running under a lease that expired."""
        t = self.table
        return sa.or_(
            t.c.status == RunStatus.QUEUED.value,
            sa.and_(
                t.c.status == RunStatus.RUNNING.value,
                sa.or_(t.c.lease_expires_at.is_(None), t.c.lease_expires_at < now),
            ),
        )

    def claim_values(self, worker: str, now: datetime) -> dict[str, Any]:
        """The columns a claim sets."""
        t = self.table
        return {
            "status": RunStatus.RUNNING.value,
            "attempt": t.c.attempt + 1,
            "worker": worker,
            "lease_expires_at": self.terms.lease_until(now),
            "started_at": sa.func.coalesce(t.c.started_at, now),
            "updated_at": now,
        }

    async def take(self, worker: str, now: datetime) -> sa.RowMapping | None:
        """Take the next claimable job in the fair order (``lifecycle.fair``) as a new attempt;
        None when no job of the kind is claimable."""
        async with self.outbox.begin() as conn:
            return await self.take_in(conn, worker, now)

    async def take_in(
        self, conn: AsyncConnection, worker: str, now: datetime
    ) -> sa.RowMapping | None:
        """`take`, in ``conn``'s transaction (a submission claims in its own: the job it inserted
        is claimable there, locked by that transaction)."""
        t = self.table
        waiting = sa.and_(self.claimable(now), self.kind.turns)
        chosen = next_job(t, waiting, self.kind.queue_order)
        stmt = sa.update(t).where(t.c.id == chosen).values(self.claim_values(worker, now))
        row: sa.RowMapping | None = (await conn.execute(stmt.returning(t))).mappings().first()
        return row

    def owned(self, job_id: UUID, attempt: int | None) -> list[sa.ColumnElement[bool]]:
        """Conditions for a write by attempt ``attempt`` (None: whichever) of an active job."""
        t = self.table
        where = [t.c.id == job_id, t.c.status.in_(ACTIVE)]
        if attempt is not None:
            where.append(t.c.attempt == attempt)
        return where

    async def renew(self, job_id: UUID, attempt: int, now: datetime) -> bool:
        """Extend the lease of a running attempt; False when the attempt lost the job."""
        t = self.table
        stmt = (
            sa.update(t)
            .where(*self.owned(job_id, attempt), t.c.status == RunStatus.RUNNING.value)
            .values(lease_expires_at=self.terms.lease_until(now))
            .returning(t.c.id)
        )
        async with self.outbox.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def release(
        self, job_id: UUID, attempt: int, now: datetime, *, redispatch: bool = False
    ) -> bool:
        """Give back the job of a running attempt that stopped on an error (queued again, no
        lease), so the consumer's retry claims it at once instead of waiting out the lease.

        ``redispatch`` stores the job's message again with it, for a job that may have had none
        (a backtest its own submission claimed): the next turn of any replica takes it then, not
        the sweeper ``redispatch_after_s`` later. Where the message is also retried, one of the
        two turns finds nothing (claims are atomic)."""
        t = self.table
        stmt = (
            sa.update(t)
            .where(*self.owned(job_id, attempt), t.c.status == RunStatus.RUNNING.value)
            .values(
                status=RunStatus.QUEUED.value,
                worker=None,
                lease_expires_at=None,
                dispatched_at=now,
                updated_at=now,
            )
            .returning(t)
        )
        async with self.outbox.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is not None and redispatch:
                await self.store_event(conn, self.kind.dispatch(row))
        return row is not None

    async def progress(self, job_id: UUID, attempt: int, values: dict[str, Any]) -> int | None:
        """Record progress of a running attempt; return its event's sequence number, or None
        when the attempt no longer owns the job."""
        t = self.table
        stmt = (
            sa.update(t)
            .where(*self.owned(job_id, attempt))
            .values(**values, event_seq=t.c.event_seq + 1)
            .returning(t.c.event_seq)
        )
        async with self.outbox.begin() as conn:
            sequence: int | None = (await conn.execute(stmt)).scalar_one_or_none()
        return sequence

    async def finish(
        self,
        job_id: UUID,
        attempt: int | None,
        values: dict[str, Any],
        now: datetime,
        announce: Announce,
        *,
        statuses: tuple[str, ...] = ACTIVE,
        only_if: tuple[sa.ColumnElement[bool], ...] = (),
    ) -> sa.RowMapping | None:
        """End a job in one of ``statuses`` (and meeting ``only_if``) and store its terminal event
        in the same transaction; None if another attempt owns it or it already ended."""
        t = self.table
        where = [t.c.id == job_id, t.c.status.in_(statuses), *only_if]
        if attempt is not None:
            where.append(t.c.attempt == attempt)
        stmt = (
            sa.update(t)
            .where(*where)
            .values(
                **values,
                event_seq=t.c.event_seq + 1,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            .returning(t)
        )
        async with self.outbox.begin() as conn:
            row: sa.RowMapping | None = (await conn.execute(stmt)).mappings().first()
            if row is not None:
                await self.store_event(conn, announce(row))
                await self.audit_ending(conn, row)
        if row is not None:
            self.observe_end(row)
        return row

    def observe_end(self, row: sa.RowMapping) -> None:
        """Count a job that ended (committed) and how long it took since it was submitted."""
        finished, created = row["finished_at"], row["created_at"]
        seconds = None if finished is None else (finished - created).total_seconds()
        self.metrics.job_finished(self.kind.entity, row["status"], seconds)

    async def audit_ending(self, conn: AsyncConnection, row: sa.RowMapping) -> None:
        """Record a job's end (or its re-queueing) in the audit log, in ``conn``'s transaction.

        The actor is the owner for a cancellation (they asked for it, or deleted what the job
        used) and None for what the engine decided on its own (completed, failed, re-queued).
        """
        status = row["status"]
        actor = row["owner_id"] if status == RunStatus.CANCELLED.value else None
        detail = {"attempt": row["attempt"]}
        if row.get("failure_reason") is not None:
            detail["reason"] = row["failure_reason"]
        entity = self.kind.entity
        await audit.record(conn, SCHEMA, actor, f"{entity}.{status}", entity, row["id"], detail)

    async def store_event(self, conn: AsyncConnection, event: Announcement | None) -> None:
        """Store ``event`` (if any) in ``conn``'s transaction."""
        if event is not None:
            message, topic, key = event
            await self.outbox.add(conn, message, topic, key)
