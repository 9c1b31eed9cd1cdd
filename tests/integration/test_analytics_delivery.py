"""The analytics consumer against a real PostgreSQL and a real Kafka-protocol broker: an analysis
is stored with its announcement once, a transient failure is retried, and one that keeps failing
is parked as a dead letter instead of being committed unnoticed.

The service's handler runs under the runtime's failure policy exactly as ``register_handlers``
subscribes it, on a topic and group of the test's own so no other test's events reach it."""

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import pytest_asyncio
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_analytics.adapters.repository import AnalysisRepository
from tradelab_analytics.adapters.tables import SCHEMA
from tradelab_analytics.service import AnalyticsDeps, analyse_completed
from tradelab_contracts.analytics import ReportReady
from tradelab_contracts.engine import BacktestCompleted, BacktestSummary, EngineOptions
from tradelab_contracts.system import DeadLettered
from tradelab_contracts.topics import TopicSpec
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetter, DeadLetters, list_dead_letters
from tradelab_runtime.kafka_admin import ensure_topics
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


async def letters(engine: AsyncEngine) -> list[DeadLetter]:
    return await list_dead_letters(engine, SCHEMA)


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


@pytest_asyncio.fixture
async def topic(kafka: BrokerInfo) -> str:
    name = f"test.analytics.{secrets.token_hex(4)}.v1"
    await ensure_topics(kafka.bootstrap, [TopicSpec(name, 1, "test")])
    return name


@contextlib.asynccontextmanager
async def analysing(
    kafka: BrokerInfo, topic: str, deps: AnalyticsDeps, outbox: Outbox
) -> AsyncIterator[KafkaBroker]:
    """A real broker client with the service's completed-backtest handler subscribed to
    ``topic`` under a fast failure policy."""
    broker = KafkaBroker(kafka.bootstrap)
    work_subscriber(
        broker,
        topic,
        group_id=f"analytics-{topic}",
        model=BacktestCompleted,
        handle=partial(analyse_completed, deps=deps),
        dead_letters=DeadLetters("analytics", outbox),
        policy=FAST,
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def until(probe: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 30) -> None:
    """Poll ``probe`` until it holds, or fail after the deadline."""
    async with asyncio.timeout(deadline_s):
        while not await probe():  # noqa: ASYNC110 - the probe reads the database
            await asyncio.sleep(0.1)
    assert await probe(), what


@pytest.mark.asyncio
async def test_an_analysis_that_failed_once_is_stored_and_announced_once(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = FlakyStore(tmp_path, failures=0)
    event = completed(*write_results(store))
    store.failures = 1  # the first attempt finds the store away
    deps = AnalyticsDeps(
        repo=AnalysisRepository(engine, recorder.outbox), store=store, clock=MovingClock()
    )
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)
        await broker.publish(event, topic)  # redelivered: nothing new
        await broker.publish(marker := completed("file:///x", "file:///y"), topic)

        async def behind_the_redelivery() -> bool:  # the marker fails: everything before is done
            return any(p.message_id == marker.message_id for p in await letters(engine))

        await until(behind_the_redelivery, "both copies handled")
    [ready] = await recorder.events(ReportReady)
    assert (ready.run_id, ready.correlation_id) == (event.run_id, event.message_id)
    assert ready.metrics["trades"] == 2
    assert [p.message_id for p in await letters(engine)] == [marker.message_id]
    assert await deps.repo.get(event.owner_id, event.run_id) is not None


@pytest.mark.asyncio
async def test_an_analysis_that_keeps_failing_is_retried_then_parked_not_lost(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    missing = (store.root / "results" / "gone").as_uri()  # the engine's files were lost
    event = completed(f"{missing}/equity.parquet", f"{missing}/trades.parquet")
    deps = AnalyticsDeps(
        repo=AnalysisRepository(engine, recorder.outbox), store=store, clock=MovingClock()
    )
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)

        async def parked_once() -> bool:
            return bool(await letters(engine))

        await until(parked_once, "the message parked")

    [parked] = await list_dead_letters(engine, SCHEMA)
    assert (parked.topic, parked.attempts) == (topic, FAST.max_attempts)
    assert parked.message_id == event.message_id
    assert parked.error.startswith("FileNotFoundError")
    assert BacktestCompleted.model_validate_json(parked.payload) == event  # replayable as is
    [announced] = await recorder.events(DeadLettered)
    assert (announced.service, announced.original_topic) == ("analytics", topic)
    assert await recorder.events(ReportReady) == []
    assert await deps.repo.get(event.owner_id, event.run_id) is None
