"""Backtest runs in PostgreSQL; every query is scoped to its owner.

Claims, progress and endings go through the shared job lifecycle (``lifecycle.store``): a run is
claimed by bumping its ``attempt`` under a lease, only the holder of the latest attempt may finish
it, and its terminal event is stored in the same transaction, so it completes and is announced
exactly once whatever the crashes and redeliveries.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.engine import BacktestSummary, EngineOptions, FailureReason, RunBacktest
from tradelab_contracts.engine_rpc import ListBacktests, RunInfo, RunStatus
from tradelab_engine.adapters.tables import SCHEMA, runs
from tradelab_engine.backtests.kind import BacktestJobs
from tradelab_engine.lifecycle.idempotency import Earlier, key_conflicts, keyed
from tradelab_engine.lifecycle.store import Announce, Announcement, JobStore
from tradelab_engine.quotas.repository import Admit
from tradelab_runtime import audit
from tradelab_runtime.trace_context import TraceCarrier

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


def _info(row: sa.RowMapping) -> RunInfo:
    return RunInfo(
        id=row["id"],
        owner_id=row["owner_id"],
        dataset_id=row["dataset_id"],
        strategy=row["strategy"],
        parameters=row["parameters"],
        options=EngineOptions.model_validate(row["options"]),
        status=RunStatus(row["status"]),
        progress=row["progress"],
        sequence=row["event_seq"],
        summary=BacktestSummary.model_validate(row["summary"]) if row["summary"] else None,
        equity_uri=row["equity_uri"],
        trades_uri=row["trades_uri"],
        cached=row["cached"],
        failure_reason=FailureReason(row["failure_reason"]) if row["failure_reason"] else None,
        failure_message=row["failure_message"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _claim(row: sa.RowMapping) -> "Claim":
    job = BacktestJobs().job(row)
    return Claim(
        _info(row), row["attempt"], row["dataset_uri"], row["timeframe"], job, row["trace_context"]
    )


@dataclass(frozen=True)
class Claim:
    """A run this worker may now execute, as attempt ``attempt``."""

    info: RunInfo
    attempt: int
    dataset_uri: str
    timeframe: str | None
    job: RunBacktest
    """The run's job, as its message carries it."""
    trace_context: TraceCarrier | None = None
    """The submitting request's trace, which the run's span continues."""


@dataclass(frozen=True)
class NewRun:
    """A run to insert: its columns, the message it implies and its owner's quota check."""

    values: dict[str, Any]
    announce: Announce
    admit: Admit | None = None


@dataclass(frozen=True)
class Submitted:
    """A new run as committed, and the run its submission claimed for a direct turn, if any."""

    info: RunInfo
    claim: Claim | None = None


def _cached(cache_key: str) -> sa.Select[Any]:
    """An original (not itself cached) completed run with ``cache_key``."""
    return (
        sa.select(runs)
        .where(
            runs.c.cache_key == cache_key,
            runs.c.status == RunStatus.COMPLETED.value,
            runs.c.cached.is_(False),
        )
        .limit(1)
    )


