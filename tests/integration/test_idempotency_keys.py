"""Idempotency keys against a real PostgreSQL: a job submitted twice with one owner's key is stored
and started once and both answers name it; another request under the key is refused; keys of
different owners never meet; two retries racing each other store one job (the unique index)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine

from tradelab_contracts.engine import EngineOptions, RunBacktest
from tradelab_contracts.engine_rpc import (
    BacktestReply,
    EngineErrorCode,
    EngineReply,
    ListBacktests,
    MonteCarloReply,
    OptimizationReply,
    SubmitBacktest,
    SubmitMonteCarlo,
    SubmitOptimization,
)
from tradelab_contracts.montecarlo import MonteCarloMethod, RunMonteCarlo
from tradelab_contracts.optimization import GridSearch, Objective, RunOptimizationChunk
from tradelab_contracts.topics import reply_topic
from tradelab_engine.backtests.use_cases import submit_backtest
from tradelab_engine.backtests.worker import run_job
from tradelab_engine.lifecycle.idempotency import Earlier, IdempotencyKeyTakenError
from tradelab_engine.montecarlo.repository import MonteCarloRepository
from tradelab_engine.montecarlo.use_cases import MonteCarloDeps, submit_monte_carlo
from tradelab_engine.optimizations.deps import OptimizationDeps
from tradelab_engine.optimizations.repository import OptimizationRepository
from tradelab_engine.optimizations.submit import submit_optimization
from tradelab_engine.service import EngineDeps
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import Recorder, engine_deps, random_walk_dataset

pytestmark = pytest.mark.integration
FIRST = "1" * 64
OTHER = "2" * 64
JobT = TypeVar("JobT")


@dataclass
class Engine:
    """The engine's use cases over one database, and what they sent."""

    backtests: EngineDeps
    optimizations: OptimizationDeps
    studies: MonteCarloDeps
    recorder: Recorder
    dataset_uri: str


@pytest_asyncio.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[Engine]:
    db = create_async_engine(database_url)
    await upgrade_to_head(db, "tradelab_engine:migrations", "engine")
    recorder = Recorder(db)
    store = LocalObjectStore(tmp_path / "objects")
    deps = engine_deps(db, recorder, store)
    yield Engine(
        backtests=deps,
        optimizations=OptimizationDeps(
            engine=deps, repo=OptimizationRepository(db, recorder.optimizations), chunk_size=3
        ),
        studies=MonteCarloDeps(engine=deps, repo=MonteCarloRepository(db, recorder.studies)),
        recorder=recorder,
        dataset_uri=random_walk_dataset(store, 2_000, seed=5, drift=0.0, step_s=3600),
    )
    await db.dispose()


def backtest(
    engine: Engine, owner: uuid.UUID, key: str | None = "retry-1", sha: str = FIRST, fast: int = 10
) -> SubmitBacktest:
    return SubmitBacktest(
        reply_to=reply_topic("gw-test"),
        run_id=uuid.uuid4(),
        owner_id=owner,
        dataset_id=uuid.UUID(int=1),
        dataset_uri=engine.dataset_uri,
        dataset_sha256="c" * 64,
        timeframe="1h",
        strategy="sma_cross",
        parameters={"fast": fast, "slow": 50},
        options=EngineOptions(fee_rate=0.001),
        idempotency_key=key,
        request_sha256=None if key is None else sha,
    )


async def submit(engine: Engine, cmd: SubmitBacktest) -> BacktestReply:
    answer = await submit_backtest(cmd, engine.backtests)
    assert isinstance(answer, BacktestReply)
    return answer


def run_id(answer: BacktestReply) -> uuid.UUID:
    assert answer.run is not None, answer.error
    return answer.run.id


async def runs_of(engine: Engine, owner: uuid.UUID) -> list[uuid.UUID]:
    query = ListBacktests(reply_to=reply_topic("gw-test"), owner_id=owner)
    page, _ = await engine.backtests.repo.page(query)
    return [run.id for run in page]


async def jobs_of(engine: Engine, owner: uuid.UUID) -> list[uuid.UUID]:
    jobs = await engine.recorder.events(RunBacktest)
    return [job.run_id for job in jobs if job.owner_id == owner]


@pytest.mark.asyncio
async def test_a_backtest_sent_twice_with_one_key_is_one_run_with_one_job(engine: Engine) -> None:
    owner = uuid.uuid4()
    first = backtest(engine, owner)

    answers = [await submit(engine, first), await submit(engine, backtest(engine, owner))]

    assert [run_id(a) for a in answers] == [first.run_id, first.run_id]
    assert await runs_of(engine, owner) == [first.run_id]
    assert await jobs_of(engine, owner) == [first.run_id]


