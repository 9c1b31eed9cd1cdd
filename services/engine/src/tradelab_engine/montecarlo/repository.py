"""Monte Carlo studies in PostgreSQL: the priority queue, claims and results; every query a user
makes is scoped to its owner.

The table is the queue. Each job message is a turn to run one study: the consumer takes the next
claimable study in the fair order (``lifecycle.fair``: the user with the fewest running jobs, then
the one served least recently; then that user's most urgent study, lowest ``priority_rank`` then
oldest) with ``FOR UPDATE SKIP LOCKED``, as a new ``attempt`` under a lease (the shared job
lifecycle, ``lifecycle.store``). If the process dies, its lease expires and the study is taken
again on the next turn (the sweeper publishes one); only the latest attempt may finish a study,
and its terminal event is stored with its final state, so exactly one is published.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import (
    IdempotentSubmit,
    ListMonteCarlo,
    MonteCarloInfo,
    RunStatus,
)
from tradelab_contracts.montecarlo import (
    BOOTSTRAP_METHODS,
    MonteCarloResults,
    MonteCarloSpec,
    Priority,
)
from tradelab_engine.adapters.tables import SCHEMA, monte_carlo
from tradelab_engine.lifecycle.idempotency import Earlier, key_columns, key_conflicts, keyed
from tradelab_engine.lifecycle.store import Announce, Announcement, JobStore
from tradelab_engine.quotas.repository import Admit
from tradelab_runtime import audit
from tradelab_runtime.trace_context import TraceCarrier

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
PRIORITY_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
"""Queue order: a lower rank is taken first; equal ranks in order of submission."""


def row_values(spec: MonteCarloSpec, now: datetime) -> dict[str, Any]:
    """The row of a newly queued study."""
    return {
        "id": spec.simulation_id,
        "owner_id": spec.owner_id,
        "method": spec.method.value,
        "source_run_id": spec.source_run_id,
        "dataset_id": spec.dataset_id,
        "strategy": spec.strategy,
        # Only the study's own fields: not the envelope of the command it came in.
        "spec": spec.model_dump(mode="json", include=set(MonteCarloSpec.model_fields)),
        "n_simulations": spec.n_simulations,
        "seed": spec.seed,
        "priority": spec.priority.value,
        "priority_rank": PRIORITY_RANK[spec.priority],
        "status": RunStatus.QUEUED.value,
        "progress": 0.0,
        "simulations_done": 0,
        "event_seq": 0,
        "attempt": 0,
        "created_at": now,
        "updated_at": now,
    }


def _info(row: sa.RowMapping) -> MonteCarloInfo:
    spec = MonteCarloSpec.model_validate(row["spec"])
    return MonteCarloInfo(
        id=row["id"],
        owner_id=row["owner_id"],
        method=spec.method,
        n_simulations=spec.n_simulations,
        seed=spec.seed,
        priority=spec.priority,
        drawdown_threshold=spec.drawdown_threshold,
        block_size=spec.block_size,
        horizon_bars=spec.horizon_bars,
        source_run_id=spec.source_run_id,
        dataset_id=spec.dataset_id,
        strategy=spec.strategy,
        parameters=spec.parameters,
        options=None if spec.method in BOOTSTRAP_METHODS else spec.options,
        status=RunStatus(row["status"]),
        progress=row["progress"],
        simulations_done=row["simulations_done"],
        sequence=row["event_seq"],
        results=MonteCarloResults.model_validate(row["results"]) if row["results"] else None,
        results_uri=row["results_uri"],
        failure_reason=FailureReason(row["failure_reason"]) if row["failure_reason"] else None,
        failure_message=row["failure_message"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


@dataclass(frozen=True)
class StudyClaim:
    """A study this worker may now run, as attempt ``attempt``."""

    info: MonteCarloInfo
    spec: MonteCarloSpec
    attempt: int
    trace_context: TraceCarrier | None = None
    """The submitting request's trace, which the study's span continues."""


class MonteCarloRepository:
    """Reads and writes ``engine.monte_carlo``."""

    def __init__(self, engine: AsyncEngine, jobs: JobStore) -> None:
        self._engine = engine
        self.jobs = jobs

    async def add(
        self,
        spec: MonteCarloSpec,
        now: datetime,
        announce: Announce,
        submitted: IdempotentSubmit | None = None,
        admit: Admit | None = None,
        bars: int = 0,
    ) -> MonteCarloInfo:
        """Queue a study and store its job message in the same transaction, once ``admit`` (the
        owner's quota check) let it in; with the ``submitted`` request's Idempotency-Key, if it
        has one, and the ``bars`` each simulation steps through.

        Raises `IdempotencyKeyTakenError` when the owner already has a study with that key, and
        `QuotaExceededError` when ``admit`` refuses it."""
        keys = key_columns(submitted) if submitted is not None else {}
        values = row_values(spec, now) | keys | {"dispatched_at": now, "bars": bars}
        with key_conflicts(monte_carlo):
            async with self.jobs.outbox.begin() as conn:
                if admit is not None:
                    await admit(conn)
                stmt = sa.insert(monte_carlo).values(values).returning(monte_carlo)
                created = (await conn.execute(stmt)).mappings().one()
                await self.jobs.store_event(conn, announce(created))
                await audit.record(
                    conn,
                    SCHEMA,
                    created["owner_id"],
                    "monte_carlo.submitted",
                    "monte_carlo",
                    created["id"],
                )
        return _info(created)

    async def by_idempotency_key(self, owner_id: UUID, key: str) -> Earlier[MonteCarloInfo] | None:
        """The owner's study submitted with ``key``, if any."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(keyed(monte_carlo, owner_id, key))).mappings().first()
        return None if row is None else Earlier(_info(row), row["request_sha256"])

    async def ensure(self, spec: MonteCarloSpec, now: datetime) -> None:
        """Queue a study known only from its job message (a no-op when the row exists)."""
        stmt = insert(monte_carlo).values(row_values(spec, now)).on_conflict_do_nothing()
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def get(self, owner_id: UUID, study_id: UUID) -> MonteCarloInfo | None:
        """Return the owner's study, or None (also for another user's study)."""
        stmt = sa.select(monte_carlo).where(
            monte_carlo.c.id == study_id, monte_carlo.c.owner_id == owner_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return _info(row) if row is not None else None

    async def page(self, query: ListMonteCarlo) -> tuple[list[MonteCarloInfo], int]:
        """Return one page of the owner's studies (newest first) and the total matching."""
        where = [monte_carlo.c.owner_id == query.owner_id]
        if query.active:
            where.append(monte_carlo.c.status.in_(ACTIVE))
        elif query.status is not None:
            where.append(monte_carlo.c.status == query.status.value)
        if query.method is not None:
            where.append(monte_carlo.c.method == query.method.value)
        async with self._engine.connect() as conn:
            total = await conn.scalar(
                sa.select(sa.func.count()).select_from(monte_carlo).where(*where)
            )
            rows = await conn.execute(
                sa.select(monte_carlo)
                .where(*where)
                .order_by(monte_carlo.c.created_at.desc(), monte_carlo.c.id)
                .limit(query.limit)
                .offset(query.offset)
            )
            return [_info(r) for r in rows.mappings()], int(total or 0)

    async def take(self, worker: str, now: datetime) -> StudyClaim | None:
        """Take the next claimable study in the fair order as a new attempt (None when none is):
        the user's turn first (``lifecycle.fair``), then their most urgent study."""
        row = await self.jobs.take(worker, now)
        if row is None:
            return None
        info = _info(row)
        spec = MonteCarloSpec.model_validate(row["spec"])
        return StudyClaim(info, spec, row["attempt"], row["trace_context"])

    async def set_progress(
        self, study_id: UUID, attempt: int, progress: float, done: int
    ) -> int | None:
        """Record progress of the current attempt; return the event's sequence number, or None
        when the attempt no longer owns the study."""
        values = {"progress": progress, "simulations_done": done}
        return await self.jobs.progress(study_id, attempt, values)

    async def finish(
        self,
        study_id: UUID,
        attempt: int | None,
        values: dict[str, Any],
        now: datetime,
        announce: Callable[[MonteCarloInfo], Announcement | None],
        *,
        statuses: tuple[str, ...] = ACTIVE,
    ) -> MonteCarloInfo | None:
        """End a study in one of ``statuses`` and store its terminal event in the same
        transaction; None if another attempt owns it or it is in none of them. ``attempt``
        None: whichever attempt."""
        row = await self.jobs.finish(
            study_id, attempt, values, now, lambda row: announce(_info(row)), statuses=statuses
        )
        return _info(row) if row is not None else None