class RunRepository:
    """Reads and writes ``engine.runs``."""

    def __init__(self, engine: AsyncEngine, jobs: JobStore) -> None:
        self._engine = engine
        self.jobs = jobs

    async def add(
        self, values: dict[str, Any], announce: Announce, admit: Admit | None = None
    ) -> RunInfo:
        """Insert a run (queued, or completed when answered from the cache) and store the message
        it implies (its job, or its completion) in the same transaction, once ``admit`` (the
        owner's quota check) let it in.

        Raises `IdempotencyKeyTakenError` when the owner already has a run with its key, and
        `QuotaExceededError` when ``admit`` refuses it."""
        with key_conflicts(runs):
            async with self.jobs.outbox.begin() as conn:
                return _info(await self._insert(conn, NewRun(values, announce, admit)))

    async def add_or_reuse(
        self,
        cache_key: str,
        new_run: Callable[[sa.RowMapping | None], NewRun],
        claim_as: str | None = None,
    ) -> "Submitted":
        """Look for an original completed run with ``cache_key`` (the result cache) and `add` the
        run ``new_run`` makes of it (of None when there is none), in one transaction: one
        connection and its round trips fewer than the two steps apart, same outcome (a result
        is looked up as committed when the statement runs, as before).

        With ``claim_as`` (a worker whose slot is free) a queued run is followed, in the same
        transaction, by the claim of the next run in the fair order (`take`: the new run, or an
        earlier one that comes first), so the worker runs it without a transaction of its own.
        """
        claim = None
        with key_conflicts(runs):
            async with self.jobs.outbox.begin() as conn:
                original = (await conn.execute(_cached(cache_key))).mappings().first()
                new = new_run(original)
                if claim_as is None or new.values["status"] != RunStatus.QUEUED.value:
                    info = _info(await self._insert(conn, new))
                else:
                    # Its message only once it is known that another run was claimed instead:
                    # a run its own submission claims needs none (if its worker dies, the
                    # sweeper queues it again with one when the lease expires).
                    inserted = await self._insert(conn, replace(new, announce=lambda _: None))
                    info = _info(inserted)
                    claimed = await self.jobs.take_in(conn, claim_as, info.created_at)
                    claim = None if claimed is None else _claim(claimed)
                    if claim is None or claim.info.id != info.id:
                        await self.jobs.store_event(conn, new.announce(inserted))
        if claim is not None and claim.info.id == info.id:
            info = claim.info  # claimed by its own submission: it is running
        return Submitted(info, claim)

    async def _insert(self, conn: AsyncConnection, new: NewRun) -> sa.RowMapping:
        values = new.values
        stmt = sa.insert(runs).values(dispatched_at=values["created_at"], **values)
        if new.admit is not None:
            await new.admit(conn)
        row: sa.RowMapping = (await conn.execute(stmt.returning(runs))).mappings().one()
        await self.jobs.store_event(conn, new.announce(row))
        detail = {"cached": row["cached"]}
        await audit.record(
            conn, SCHEMA, row["owner_id"], "backtest.submitted", "backtest", row["id"], detail
        )
        return row

    async def by_idempotency_key(self, owner_id: UUID, key: str) -> Earlier[RunInfo] | None:
        """The owner's run submitted with ``key``, if any."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(keyed(runs, owner_id, key))).mappings().first()
        return None if row is None else Earlier(_info(row), row["request_sha256"])

    async def get(self, owner_id: UUID, run_id: UUID) -> RunInfo | None:
        """Return the owner's run, or None (also for another user's run)."""
        async with self._engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(runs).where(runs.c.id == run_id, runs.c.owner_id == owner_id)
                    )
                )
                .mappings()
                .first()
            )
        return _info(row) if row is not None else None

    async def page(self, query: ListBacktests) -> tuple[list[RunInfo], int]:
        """Return one page of the owner's runs (newest first) and the total matching."""
        where = [runs.c.owner_id == query.owner_id]
        if query.active:
            where.append(runs.c.status.in_(ACTIVE))
        elif query.status is not None:
            where.append(runs.c.status == query.status.value)
        async with self._engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).where(*where))
            rows = await conn.execute(
                sa.select(runs)
                .where(*where)
                .order_by(runs.c.created_at.desc(), runs.c.id)
                .limit(query.limit)
                .offset(query.offset)
            )
            return [_info(r) for r in rows.mappings()], int(total or 0)

    async def take(self, worker: str, now: datetime) -> Claim | None:
        """Take the next claimable run in the fair order (``lifecycle.fair``) as a new attempt;
        None when no run is claimable."""
        row = await self.jobs.take(worker, now)
        if row is None:
            return None
        return _claim(row)

    async def set_progress(self, run_id: UUID, attempt: int, progress: float) -> int | None:
        """Record progress of the current attempt; return the event's sequence number, or None
        when the attempt no longer owns the run (nothing to announce then)."""
        return await self.jobs.progress(run_id, attempt, {"progress": progress})

    async def finish(
        self,
        run_id: UUID,
        attempt: int | None,
        values: dict[str, Any],
        now: datetime,
        announce: Callable[[RunInfo], Announcement | None],
        *,
        statuses: tuple[str, ...] = ACTIVE,
    ) -> RunInfo | None:
        """End a run in one of ``statuses`` and store its terminal event in the same
        transaction; None if another attempt owns it or it is in none of them."""
        row = await self.jobs.finish(
            run_id, attempt, values, now, lambda row: announce(_info(row)), statuses=statuses
        )
        return _info(row) if row is not None else None

    async def delete(
        self, owner_id: UUID, run_id: UUID, announce: Callable[[RunInfo], Announcement]
    ) -> tuple[RunInfo, bool] | None:
        """Delete the owner's finished run and store its deletion event in the same transaction;
        say whether its result files are now unused."""
        stmt = (
            sa.delete(runs)
            .where(
                runs.c.id == run_id,
                runs.c.owner_id == owner_id,
                runs.c.status.not_in(ACTIVE),
            )
            .returning(runs)
        )
        async with self.jobs.outbox.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is None:
                return None
            info = _info(row)
            await self.jobs.store_event(conn, announce(info))
            await audit.record(conn, SCHEMA, owner_id, "backtest.deleted", "backtest", run_id)
            unused = info.equity_uri is not None and not await _referenced(conn, info.equity_uri)
        return info, unused


async def _referenced(conn: AsyncConnection, equity_uri: str) -> bool:
    count = await conn.scalar(sa.select(sa.func.count()).where(runs.c.equity_uri == equity_uri))
    return bool(count)
