"""Faults under a running backtest, on a real PostgreSQL: the database restarting mid-job, and an
object-store write failing between the run's two files. Each time the run ends completed once,
with exactly one completed event, and only the recorded files remain."""

import asyncio
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tradelab_contracts.engine import BacktestCompleted, RunBacktest
from tradelab_contracts.engine_rpc import RunStatus
from tradelab_devstack.postgres import PostgresServer, ThrowawayCluster, create_database
from tradelab_devstack.state import state_dir
from tradelab_engine.backtests.repository import RunRepository
from tradelab_engine.backtests.worker import run_job
from tradelab_engine.service import EngineDeps
from tradelab_runtime.database import make_engine
from tradelab_runtime.failpoints import FailpointError, Failpoints
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import MovingClock, Recorder, recorder_of
from .test_engine_jobs import submit, write_dataset

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    """A PostgreSQL server of this test's own, so restarting it disturbs nothing else."""
    directory = state_dir() / f"postgres-fault-{secrets.token_hex(3)}"
    server = ThrowawayCluster(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture
async def deps(cluster: ThrowawayCluster, tmp_path: Path) -> AsyncIterator[EngineDeps]:
    """The engine's dependencies on the test's server (its production engine settings: the pool
    checks a connection before use, so connections the restart broke are replaced)."""
    server = PostgresServer(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", "test")
    await create_database(server, "faults")
    engine = make_engine(server.sqlalchemy_url("faults"), "test-faults")
    await upgrade_to_head(engine, "tradelab_engine:migrations", "engine")
    recorder = Recorder(engine)
    yield EngineDeps(
        repo=RunRepository(engine, recorder.backtests),
        store=LocalObjectStore(tmp_path / "objects"),
        publish=recorder.publish,
        clock=MovingClock(),
        worker="worker-a",
        engine_version="test",
        chunk_bars=20_000,
        chunk_pause_s=0.3,  # 200,000 bars in ten paced chunks: about three seconds
    )
    await engine.dispose()


def run_files(deps: EngineDeps, job: RunBacktest) -> list[str]:
    root = deps.store.root / "backtests" / str(job.owner_id) / str(job.run_id)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def run_under_policy(job: RunBacktest, deps: EngineDeps, attempts: int = 4) -> int:
    """Handle the job as the failure policy does (retried after an error); the tries taken."""
    for attempt in range(1, attempts + 1):
        try:
            await run_job(job, deps)
        except Exception:
            if attempt == attempts:
                raise
            await asyncio.sleep(1.0)
        else:
            return attempt
    return attempts


async def progress_of(deps: EngineDeps, job: RunBacktest) -> float:
    run = await deps.repo.get(job.owner_id, job.run_id)
    return 0.0 if run is None else run.progress


@pytest.mark.asyncio
async def test_a_database_restart_mid_job_ends_the_run_completed_once(
    deps: EngineDeps, cluster: ThrowawayCluster
) -> None:
    job = await submit(deps, write_dataset(deps.store))
    running = asyncio.create_task(run_under_policy(job, deps))
    deadline = time.monotonic() + 30
    while await progress_of(deps, job) < 0.1:
        assert time.monotonic() < deadline, "the run never reported progress"
        await asyncio.sleep(0.1)

    await asyncio.to_thread(cluster.stop)  # the database goes away mid-run ...
    await asyncio.sleep(1.0)
    await asyncio.to_thread(cluster.start)  # ... and comes back on the same port
    await asyncio.wait_for(running, 120)

    run = await deps.repo.get(job.owner_id, job.run_id)
    assert run is not None
    assert run.status == RunStatus.COMPLETED
    completed = await recorder_of(deps).events(BacktestCompleted)
    assert [(e.run_id, e.sequence) for e in completed] == [(job.run_id, run.sequence)]
    assert [Path(f).name for f in run_files(deps, job)] == ["equity.parquet", "trades.parquet"]


@pytest.mark.asyncio
async def test_an_object_store_write_error_is_retried_and_leaves_no_orphan(
    deps: EngineDeps,
) -> None:
    deps.failpoints = Failpoints.parse("engine.backtest.write_files=raise-once")
    deps.chunk_pause_s = 0.0
    job = await submit(deps, write_dataset(deps.store))

    with pytest.raises(FailpointError):
        await run_job(job, deps)  # attempt 1 wrote its equity file, then the store failed
    assert run_files(deps, job) == ["a1/equity.parquet"]
    # Released with its message again (a run claimed by its submission had none): the next turn
    # of any replica takes it, not the sweeper a minute later.
    messages = await recorder_of(deps).events(RunBacktest)
    assert [m.run_id for m in messages] == [job.run_id, job.run_id]
    assert await run_under_policy(job, deps) == 1  # the retry claims the released run at once

    run = await deps.repo.get(job.owner_id, job.run_id)
    assert run is not None
    assert run.status == RunStatus.COMPLETED
    completed = await recorder_of(deps).events(BacktestCompleted)
    assert len(completed) == 1
    assert run_files(deps, job) == ["a2/equity.parquet", "a2/trades.parquet"]
    assert completed[0].equity_uri.endswith("/a2/equity.parquet")
