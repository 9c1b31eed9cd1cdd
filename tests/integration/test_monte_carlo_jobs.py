"""Monte Carlo studies against a real PostgreSQL: the priority queue, exactly one terminal event
whatever the redeliveries, cancellation, reproducibility and the submit checks."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine

from tradelab_contracts.engine import BacktestSummary, EngineOptions
from tradelab_contracts.engine_rpc import (
    CancelMonteCarloRequest,
    EngineErrorCode,
    MonteCarloReply,
    RunStatus,
    SubmitMonteCarlo,
)
from tradelab_contracts.montecarlo import (
    MonteCarloCancelled,
    MonteCarloCompleted,
    Priority,
    RunMonteCarlo,
)
from tradelab_contracts.topics import reply_topic
from tradelab_engine.adapters.results_writer import write_equity, write_trades
from tradelab_engine.backtests.repository import RunRepository
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.simulate import run_backtest
from tradelab_engine.lifecycle.sweeper import sweep_once
from tradelab_engine.montecarlo.repository import MonteCarloRepository
from tradelab_engine.montecarlo.use_cases import (
    MonteCarloDeps,
    cancel_monte_carlo,
    submit_monte_carlo,
)
from tradelab_engine.montecarlo.worker import run_next_study
from tradelab_engine.service import EngineDeps
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import TERMS, MovingClock, Recorder

pytestmark = pytest.mark.integration
OWNER = uuid.uuid4()


@pytest_asyncio.fixture
async def deps(database_url: str, tmp_path: Path) -> AsyncIterator[MonteCarloDeps]:
    engine = create_async_engine(database_url)
    await upgrade_to_head(engine, "tradelab_engine:migrations", "engine")
    recorder = Recorder(engine)
    engine_deps = EngineDeps(
        repo=RunRepository(engine, recorder.backtests),
        store=LocalObjectStore(tmp_path / "objects"),
        publish=recorder.publish,
        clock=MovingClock(),
        worker="worker-a",
        engine_version="test",
    )
    yield MonteCarloDeps(engine=engine_deps, repo=MonteCarloRepository(engine, recorder.studies))
    await engine.dispose()


def recorder_of(deps: MonteCarloDeps) -> Recorder:
    recorder = deps.engine.publish.__self__  # type: ignore[attr-defined]
    assert isinstance(recorder, Recorder)
    return recorder


async def completed_run(deps: MonteCarloDeps, status: RunStatus = RunStatus.COMPLETED) -> uuid.UUID:
    """A finished sma_cross run of the owner on a random walk, stored as the engine stores it."""
    close = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0.0003, 0.01, 1_500)))
    bars = Bars.from_close(close, np.arange(1_500, dtype=np.int64) * 86_400 * 10**9)
    strategy = get_strategy("sma_cross")
    params = validate_parameters("sma_cross", {"fast": 5, "slow": 20})
    options = EngineOptions(fee_rate=0.001)
    result = run_backtest(bars, strategy.signals(bars, params), options, timeframe="1d")
    store = deps.engine.store
    equity_tmp, trades_tmp = store.scratch_dir() / "e.parquet", store.scratch_dir() / "t.parquet"
    write_equity(equity_tmp, bars.time, bars.close, result.equity, result.cash, result.position)
    write_trades(trades_tmp, result.trades)
    run_id = uuid.uuid4()
    now = deps.engine.clock.now()
    await deps.engine.repo.add(
        {
            "id": run_id,
            "owner_id": OWNER,
            "dataset_id": uuid.uuid4(),
            "dataset_uri": "file:///nowhere.parquet",
            "dataset_sha256": "a" * 64,
            "timeframe": "1d",
            "strategy": "sma_cross",
            "parameters": params.model_dump(mode="json"),
            "options": options.model_dump(mode="json"),
            "cache_key": uuid.uuid4().hex,
            "status": status.value,
            "progress": 1.0,
            "attempt": 1,
            "cached": False,
            "engine_version": "test",
            "summary": BacktestSummary.model_validate(asdict(result.summary)).model_dump(),
            "equity_uri": store.put_file(f"runs/{run_id}/equity.parquet", equity_tmp),
            "trades_uri": store.put_file(f"runs/{run_id}/trades.parquet", trades_tmp),
            "created_at": now,
            "updated_at": now,
        },
        lambda _: None,
    )
    return run_id


async def submit(deps: MonteCarloDeps, **fields: Any) -> RunMonteCarlo:
    values: dict[str, Any] = {
        "reply_to": reply_topic("gw-test"),
        "simulation_id": uuid.uuid4(),
        "owner_id": OWNER,
        "method": "bootstrap_trades",
        "n_simulations": 600,
        "seed": 11,
    }
    reply = await submit_monte_carlo(SubmitMonteCarlo.model_validate(values | fields), deps)
    assert reply.ok, reply.error
    job = (await recorder_of(deps).events(RunMonteCarlo))[-1]
    assert isinstance(job, RunMonteCarlo)
    return job


@pytest.mark.asyncio
async def test_each_turn_runs_the_most_urgent_queued_study(deps: MonteCarloDeps) -> None:
    run_id = await completed_run(deps)
    low = await submit(deps, source_run_id=run_id, priority=Priority.LOW)
    normal = await submit(deps, source_run_id=run_id, priority=Priority.NORMAL)
    high = await submit(deps, source_run_id=run_id, priority=Priority.HIGH)

    # The first message to be consumed is the low study's, but high runs on that turn.
    for job in (low, normal, high):
        await run_next_study(job, deps)

    finished = await recorder_of(deps).events(MonteCarloCompleted)
    assert [e.simulation_id for e in finished] == [
        high.simulation_id,
        normal.simulation_id,
        low.simulation_id,
    ]
    started: list[datetime] = []
    for job in (high, normal, low):
        info = await deps.repo.get(OWNER, job.simulation_id)
        assert info is not None
        assert info.status == RunStatus.COMPLETED
        assert info.started_at is not None
        started.append(info.started_at)
    assert started == sorted(started)


@pytest.mark.asyncio
async def test_a_study_whose_worker_died_is_taken_over_after_its_lease_and_completes_once(
    deps: MonteCarloDeps,
) -> None:
    recorder = recorder_of(deps)
    clock = deps.engine.clock
    assert isinstance(clock, MovingClock)
    run_id = await completed_run(deps)
    job = await submit(deps, source_run_id=run_id, method="bootstrap_returns")
    # Worker A took the study and died (SIGKILL: no lease renewal, no terminal state).
    dead = await deps.repo.take("worker-a", clock.now())
    assert dead is not None
    assert dead.attempt == 1

    await run_next_study(job, deps)  # the redelivered turn, while A's lease still holds: no-op
    assert (await deps.repo.get(OWNER, job.simulation_id)).status == RunStatus.RUNNING  # type: ignore[union-attr]
    clock.advance(TERMS.lease_s + 1)
    assert await sweep_once(deps.repo.jobs, clock.now()) == (1, 0)  # re-queued, turn published
    turns = await recorder.events(RunMonteCarlo)
    assert len(turns) == 2
    await run_next_study(turns[-1], deps)  # worker B takes it as attempt 2
    await run_next_study(job, deps)  # one more redelivery: nothing claimable, a no-op
    late = await deps.repo.finish(
        job.simulation_id, dead.attempt, {"status": "completed"}, clock.now(), lambda _: None
    )

    assert late is None
    completed = await recorder.events(MonteCarloCompleted)
    assert len(completed) == 1
    info = await deps.repo.get(OWNER, job.simulation_id)
    assert info is not None
    assert info.status == RunStatus.COMPLETED
    assert info.simulations_done == 600
    assert info.results is not None
    assert info.results.steps == 1_500
    assert deps.engine.store.path(completed[0].results_uri).exists()
    assert completed[0].sequence == info.sequence


@pytest.mark.asyncio
async def test_the_same_seed_gives_the_same_results_and_another_seed_does_not(
    deps: MonteCarloDeps,
) -> None:
    run_id = await completed_run(deps)
    jobs = [
        await submit(deps, source_run_id=run_id, method="block_bootstrap", seed=seed)
        for seed in (5, 5, 6)
    ]
    for job in jobs:
        await run_next_study(job, deps)

    results = []
    for job in jobs:
        info = await deps.repo.get(OWNER, job.simulation_id)
        assert info is not None
        assert info.results is not None
        results.append(info.results)
    assert results[0] == results[1]
    assert results[0].final_equity_percentiles != results[2].final_equity_percentiles
    assert results[0].block_size == round(1_500 ** (1 / 3))


@pytest.mark.asyncio
async def test_cancel_stops_a_queued_study_at_once_and_a_running_one_between_batches(
    deps: MonteCarloDeps,
) -> None:
    run_id = await completed_run(deps)
    queued = await submit(deps, source_run_id=run_id)
    request = CancelMonteCarloRequest(
        reply_to=reply_topic("gw-test"), owner_id=OWNER, simulation_id=queued.simulation_id
    )
    reply = await cancel_monte_carlo(request, deps)
    assert isinstance(reply, MonteCarloReply)
    assert reply.monte_carlo is not None
    assert reply.monte_carlo.status == RunStatus.CANCELLED
    again = await cancel_monte_carlo(request, deps)
    assert again.error is not None
    assert again.error.code == EngineErrorCode.CONFLICT

    running = await submit(deps, source_run_id=run_id, n_simulations=5_000)
    deps.engine.cancelled.add(str(running.simulation_id))  # as the cancel consumer does
    await run_next_study(running, deps)

    cancelled = await recorder_of(deps).events(MonteCarloCancelled)
    assert [e.simulation_id for e in cancelled] == [queued.simulation_id, running.simulation_id]
    info = await deps.repo.get(OWNER, running.simulation_id)
    assert info is not None
    assert info.status == RunStatus.CANCELLED
    assert not (await recorder_of(deps).events(MonteCarloCompleted))


@pytest.mark.asyncio
async def test_submit_refuses_other_users_runs_unfinished_runs_and_bad_strategies(
    deps: MonteCarloDeps,
) -> None:
    base: dict[str, Any] = {
        "reply_to": reply_topic("gw-test"),
        "simulation_id": uuid.uuid4(),
        "method": "bootstrap_trades",
        "n_simulations": 10,
        "seed": 1,
    }
    run_id = await completed_run(deps)
    running_run = await completed_run(deps, RunStatus.RUNNING)

    cases: list[tuple[dict[str, Any], EngineErrorCode]] = [
        ({"owner_id": uuid.uuid4(), "source_run_id": run_id}, EngineErrorCode.NOT_FOUND),
        ({"owner_id": OWNER, "source_run_id": running_run}, EngineErrorCode.CONFLICT),
        (
            {
                "owner_id": OWNER,
                "method": "gbm_paths",
                "dataset_id": uuid.uuid4(),
                "dataset_uri": "file:///d.parquet",
                "dataset_sha256": "b" * 64,
                "strategy": "no_such_strategy",
            },
            EngineErrorCode.INVALID,
        ),
    ]
    for fields, code in cases:
        reply = await submit_monte_carlo(SubmitMonteCarlo.model_validate(base | fields), deps)
        assert reply.error is not None
        assert reply.error.code == code, reply.error
    assert not (await recorder_of(deps).events(RunMonteCarlo))
