"""Quotas against a real PostgreSQL: two submissions racing for a user's last free place are
admitted one at a time, so exactly one passes and the other is refused naming the quota, the
usage and the limit; what is finished or deleted frees its place; usage counts what is held."""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_contracts.datasets_rpc import DatasetsErrorCode, DatasetsReply, RegisterUpload
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import (
    BacktestReply,
    CancelBacktestRequest,
    CreateStrategy,
    EngineErrorCode,
    EngineReply,
    GetEngineUsage,
    SubmitBacktest,
    SubmitMonteCarlo,
    SubmitOptimization,
    UsageReply,
)
from tradelab_contracts.montecarlo import MonteCarloMethod
from tradelab_contracts.optimization import GridSearch, Objective
from tradelab_contracts.quotas import Quota, QuotaUsage
from tradelab_contracts.rules import RuleSet
from tradelab_contracts.topics import reply_topic
from tradelab_datasets.adapters.repository import DatasetRepository
from tradelab_datasets.adapters.tables import SCHEMA as DATASETS_SCHEMA
from tradelab_datasets.domain.quotas import DatasetQuotas
from tradelab_datasets.service import Deps, register_upload
from tradelab_engine.adapters.strategy_repository import StrategyRepository
from tradelab_engine.backtests.use_cases import cancel_backtest, submit_backtest
from tradelab_engine.montecarlo.repository import MonteCarloRepository
from tradelab_engine.montecarlo.use_cases import MonteCarloDeps, submit_monte_carlo
from tradelab_engine.optimizations.deps import OptimizationDeps
from tradelab_engine.optimizations.repository import OptimizationRepository
from tradelab_engine.optimizations.submit import submit_optimization
from tradelab_engine.quotas.limits import QuotaLimits
from tradelab_engine.quotas.use_cases import get_usage
from tradelab_engine.service import EngineDeps
from tradelab_engine.user_strategies import create_strategy
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import MovingClock, Recorder, engine_deps, random_walk_dataset
from .outbox_support import OutboxRecorder

pytestmark = pytest.mark.integration
REPLY_TO = reply_topic("gw-test")
LIMITS = QuotaLimits(
    backtests=2,
    optimizations=1,
    walk_forward=1,
    monte_carlo=5,
    monte_carlo_simulation_bars=1_500,
    saved_strategies=2,
)
RACES = 3
"""Owners raced per test: each race is a fresh chance for both submissions to slip through."""


@dataclass
class Engine:
    """The engine's use cases over one database, with every quota low."""

    deps: EngineDeps
    studies: MonteCarloDeps
    optimizations: OptimizationDeps
    dataset_uri: str


@pytest_asyncio.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[Engine]:
    db = create_async_engine(database_url)
    await upgrade_to_head(db, "tradelab_engine:migrations", "engine")
    recorder = Recorder(db)
    store = LocalObjectStore(tmp_path / "objects")
    deps = replace(
        engine_deps(db, recorder, store),
        strategies=StrategyRepository(db),
        quota_limits=LIMITS,
        database=db,
    )
    yield Engine(
        deps=deps,
        studies=MonteCarloDeps(engine=deps, repo=MonteCarloRepository(db, recorder.studies)),
        optimizations=OptimizationDeps(
            engine=deps, repo=OptimizationRepository(db, recorder.optimizations)
        ),
        dataset_uri=random_walk_dataset(store, 500, seed=3, drift=0.0, step_s=3600),
    )
    await db.dispose()


def backtest(engine: Engine, owner: uuid.UUID, fast: int) -> SubmitBacktest:
    return SubmitBacktest(
        reply_to=REPLY_TO,
        run_id=uuid.uuid4(),
        owner_id=owner,
        dataset_id=uuid.UUID(int=1),
        dataset_uri=engine.dataset_uri,
        dataset_sha256="c" * 64,
        timeframe="1h",
        strategy="sma_cross",
        parameters={"fast": fast, "slow": 50},
        options=EngineOptions(),
    )


def refused_quota(answer: EngineReply | DatasetsReply) -> QuotaUsage:
    """The quota a refusal names (failing the test if it is not a quota refusal)."""
    assert not answer.ok
    assert answer.error is not None
    assert answer.error.code in (EngineErrorCode.QUOTA_EXCEEDED, DatasetsErrorCode.QUOTA_EXCEEDED)
    assert answer.error.quota is not None
    return answer.error.quota


def one_passed(answers: Sequence[EngineReply | DatasetsReply]) -> QuotaUsage:
    """Exactly one of two racing answers is ok; return the quota the other one names."""
    assert sorted(a.ok for a in answers) == [False, True], [a.error for a in answers]
    [refused] = [a for a in answers if not a.ok]
    return refused_quota(refused)


async def usage_of(engine: Engine, owner: uuid.UUID) -> dict[Quota, int]:
    answer = await get_usage(GetEngineUsage(reply_to=REPLY_TO, owner_id=owner), engine.deps)
    assert isinstance(answer, UsageReply)
    assert answer.quotas is not None
    return {q.quota: q.usage for q in answer.quotas}


