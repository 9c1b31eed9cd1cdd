"""Monte Carlo studies in PostgreSQL: the priority queue, claims and results; every query a user
makes is scoped to its owner.

The table is the queue. Each job message is a turn to run one study: the consumer takes the most
urgent queued study (lowest ``priority_rank``, then oldest) with ``FOR UPDATE SKIP LOCKED`` and
records the message it took it on (``taken_on``). If the process dies, the message is redelivered
and the next consumer resumes the study recorded against it, as a new ``attempt``; only the
latest attempt may finish a study, so exactly one terminal event is published.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import ListMonteCarlo, MonteCarloInfo, RunStatus
from tradelab_contracts.montecarlo import (
    BOOTSTRAP_METHODS,
    MonteCarloResults,
    MonteCarloSpec,
    Priority,
)

from .tables import monte_carlo

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


class MonteCarloRepository:
    """Reads and writes ``engine.monte_carlo``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, spec: MonteCarloSpec, now: datetime) -> MonteCarloInfo:
        """Queue a study."""
        stmt = sa.insert(monte_carlo).values(row_values(spec, now)).returning(monte_carlo)
        async with self._engine.begin() as conn:
            return _info((await conn.execute(stmt)).mappings().one())

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

    async def take(self, message_id: UUID, worker: str, now: datetime) -> StudyClaim | None:
        """Take the study to run on job message ``message_id``, as a new attempt.

        The study already taken on this message, if still running (the message is redelivered
        because its consumer died), else the most urgent queued study, else None.
        """
        claim = {"attempt": monte_carlo.c.attempt + 1, "worker": worker, "updated_at": now}
        resume = (
            sa.update(monte_carlo)
            .where(
                monte_carlo.c.taken_on == message_id,
                monte_carlo.c.status == RunStatus.RUNNING.value,
            )
            .values(**claim)
            .returning(monte_carlo)
        )
        most_urgent = (
            sa.select(monte_carlo.c.id)
            .where(monte_carlo.c.status == RunStatus.QUEUED.value)
            .order_by(monte_carlo.c.priority_rank, monte_carlo.c.created_at, monte_carlo.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        start = (
            sa.update(monte_carlo)
            .where(monte_carlo.c.id == most_urgent, monte_carlo.c.status == RunStatus.QUEUED.value)
            .values(**claim, status=RunStatus.RUNNING.value, taken_on=message_id, started_at=now)
            .returning(monte_carlo)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(resume)).mappings().first()
            if row is None:
                row = (await conn.execute(start)).mappings().first()
        if row is None:
            return None
        info = _info(row)
        return StudyClaim(info, MonteCarloSpec.model_validate(row["spec"]), row["attempt"])

    async def set_progress(
        self, study_id: UUID, attempt: int, progress: float, done: int
    ) -> int | None:
        """Record progress of the current attempt; return the event's sequence number, or None
        when the attempt no longer owns the study."""
        stmt = (
            sa.update(monte_carlo)
            .where(
                monte_carlo.c.id == study_id,
                monte_carlo.c.attempt == attempt,
                monte_carlo.c.status == RunStatus.RUNNING.value,
            )
            .values(progress=progress, simulations_done=done, event_seq=monte_carlo.c.event_seq + 1)
            .returning(monte_carlo.c.event_seq)
        )
        async with self._engine.begin() as conn:
            sequence: int | None = (await conn.execute(stmt)).scalar_one_or_none()
        return sequence

    async def finish(
        self,
        study_id: UUID,
        attempt: int | None,
        values: dict[str, Any],
        now: datetime,
        *,
        statuses: tuple[str, ...] = ACTIVE,
    ) -> MonteCarloInfo | None:
        """End a study in one of ``statuses`` (counting its final event); None if another
        attempt owns it or it is in none of them. ``attempt`` None: whichever attempt."""
        where = [monte_carlo.c.id == study_id, monte_carlo.c.status.in_(statuses)]
        if attempt is not None:
            where.append(monte_carlo.c.attempt == attempt)
        stmt = (
            sa.update(monte_carlo)
            .where(*where)
            .values(
                **values, event_seq=monte_carlo.c.event_seq + 1, finished_at=now, updated_at=now
            )
            .returning(monte_carlo)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return _info(row) if row is not None else None
