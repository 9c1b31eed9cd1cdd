"""The analytics consumer against a real PostgreSQL (in-memory broker): an analysis is stored with
its announcement once, a transient failure is retried, and one that keeps failing is parked as a
dead letter instead of being committed unnoticed."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import pytest_asyncio
from faststream.kafka import KafkaBroker, TestKafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_analytics.adapters.repository import AnalysisRepository
from tradelab_analytics.adapters.tables import SCHEMA
from tradelab_analytics.handlers import register_handlers
from tradelab_analytics.service import AnalyticsDeps
from tradelab_contracts.analytics import ReportReady
from tradelab_contracts.engine import BacktestCompleted, BacktestSummary, EngineOptions
from tradelab_contracts.system import DeadLettered
from tradelab_contracts.topics import BACKTEST_COMPLETED
from tradelab_runtime.consumers import RetryPolicy
from tradelab_runtime.dead_letters import DeadLetters, list_dead_letters
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.outbox import Outbox
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import MovingClock
from .outbox_support import OutboxRecorder

pytestmark = pytest.mark.integration
FAST = RetryPolicy(max_attempts=3, first_delay_s=0.01, max_delay_s=0.02, redelivery_pause_s=0.1)
BARS = 300


class FlakyStore(LocalObjectStore):
    """An object store whose first ``failures`` look-ups fail, as a store briefly away does."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def path(self, uri: str) -> Path:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("the object store is unreachable")
        return super().path(uri)


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(database_url)
    await upgrade_to_head(db, "tradelab_analytics:migrations", SCHEMA)
    yield db
    await db.dispose()


def write_results(store: LocalObjectStore) -> tuple[str, str]:
    """Write an equity curve and a trade list as the engine does; return their URIs."""
    rng = np.random.default_rng(3)
    equity = 100_000.0 * np.cumprod(1.0 + rng.normal(0.0004, 0.01, BARS))
    start = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    times = pl.Series(start + np.arange(BARS) * 86_400_000_000).cast(pl.Datetime("us", "UTC"))
    curve = pl.DataFrame({"time": times, "equity": equity, "close": equity / 1_000.0})
    trades = pl.DataFrame(
        {
            "pnl": [120.0, -40.0],
            "return": [0.012, -0.004],
            "bars_held": [5, 3],
            "is_open": [False, False],
            "entry_fee": [2.0, 2.0],
            "exit_fee": [2.0, 2.0],
            "entry_price": [100.0, 101.0],
            "exit_price": [101.2, 100.6],
            "entry_time": times[[10, 40]],
            "exit_time": times[[15, 43]],
        }
    )
    uris = []
    for name, frame in (("equity", curve), ("trades", trades)):
        scratch = store.scratch_dir() / f"{name}.parquet"
        frame.write_parquet(scratch)
        uris.append(store.put_file(f"results/{uuid.uuid4()}/{name}.parquet", scratch))
    return uris[0], uris[1]


def completed(equity_uri: str, trades_uri: str) -> BacktestCompleted:
    return BacktestCompleted(
        run_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        dataset_id=uuid.uuid4(),
        strategy="sma_cross",
        parameters={"fast": 10, "slow": 50},
        options=EngineOptions(),
        summary=BacktestSummary(
            final_equity=101_000.0,
            total_return=0.01,
            max_drawdown=0.05,
            sharpe=None,
            trades=2,
            exposure=0.1,
            fees_paid=8.0,
        ),
        equity_uri=equity_uri,
        trades_uri=trades_uri,
        engine_version="test",
        duration_s=0.1,
        timeframe="1d",
    )


def analytics_broker(deps: AnalyticsDeps, outbox: Outbox) -> KafkaBroker:
    """A broker with the service's consumers, under a fast failure policy."""
    broker = KafkaBroker()
    register_handlers(broker, deps, DeadLetters("analytics", outbox), FAST)
    return broker


@pytest.mark.asyncio
async def test_an_analysis_that_failed_once_is_stored_and_announced_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = FlakyStore(tmp_path, failures=0)
    event = completed(*write_results(store))
    store.failures = 1  # the first attempt finds the store away
    deps = AnalyticsDeps(
        repo=AnalysisRepository(engine, recorder.outbox), store=store, clock=MovingClock()
    )
    async with TestKafkaBroker(analytics_broker(deps, recorder.outbox)) as broker:
        await broker.publish(event, BACKTEST_COMPLETED)
        await broker.publish(event, BACKTEST_COMPLETED)  # redelivered: nothing new
    [ready] = await recorder.events(ReportReady)
    assert (ready.run_id, ready.correlation_id) == (event.run_id, event.message_id)
    assert ready.metrics["trades"] == 2
    assert await list_dead_letters(engine, SCHEMA) == []
    assert await deps.repo.get(event.owner_id, event.run_id) is not None


@pytest.mark.asyncio
async def test_an_analysis_that_keeps_failing_is_retried_then_parked_not_lost(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    missing = (store.root / "results" / "gone").as_uri()  # the engine's files were lost
    event = completed(f"{missing}/equity.parquet", f"{missing}/trades.parquet")
    deps = AnalyticsDeps(
        repo=AnalysisRepository(engine, recorder.outbox), store=store, clock=MovingClock()
    )
    async with TestKafkaBroker(analytics_broker(deps, recorder.outbox)) as broker:
        await broker.publish(event, BACKTEST_COMPLETED)

    [parked] = await list_dead_letters(engine, SCHEMA)
    assert (parked.topic, parked.attempts) == (BACKTEST_COMPLETED, FAST.max_attempts)
    assert parked.message_id == event.message_id
    assert parked.error.startswith("FileNotFoundError")
    assert BacktestCompleted.model_validate_json(parked.payload) == event  # replayable as is
    [announced] = await recorder.events(DeadLettered)
    assert (announced.service, announced.original_topic) == ("analytics", BACKTEST_COMPLETED)
    assert await recorder.events(ReportReady) == []
    assert await deps.repo.get(event.owner_id, event.run_id) is None