@pytest.mark.asyncio
async def test_two_backtests_racing_for_the_last_place_one_is_queued(
    engine: Engine,
) -> None:
    for _ in range(RACES):
        owner = uuid.uuid4()
        assert (await submit_backtest(backtest(engine, owner, 5), engine.deps)).ok

        answers = await asyncio.gather(
            submit_backtest(backtest(engine, owner, 6), engine.deps),
            submit_backtest(backtest(engine, owner, 7), engine.deps),
        )

        assert one_passed(answers) == QuotaUsage(
            quota=Quota.BACKTESTS, usage=2, limit=2, requested=1
        )
        assert (await usage_of(engine, owner))[Quota.BACKTESTS] == 2


@pytest.mark.asyncio
async def test_a_cancelled_backtest_frees_its_place(engine: Engine) -> None:
    owner = uuid.uuid4()
    first, second = backtest(engine, owner, 5), backtest(engine, owner, 6)
    for cmd in (first, second):
        assert (await submit_backtest(cmd, engine.deps)).ok
    assert not (await submit_backtest(backtest(engine, owner, 7), engine.deps)).ok

    cancel = CancelBacktestRequest(reply_to=REPLY_TO, owner_id=owner, run_id=first.run_id)
    assert (await cancel_backtest(cancel, engine.deps)).ok

    assert (await usage_of(engine, owner))[Quota.BACKTESTS] == 1
    assert (await submit_backtest(backtest(engine, owner, 7), engine.deps)).ok


def study(owner: uuid.UUID, n_simulations: int, horizon_bars: int) -> SubmitMonteCarlo:
    return SubmitMonteCarlo(
        reply_to=REPLY_TO,
        simulation_id=uuid.uuid4(),
        owner_id=owner,
        method=MonteCarloMethod.GBM_PATHS,
        n_simulations=n_simulations,
        horizon_bars=horizon_bars,
        seed=1,
        dataset_id=uuid.UUID(int=1),
        dataset_uri="file:///unused.parquet",
        dataset_sha256="b" * 64,
        strategy="sma_cross",
    )


@pytest.mark.asyncio
async def test_two_studies_racing_for_the_last_simulation_bars_one_is_queued(
    engine: Engine,
) -> None:
    studies = engine.studies
    for _ in range(RACES):
        owner = uuid.uuid4()
        # 10 simulations x 50 bars = 500 of 1,500; each racer asks 10 x 60 = 600 more.
        assert (await submit_monte_carlo(study(owner, 10, 50), studies)).ok

        answers = await asyncio.gather(
            submit_monte_carlo(study(owner, 10, 60), studies),
            submit_monte_carlo(study(owner, 10, 60), studies),
        )

        assert one_passed(answers) == QuotaUsage(
            quota=Quota.MONTE_CARLO_SIMULATION_BARS, usage=1_100, limit=1_500, requested=600
        )
        usage = await usage_of(engine, owner)
        assert (usage[Quota.MONTE_CARLO], usage[Quota.MONTE_CARLO_SIMULATION_BARS]) == (2, 1_100)


@pytest.mark.asyncio
async def test_a_study_larger_than_the_whole_quota_is_refused_on_an_empty_account(
    engine: Engine,
) -> None:
    studies = engine.studies
    answer = await submit_monte_carlo(study(uuid.uuid4(), 100, 16), studies)
    assert refused_quota(answer) == QuotaUsage(
        quota=Quota.MONTE_CARLO_SIMULATION_BARS, usage=0, limit=1_500, requested=1_600
    )


def search(engine: Engine, owner: uuid.UUID) -> SubmitOptimization:
    return SubmitOptimization(
        reply_to=REPLY_TO,
        optimization_id=uuid.uuid4(),
        owner_id=owner,
        dataset_id=uuid.UUID(int=1),
        dataset_uri=engine.dataset_uri,
        dataset_sha256="c" * 64,
        timeframe="1h",
        strategy="sma_cross",
        parameter_space={"fast": [5, 10], "slow": [20, 30]},
        search=GridSearch(),
        objective=Objective(metric="sharpe"),
    )


@pytest.mark.asyncio
async def test_two_optimisations_racing_for_the_only_place_one_is_queued(
    engine: Engine,
) -> None:
    optimizations = engine.optimizations
    for _ in range(RACES):
        owner = uuid.uuid4()
        answers = await asyncio.gather(
            submit_optimization(search(engine, owner), optimizations),
            submit_optimization(search(engine, owner), optimizations),
        )
        assert one_passed(answers) == QuotaUsage(
            quota=Quota.OPTIMIZATIONS, usage=1, limit=1, requested=1
        )
        usage = await usage_of(engine, owner)
        assert (usage[Quota.OPTIMIZATIONS], usage[Quota.WALK_FORWARD]) == (1, 0)


