"""Fair queueing per user against a real PostgreSQL (``lifecycle/fair.py``): a job message is a
turn, and the turn goes to the user with the fewest running jobs of any kind, then the one served
least recently, so one user's backlog never starves another; a Monte Carlo priority reorders its
owner's studies only."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine

from tradelab_contracts.engine import BacktestCompleted, EngineOptions, RunBacktest
from tradelab_contracts.engine_rpc import (
    OptimizationReply,
    RunStatus,
    SubmitBacktest,
    SubmitOptimization,
)
from tradelab_contracts.montecarlo import MonteCarloMethod, MonteCarloSpec, Priority
from tradelab_contracts.optimization import (
    GeneticSearch,
    Objective,
    OptimizationCompleted,
    RunOptimization,
)
from tradelab_contracts.topics import reply_topic
from tradelab_engine.backtests.use_cases import submit_backtest
from tradelab_engine.backtests.worker import run_job
from tradelab_engine.montecarlo.repository import MonteCarloRepository
from tradelab_engine.optimizations.deps import OptimizationDeps
from tradelab_engine.optimizations.evolver import give_up_genetic, run_genetic
from tradelab_engine.optimizations.repository import OptimizationRepository
from tradelab_engine.optimizations.submit import submit_optimization
from tradelab_engine.service import EngineDeps
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import Recorder, clock_of, engine_deps, random_walk_dataset, recorder_of

pytestmark = pytest.mark.integration
BACKLOG = 30
"""Runs user A queues before user B queues one (the bench script uses 200)."""


@pytest_asyncio.fixture
async def deps(database_url: str, tmp_path: Path) -> AsyncIterator[EngineDeps]:
    engine = create_async_engine(database_url)
    await upgrade_to_head(engine, "tradelab_engine:migrations", "engine")
    yield engine_deps(engine, Recorder(engine), LocalObjectStore(tmp_path / "objects"))
    await engine.dispose()


async def queue_run(deps: EngineDeps, owner_id: uuid.UUID, dataset_uri: str, n: int) -> RunBacktest:
    """Submit one sma_cross run of ``owner_id`` (parameters differ by ``n``, so no run is answered
    from the result cache) a second after the last; return its job message."""
    clock_of(deps).advance(1)
    await submit_backtest(
        SubmitBacktest(
            reply_to=reply_topic("gw-test"),
            run_id=uuid.uuid4(),
            owner_id=owner_id,
            dataset_id=uuid.uuid4(),
            dataset_uri=dataset_uri,
            dataset_sha256="c" * 64,
            timeframe="1m",
            strategy="sma_cross",
            parameters={"fast": 2 + n, "slow": 60},
            options=EngineOptions(fee_rate=0.001),
        ),
        deps,
    )
    job = (await recorder_of(deps).events(RunBacktest))[-1]
    assert isinstance(job, RunBacktest)
    return job


async def take_turn(deps: EngineDeps, message: RunBacktest) -> None:
    """One worker consumes ``message`` a second after the last turn."""
    clock_of(deps).advance(1)
    await run_job(message, deps)


def study(owner_id: uuid.UUID, priority: Priority) -> MonteCarloSpec:
    return MonteCarloSpec(
        simulation_id=uuid.uuid4(),
        owner_id=owner_id,
        method=MonteCarloMethod.BOOTSTRAP_TRADES,
        n_simulations=100,
        seed=1,
        source_run_id=uuid.uuid4(),
        priority=priority,
    )


@pytest.mark.asyncio
async def test_another_users_run_takes_the_next_turn_not_the_turn_after_the_backlog(
    deps: EngineDeps,
) -> None:
    user_a, user_b = uuid.uuid4(), uuid.uuid4()
    dataset = random_walk_dataset(deps.store, 2_000, seed=3, drift=0.0, step_s=60)
    backlog = [await queue_run(deps, user_a, dataset, n) for n in range(BACKLOG)]
    await take_turn(deps, backlog[0])  # one worker runs A's first run
    single = await queue_run(deps, user_b, dataset, BACKLOG)

    # The broker holds A's remaining messages before B's; each is a turn for whoever is owed it.
    for message in [*backlog[1:], single]:
        await take_turn(deps, message)

    completed = [e.run_id for e in await recorder_of(deps).events(BacktestCompleted)]
    assert completed == [backlog[0].run_id, single.run_id, *(j.run_id for j in backlog[1:])]


@pytest.mark.asyncio
async def test_a_user_with_a_job_running_of_another_kind_yields_the_next_run(
    deps: EngineDeps,
) -> None:
    user_a, user_b = uuid.uuid4(), uuid.uuid4()
    clock = clock_of(deps)
    studies = MonteCarloRepository(recorder_of(deps).engine, recorder_of(deps).studies)
    await studies.add(study(user_a, Priority.NORMAL), clock.now(), lambda _: None)
    assert await studies.take("worker-b", clock.now()) is not None  # A's study runs elsewhere
    older = await queue_run(deps, user_a, "file:///a.parquet", 0)
    newer = await queue_run(deps, user_b, "file:///b.parquet", 0)

    first = await deps.repo.take("worker-a", clock.now())
    second = await deps.repo.take("worker-c", clock.now())

    assert first is not None
    assert second is not None
    assert (first.info.id, second.info.id) == (newer.run_id, older.run_id)


@pytest.mark.asyncio
async def test_a_high_priority_study_reorders_its_owners_studies_but_not_another_users(
    deps: EngineDeps,
) -> None:
    user_a, user_b = uuid.uuid4(), uuid.uuid4()
    clock = clock_of(deps)
    studies = MonteCarloRepository(recorder_of(deps).engine, recorder_of(deps).studies)
    submitted = []
    for owner, priority in (
        (user_b, Priority.NORMAL),
        (user_a, Priority.NORMAL),
        (user_a, Priority.HIGH),
    ):
        clock.advance(1)
        spec = study(owner, priority)
        await studies.add(spec, clock.now(), lambda _: None)
        submitted.append(spec.simulation_id)
    b_normal, a_normal, a_high = submitted

    taken = []
    for _ in submitted:
        clock.advance(1)
        claim = await studies.take("worker-a", clock.now())
        assert claim is not None
        taken.append(claim.info.id)

    assert taken == [b_normal, a_high, a_normal]
    assert await studies.take("worker-a", clock.now()) is None


async def queue_genetic(
    deps: OptimizationDeps, owner_id: uuid.UUID, dataset_uri: str
) -> RunOptimization:
    """Submit a small genetic search of ``owner_id`` a second after the last; its job message."""
    clock_of(deps.engine).advance(1)
    answer = await submit_optimization(
        SubmitOptimization(
            reply_to=reply_topic("gw-test"),
            optimization_id=uuid.uuid4(),
            owner_id=owner_id,
            dataset_id=uuid.uuid4(),
            dataset_uri=dataset_uri,
            dataset_sha256="c" * 64,
            timeframe="1h",
            strategy="sma_cross",
            parameter_space={"fast": [3, 4, 5, 6], "slow": [20, 30]},
            search=GeneticSearch(population=4, generations=2, seed=5),
            objective=Objective(metric="sharpe"),
            options=EngineOptions(fee_rate=0.001),
        ),
        deps,
    )
    assert isinstance(answer, OptimizationReply)
    assert answer.ok, answer.error
    job = (await recorder_of(deps.engine).events(RunOptimization))[-1]
    assert isinstance(job, RunOptimization)
    return job


@pytest.mark.asyncio
async def test_a_genetic_turn_runs_the_fair_search_and_its_give_up_fails_that_search(
    deps: EngineDeps,
) -> None:
    recorder = recorder_of(deps)
    opt = OptimizationDeps(
        engine=deps, repo=OptimizationRepository(recorder.engine, recorder.optimizations)
    )
    dataset = random_walk_dataset(deps.store, 600, seed=11, drift=0.0002, step_s=3600)
    broken = await queue_genetic(opt, uuid.uuid4(), "file:///nowhere/bars.parquet")
    sound = await queue_genetic(opt, uuid.uuid4(), dataset)

    # The sound search's message comes first, but the turn is the broken one's (waiting longest).
    with pytest.raises(Exception) as raised:  # noqa: PT011 - whatever the store raises
        await run_genetic(sound, opt)
    await give_up_genetic(sound, raised.value, opt)  # its retries spent
    await run_genetic(broken, opt)  # the next turn runs the sound search

    failed, completed = (
        await opt.repo.get(None, broken.optimization_id),
        await opt.repo.get(None, sound.optimization_id),
    )
    assert failed is not None
    assert completed is not None
    assert (failed.status, completed.status) == (RunStatus.FAILED, RunStatus.COMPLETED)
    [event] = await recorder.events(OptimizationCompleted)
    assert event.optimization_id == sound.optimization_id
