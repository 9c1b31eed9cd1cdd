"""The job queues from the engine's job tables: depth, running jobs, throughput, durations."""

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.engine_rpc import RunStatus
from tradelab_contracts.performance import (
    ConsumerLag,
    DurationStats,
    JobCount,
    JobKind,
    JobsReport,
    RunningJob,
    Throughput,
)
from tradelab_engine.adapters.tables import monte_carlo, optimizations, runs
from tradelab_runtime.lag import TopicLag

TABLES: dict[JobKind, sa.Table] = {
    JobKind.BACKTEST: runs,
    JobKind.OPTIMIZATION: optimizations,
    JobKind.MONTE_CARLO: monte_carlo,
}
THROUGHPUT_WINDOWS_S = (300, 3600)
"""Throughput is counted over the last 5 minutes and the last hour."""
DURATION_WINDOW_S = 3600
"""Durations are those of the jobs completed in the last hour."""


async def _counts(conn: AsyncConnection, kind: JobKind, table: sa.Table) -> list[JobCount]:
    """Every status of ``kind``, none left out (an empty queue is a depth of 0, not absent)."""
    stmt = sa.select(table.c.status, sa.func.count().label("jobs")).group_by(table.c.status)
    found: dict[str, int] = {row.status: row.jobs for row in await conn.execute(stmt)}
    statuses = [s.value for s in RunStatus] + sorted(found.keys() - {s.value for s in RunStatus})
    return [JobCount(kind=kind, status=s, count=found.get(s, 0)) for s in statuses]


async def _running(
    conn: AsyncConnection, kind: JobKind, table: sa.Table, top: int
) -> list[RunningJob]:
    stmt = (
        sa.select(table.c.id, table.c.worker, table.c.started_at)
        .where(table.c.status == RunStatus.RUNNING.value)
        .order_by(table.c.started_at.asc().nulls_last(), table.c.id)
        .limit(top)
    )
    return [
        RunningJob(kind=kind, id=str(row.id), worker=row.worker, started_at=row.started_at)
        for row in (await conn.execute(stmt)).all()
    ]


def _ended(table: sa.Table, status: RunStatus) -> Any:
    return sa.func.count().filter(table.c.status == status.value)


async def _throughput(
    conn: AsyncConnection, kind: JobKind, table: sa.Table, now: datetime, window_s: int
) -> Throughput:
    stmt = sa.select(
        _ended(table, RunStatus.COMPLETED),
        _ended(table, RunStatus.FAILED),
        _ended(table, RunStatus.CANCELLED),
    ).where(table.c.finished_at >= now - timedelta(seconds=window_s))
    completed, failed, cancelled = (await conn.execute(stmt)).one()
    return Throughput(
        kind=kind, window_s=window_s, completed=completed, failed=failed, cancelled=cancelled
    )


async def _durations(
    conn: AsyncConnection, kind: JobKind, table: sa.Table, now: datetime
) -> DurationStats:
    ms = sa.extract("epoch", table.c.finished_at - table.c.started_at) * 1000

    def quantile(q: float) -> Any:
        return sa.func.percentile_cont(q).within_group(ms)

    stmt = sa.select(
        sa.func.count(), quantile(0.5), quantile(0.95), quantile(0.99), sa.func.max(ms)
    ).where(
        table.c.status == RunStatus.COMPLETED.value,
        table.c.started_at.is_not(None),
        table.c.finished_at >= now - timedelta(seconds=DURATION_WINDOW_S),
    )
    count, p50, p95, p99, longest = (await conn.execute(stmt)).one()

    def positive(value: Any) -> float | None:
        return None if value is None else max(0.0, float(value))

    return DurationStats(
        kind=kind,
        window_s=DURATION_WINDOW_S,
        count=count,
        p50_ms=positive(p50),
        p95_ms=positive(p95),
        p99_ms=positive(p99),
        max_ms=positive(longest),
    )


async def jobs_report(
    engine: AsyncEngine,
    now: datetime,
    top: int,
    instance_id: str,
    lag: list[TopicLag],
) -> JobsReport:
    """Read the job tables' figures.

    Parameters
    ----------
    engine
        The engine's database.
    now
        When the figures are read; the windows end here.
    top
        Running jobs listed, at most (longest-running first, over every kind).
    instance_id
        The answering engine instance.
    lag
        Its consumer groups' lag (`tradelab_runtime.lag.consumer_lag`).
    """
    counts: list[JobCount] = []
    running: list[RunningJob] = []
    throughput: list[Throughput] = []
    durations: list[DurationStats] = []
    async with engine.connect() as conn:
        for kind, table in TABLES.items():
            counts.extend(await _counts(conn, kind, table))
            running.extend(await _running(conn, kind, table, top))
            throughput.extend(
                [await _throughput(conn, kind, table, now, w) for w in THROUGHPUT_WINDOWS_S]
            )
            durations.append(await _durations(conn, kind, table, now))
    running.sort(key=lambda job: (job.started_at is None, job.started_at or now, job.id))
    return JobsReport(
        collected_at=now,
        instance_id=instance_id,
        counts=counts,
        running=running[:top],
        throughput=throughput,
        durations=durations,
        lag=[ConsumerLag(group=g.group, topic=g.topic, lag=g.lag) for g in lag],
    )