@pytest.mark.asyncio
async def test_two_strategies_saved_at_once_for_the_last_place_one_is_kept(
    engine: Engine,
) -> None:
    for _ in range(RACES):
        owner = uuid.uuid4()

        def save(name: str, owner: uuid.UUID = owner) -> CreateStrategy:
            return CreateStrategy(reply_to=REPLY_TO, owner_id=owner, name=name, rules=RuleSet())

        assert (await create_strategy(save("first"), engine.deps)).ok
        answers = await asyncio.gather(
            create_strategy(save("second"), engine.deps),
            create_strategy(save("third"), engine.deps),
        )
        assert one_passed(answers) == QuotaUsage(
            quota=Quota.SAVED_STRATEGIES, usage=2, limit=2, requested=1
        )
        assert (await usage_of(engine, owner))[Quota.SAVED_STRATEGIES] == 2


# --- the datasets service ---------------------------------------------------------------------


@pytest_asyncio.fixture
async def datasets_db(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(database_url)
    await upgrade_to_head(db, "tradelab_datasets:migrations", DATASETS_SCHEMA)
    yield db
    await db.dispose()


def datasets_deps(db: AsyncEngine, root: Path, quotas: DatasetQuotas) -> Deps:
    """The datasets service's collaborators over ``db``, storing under ``root``, with ``quotas``."""
    repo = DatasetRepository(db, OutboxRecorder(db, DATASETS_SCHEMA).outbox)
    return Deps(repo=repo, store=LocalObjectStore(root), clock=MovingClock(), quotas=quotas)


def upload(store: LocalObjectStore, owner: uuid.UUID, data: bytes) -> RegisterUpload:
    scratch = store.scratch_dir() / f"{uuid.uuid4()}.csv"
    scratch.write_bytes(data)
    return RegisterUpload(
        reply_to=REPLY_TO,
        owner_id=owner,
        dataset_id=uuid.uuid4(),
        storage_uri=store.put_file(f"raw/{owner}/{uuid.uuid4()}", scratch),
        filename="bars.csv",
        size_bytes=len(data),
        raw_sha256=hashlib.sha256(data).hexdigest(),
    )


@pytest.mark.asyncio
async def test_two_uploads_racing_for_the_last_dataset_one_is_registered(
    datasets_db: AsyncEngine, tmp_path: Path
) -> None:
    deps = datasets_deps(datasets_db, tmp_path, DatasetQuotas(datasets=2, stored_bytes=10_000))
    for _ in range(RACES):
        owner = uuid.uuid4()
        first = upload(deps.store, owner, b"time,close\n1,1\n")
        assert (await register_upload(first, deps)).ok
        racers = [upload(deps.store, owner, f"time,close\n1,{i}0\n".encode()) for i in (2, 3)]

        answers = await asyncio.gather(*(register_upload(cmd, deps) for cmd in racers))

        assert one_passed(answers) == QuotaUsage(
            quota=Quota.DATASETS, usage=2, limit=2, requested=1
        )
        [lost] = [cmd for cmd, a in zip(racers, answers, strict=True) if not a.ok]
        assert not deps.store.path(lost.storage_uri).exists()  # the refused file is removed
        # The same bytes again are the dataset they already are, never refused.
        again = await register_upload(upload(deps.store, owner, b"time,close\n1,1\n"), deps)
        assert again.ok
        assert again.dataset is not None
        assert (again.created, again.dataset.id) == (False, first.dataset_id)


@pytest.mark.asyncio
async def test_an_upload_past_the_stored_bytes_is_refused_with_the_numbers(
    datasets_db: AsyncEngine, tmp_path: Path
) -> None:
    deps = datasets_deps(datasets_db, tmp_path, DatasetQuotas(datasets=10, stored_bytes=40))
    owner = uuid.uuid4()
    kept = b"time,close\n1,1\n2,2\n"  # 19 bytes
    assert (await register_upload(upload(deps.store, owner, kept), deps)).ok

    answer = await register_upload(upload(deps.store, owner, b"time,close\n" + b"3,3\n" * 6), deps)

    assert refused_quota(answer) == QuotaUsage(
        quota=Quota.STORED_BYTES, usage=len(kept), limit=40, requested=35
    )


@pytest.mark.asyncio
async def test_two_retries_with_one_key_at_the_last_place_both_answer_the_same_run(
    engine: Engine,
) -> None:
    for _ in range(RACES):
        owner = uuid.uuid4()
        assert (await submit_backtest(backtest(engine, owner, 5), engine.deps)).ok
        retry = backtest(engine, owner, 6).model_copy(
            update={"idempotency_key": "retry-1", "request_sha256": "1" * 64}
        )

        answers = await asyncio.gather(
            submit_backtest(retry, engine.deps), submit_backtest(retry, engine.deps)
        )

        assert all(a.ok for a in answers), [a.error for a in answers]
        assert {a.run.id for a in answers if isinstance(a, BacktestReply) and a.run} == {
            retry.run_id
        }
        assert (await usage_of(engine, owner))[Quota.BACKTESTS] == 2
