"""The engine's performance reports against a real PostgreSQL: job counts, throughput windows
and duration percentiles from the job tables (percentiles checked against numpy's), and the
database's tables, indexes, connections and statements checked against PostgreSQL's own
functions."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import SubmitBacktest
from tradelab_contracts.performance import ConsumerLag, JobKind
from tradelab_contracts.topics import reply_topic
from tradelab_engine.adapters.tables import runs
from tradelab_engine.backtests.use_cases import submit_backtest
from tradelab_engine.performance.database import database_report
from tradelab_engine.performance.jobs import jobs_report
from tradelab_engine.service import EngineDeps
from tradelab_runtime.database import make_engine
from tradelab_runtime.lag import TopicLag
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import Recorder, clock_of, engine_deps, random_walk_dataset

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
APPLICATION = "tradelab-perf-test"
DURATIONS_MS = (100.0, 400.0, 1000.0)
ALL_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


@dataclass
class Engine:
    db: AsyncEngine
    deps: EngineDeps
    dataset_uri: str


@pytest_asyncio.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[Engine]:
    db = make_engine(database_url, APPLICATION)
    await upgrade_to_head(db, "tradelab_engine:migrations", "engine")
    store = LocalObjectStore(tmp_path / "objects")
    deps = engine_deps(db, Recorder(db), store)
    yield Engine(db, deps, random_walk_dataset(store, 200, seed=1, drift=0.0, step_s=60))
    await db.dispose()


async def submit(engine: Engine, n: int) -> uuid.UUID:
    run_id = uuid.uuid4()
    await submit_backtest(
        SubmitBacktest(
            reply_to=reply_topic("gw-test"),
            run_id=run_id,
            owner_id=uuid.uuid4(),
            dataset_id=uuid.uuid4(),
            dataset_uri=engine.dataset_uri,
            dataset_sha256="c" * 64,
            timeframe="1m",
            strategy="sma_cross",
            parameters={"fast": 2 + n, "slow": 30},
            options=EngineOptions(),
        ),
        engine.deps,
    )
    return run_id


async def set_run(engine: Engine, run_id: uuid.UUID, **values: object) -> None:
    async with engine.db.begin() as conn:
        await conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))


async def test_jobs_report_counts_windows_and_percentiles(engine: Engine) -> None:
    now = clock_of(engine.deps).now()
    ids = [await submit(engine, n) for n in range(6)]
    for run_id, ms in zip(ids, DURATIONS_MS, strict=False):  # completed within the last minute
        start = now - timedelta(seconds=60)
        finish = start + timedelta(milliseconds=ms)
        await set_run(engine, run_id, status="completed", started_at=start, finished_at=finish)
    failed_at = now - timedelta(minutes=30)  # in the hour, not in the last 5 minutes
    await set_run(engine, ids[3], status="failed", started_at=failed_at, finished_at=failed_at)
    running_since = now - timedelta(seconds=5)
    await set_run(engine, ids[4], status="running", started_at=running_since, worker="worker-b")

    lag = [TopicLag("engine-jobs", "engine.backtest.requested.v1", 3)]
    report = await jobs_report(engine.db, now, 10, "engine-1", lag)

    backtests = {c.status: c.count for c in report.counts if c.kind is JobKind.BACKTEST}
    assert backtests == {"completed": 3, "failed": 1, "running": 1, "queued": 1, "cancelled": 0}
    optimizations = {c.status: c.count for c in report.counts if c.kind is JobKind.OPTIMIZATION}
    assert optimizations == dict.fromkeys(ALL_STATUSES, 0)
    assert [(j.kind, j.id, j.worker) for j in report.running] == [
        (JobKind.BACKTEST, str(ids[4]), "worker-b")
    ]
    windows = {
        t.window_s: (t.completed, t.failed, t.cancelled)
        for t in report.throughput
        if t.kind is JobKind.BACKTEST
    }
    assert windows == {300: (3, 0, 0), 3600: (3, 1, 0)}
    [durations] = [d for d in report.durations if d.kind is JobKind.BACKTEST]
    # percentile_cont interpolates linearly, as numpy's default method does.
    expected = np.percentile(DURATIONS_MS, [50, 95, 99])
    assert durations.count == 3
    assert [durations.p50_ms, durations.p95_ms, durations.p99_ms] == pytest.approx(expected)
    assert durations.max_ms == pytest.approx(max(DURATIONS_MS))
    [idle] = [d for d in report.durations if d.kind is JobKind.OPTIMIZATION]
    assert (idle.count, idle.p50_ms) == (0, None)
    assert report.lag == [ConsumerLag(group="engine-jobs", topic=lag[0].topic, lag=3)]
    assert report.instance_id == "engine-1"


async def test_database_report_matches_postgresqls_own_figures(engine: Engine) -> None:
    await submit(engine, 0)
    report = await database_report(engine.db, clock_of(engine.deps).now(), 100)

    async with engine.db.connect() as conn:
        runs_bytes = await conn.scalar(sa.text("SELECT pg_total_relation_size('engine.runs')"))
        index_bytes = await conn.scalar(
            sa.text("SELECT pg_relation_size('engine.ix_runs_owner_active')")
        )
        database = await conn.scalar(sa.text("SELECT current_database()"))
    [runs_row] = [t for t in report.tables if (t.schema_name, t.table) == ("engine", "runs")]
    assert runs_row.total_bytes == runs_bytes
    assert runs_row.table_bytes + runs_row.index_bytes <= runs_row.total_bytes
    [index] = [i for i in report.indexes if i.index == "ix_runs_owner_active"]
    assert (index.table, index.size_bytes) == ("runs", index_bytes)
    assert report.database == database
    assert report.database_bytes > runs_bytes
    assert [t.total_bytes for t in report.tables] == sorted(
        (t.total_bytes for t in report.tables), reverse=True
    )
    # The report's own query runs on a connection of this application.
    mine = [c for c in report.connections if c.application_name == APPLICATION]
    assert any(c.state == "active" and c.count >= 1 for c in mine)

    smaller = await database_report(engine.db, clock_of(engine.deps).now(), 2)
    assert [t.table for t in smaller.tables] == [t.table for t in report.tables[:2]]
    assert len(smaller.indexes) == 2


async def test_statements_are_reported_when_the_extension_is_there_and_refused_else(
    engine: Engine,
) -> None:
    now = clock_of(engine.deps).now()
    without = (await database_report(engine.db, now, 5)).statements
    assert without.available is False
    assert without.reason is not None
    assert "CREATE EXTENSION pg_stat_statements" in without.reason

    async with engine.db.begin() as conn:
        await conn.execute(sa.text("CREATE EXTENSION pg_stat_statements"))
        preloaded = await conn.scalar(sa.text("SHOW shared_preload_libraries"))
        await conn.execute(sa.text("SELECT count(*) FROM engine.runs"))
    statements = (await database_report(engine.db, now, 5)).statements
    if "pg_stat_statements" in str(preloaded):
        assert statements.available is True
        assert 0 < len(statements.slowest) <= 5
        means = [s.mean_ms for s in statements.slowest]
        assert means == sorted(means, reverse=True)
    else:  # installed but not loaded: said, never an error
        assert statements.available is False
        assert statements.reason is not None
        assert "shared_preload_libraries" in statements.reason