@pytest.mark.asyncio
async def test_the_key_with_another_request_is_refused_and_stores_nothing(engine: Engine) -> None:
    owner = uuid.uuid4()
    first = backtest(engine, owner)
    await submit(engine, first)

    refused = await submit(engine, backtest(engine, owner, sha=OTHER, fast=12))

    assert refused.error is not None
    assert refused.error.code == EngineErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await runs_of(engine, owner) == [first.run_id]
    assert await jobs_of(engine, owner) == [first.run_id]


@pytest.mark.asyncio
async def test_two_users_with_the_same_key_get_a_run_each(engine: Engine) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()

    mine = run_id(await submit(engine, backtest(engine, alice)))
    theirs = run_id(await submit(engine, backtest(engine, bob)))

    assert mine != theirs
    assert await runs_of(engine, alice) == [mine]
    assert await runs_of(engine, bob) == [theirs]


@pytest.mark.asyncio
async def test_submissions_without_a_key_are_each_a_run(engine: Engine) -> None:
    owner = uuid.uuid4()
    await submit(engine, backtest(engine, owner, key=None))
    await submit(engine, backtest(engine, owner, key=None))

    assert len(await runs_of(engine, owner)) == 2


class BothLookFirst(Generic[JobT]):
    """Hold each of the first two look-ups of a key until both are done, so two submissions both
    find nothing and both insert: the unique index must settle it."""

    def __init__(self, find: Callable[[uuid.UUID, str], Awaitable[Earlier[JobT] | None]]) -> None:
        self.find = find
        self.calls = 0
        self.both = asyncio.Event()

    async def __call__(self, owner_id: uuid.UUID, key: str) -> Any:
        found = await self.find(owner_id, key)
        self.calls += 1
        if self.calls == 2:
            self.both.set()
        if self.calls <= 2:
            await asyncio.wait_for(self.both.wait(), 10)
        return found


@pytest.mark.asyncio
async def test_two_retries_racing_store_one_run_and_both_answer_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = uuid.uuid4()
    racing = BothLookFirst(engine.backtests.repo.by_idempotency_key)
    monkeypatch.setattr(engine.backtests.repo, "by_idempotency_key", racing)

    answers = await asyncio.gather(
        submit(engine, backtest(engine, owner)), submit(engine, backtest(engine, owner))
    )

    stored = await runs_of(engine, owner)
    assert len(stored) == 1
    assert [run_id(a) for a in answers] == stored * 2
    assert await jobs_of(engine, owner) == stored
    assert racing.calls == 3  # the loser looked again after its insert was refused


@pytest.mark.asyncio
async def test_concurrent_double_submit_is_one_run(engine: Engine) -> None:
    owner = uuid.uuid4()

    answers = await asyncio.gather(*(submit(engine, backtest(engine, owner)) for _ in range(2)))

    assert len({run_id(a) for a in answers}) == 1
    assert len(await runs_of(engine, owner)) == 1
    assert len(await jobs_of(engine, owner)) == 1


@pytest.mark.asyncio
async def test_a_keyed_request_answered_from_the_cache_is_replayed_with_that_run(
    engine: Engine,
) -> None:
    owner = uuid.uuid4()
    original = backtest(engine, owner, key=None)
    await submit(engine, original)
    await run_job((await engine.recorder.events(RunBacktest))[-1], engine.backtests)

    keyed = backtest(engine, owner, key="cached-1")
    first = await submit(engine, keyed)
    retry = await submit(engine, backtest(engine, owner, key="cached-1"))

    assert first.run is not None
    assert first.run.cached
    assert run_id(retry) == keyed.run_id
    assert len(await runs_of(engine, owner)) == 2  # the original and the cached copy


@pytest.mark.asyncio
async def test_the_unique_index_refuses_a_second_run_under_an_owners_key(engine: Engine) -> None:
    owner = uuid.uuid4()
    await submit(engine, backtest(engine, owner, key="index-1"))
    now = engine.backtests.clock.now()
    values = {
        "id": uuid.uuid4(),
        "owner_id": owner,
        "dataset_id": uuid.UUID(int=1),
        "dataset_uri": engine.dataset_uri,
        "dataset_sha256": "c" * 64,
        "strategy": "sma_cross",
        "parameters": {},
        "options": {},
        "cache_key": uuid.uuid4().hex,
        "status": "queued",
        "progress": 0.0,
        "attempt": 0,
        "cached": False,
        "engine_version": "test",
        "created_at": now,
        "updated_at": now,
        "idempotency_key": "index-1",
        "request_sha256": FIRST,
    }

    with pytest.raises(IdempotencyKeyTakenError):
        await engine.backtests.repo.add(values, lambda _: None)
    assert len(await runs_of(engine, owner)) == 1


# --- optimisations and Monte Carlo studies --------------------------------------------------------
def optimization(engine: Engine, owner: uuid.UUID, sha: str = FIRST) -> SubmitOptimization:
    return SubmitOptimization(
        reply_to=reply_topic("gw-test"),
        optimization_id=uuid.uuid4(),
        owner_id=owner,
        dataset_id=uuid.UUID(int=1),
        dataset_uri=engine.dataset_uri,
        dataset_sha256="c" * 64,
        timeframe="1h",
        strategy="sma_cross",
        parameter_space={"fast": [5, 10], "slow": [20, 30, 40, 50]},
        search=GridSearch(),
        objective=Objective(metric="sharpe"),
        idempotency_key="search-1",
        request_sha256=sha,
    )


def optimization_id(answer: EngineReply) -> uuid.UUID:
    assert isinstance(answer, OptimizationReply)
    assert answer.optimization is not None, answer.error
    return answer.optimization.id


@pytest.mark.asyncio
async def test_an_optimization_sent_twice_with_one_key_is_stored_and_chunked_once(
    engine: Engine,
) -> None:
    owner = uuid.uuid4()
    first = optimization(engine, owner)

    answers = [
        await submit_optimization(first, engine.optimizations),
        await submit_optimization(optimization(engine, owner), engine.optimizations),
    ]
    refused = await submit_optimization(optimization(engine, owner, OTHER), engine.optimizations)

    ids = [
        a.optimization.id for a in answers if isinstance(a, OptimizationReply) and a.optimization
    ]
    assert ids == [first.optimization_id] * 2
    _, total = await engine.optimizations.repo.page(owner, None, 10, 0, active=False)
    assert total == 1
    chunks = await engine.recorder.events(RunOptimizationChunk)
    assert {c.optimization_id for c in chunks} == {first.optimization_id}
    assert len(chunks) == 3  # 8 combinations in chunks of 3, sent once
    assert refused.error is not None
    assert refused.error.code == EngineErrorCode.IDEMPOTENCY_KEY_REUSED


def study(owner: uuid.UUID, sha: str = FIRST, seed: int = 3) -> SubmitMonteCarlo:
    return SubmitMonteCarlo(
        reply_to=reply_topic("gw-test"),
        simulation_id=uuid.uuid4(),
        owner_id=owner,
        method=MonteCarloMethod.GBM_PATHS,
        n_simulations=10,
        seed=seed,
        dataset_id=uuid.UUID(int=1),
        dataset_uri="file:///d.parquet",
        dataset_sha256="b" * 64,
        strategy="sma_cross",
        idempotency_key="study-1",
        request_sha256=sha,
    )


def study_id(answer: EngineReply) -> uuid.UUID:
    assert isinstance(answer, MonteCarloReply)
    assert answer.monte_carlo is not None, answer.error
    return answer.monte_carlo.id


@pytest.mark.asyncio
async def test_a_study_sent_twice_with_one_key_is_queued_once_with_its_first_seed(
    engine: Engine,
) -> None:
    owner = uuid.uuid4()
    first = study(owner, seed=3)

    answer = await submit_monte_carlo(first, engine.studies)
    # A retry for which the gateway drew another seed: the same request, answered with the first.
    retry = await submit_monte_carlo(study(owner, seed=99), engine.studies)
    refused = await submit_monte_carlo(study(owner, OTHER), engine.studies)

    assert study_id(answer) == study_id(retry) == first.simulation_id
    assert isinstance(retry, MonteCarloReply)
    assert retry.monte_carlo is not None
    assert retry.monte_carlo.seed == 3
    jobs = [j for j in await engine.recorder.events(RunMonteCarlo) if j.owner_id == owner]
    assert [j.simulation_id for j in jobs] == [first.simulation_id]
    assert refused.error is not None
    assert refused.error.code == EngineErrorCode.IDEMPOTENCY_KEY_REUSED


@pytest.mark.asyncio
async def test_racing_retries_of_a_study_and_an_optimization_store_one_of_each(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = uuid.uuid4()
    studies = BothLookFirst(engine.studies.repo.by_idempotency_key)
    searches = BothLookFirst(engine.optimizations.repo.by_idempotency_key)
    monkeypatch.setattr(engine.studies.repo, "by_idempotency_key", studies)
    monkeypatch.setattr(engine.optimizations.repo, "by_idempotency_key", searches)

    study_answers = await asyncio.gather(
        *(submit_monte_carlo(study(owner), engine.studies) for _ in range(2))
    )
    search_answers = await asyncio.gather(
        *(submit_optimization(optimization(engine, owner), engine.optimizations) for _ in range(2))
    )

    assert len({study_id(a) for a in study_answers}) == 1
    ids = {
        a.optimization.id
        for a in search_answers
        if isinstance(a, OptimizationReply) and a.optimization
    }
    assert len(ids) == 1
    assert (studies.calls, searches.calls) == (3, 3)
    assert len([j for j in await engine.recorder.events(RunMonteCarlo) if j.owner_id == owner]) == 1
    _, total = await engine.optimizations.repo.page(owner, None, 10, 0, active=False)
    assert total == 1
