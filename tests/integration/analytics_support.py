"""What the analytics integration tests share: the engine's result files, a completed event, and
the service's BacktestCompleted consumer subscribed on a real broker as ``register_handlers``
subscribes it (on a topic and group of the test's own)."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_analytics.adapters.repository import AnalysisRepository
from tradelab_analytics.adapters.tables import SCHEMA
from tradelab_analytics.failures import record_failure
from tradelab_analytics.service import AnalyticsDeps, analyse_completed
from tradelab_contracts.engine import BacktestCompleted, BacktestSummary, EngineOptions
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetter, DeadLetters, list_dead_letters
from tradelab_runtime.outbox import Outbox
from tradelab_runtime.storage import LocalObjectStore

FAST = RetryPolicy(max_attempts=3, first_delay_s=0.01, max_delay_s=0.02, redelivery_pause_s=0.1)
BARS = 300
REPLY_TO = "test.analytics.replies.v1"


@dataclass
class StillClock:
    """A clock that stands still."""

    current: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.current


def deps_of(engine: AsyncEngine, outbox: Outbox, store: LocalObjectStore) -> AnalyticsDeps:
    return AnalyticsDeps(repo=AnalysisRepository(engine, outbox), store=store, clock=StillClock())


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


def completed(
    equity_uri: str, trades_uri: str, owner_id: uuid.UUID | None = None
) -> BacktestCompleted:
    return BacktestCompleted(
        run_id=uuid.uuid4(),
        owner_id=owner_id or uuid.uuid4(),
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


def unreadable(store: LocalObjectStore) -> BacktestCompleted:
    """A completed event whose result files are gone: its analysis can only fail."""
    missing = (store.root / "results" / str(uuid.uuid4())).as_uri()
    return completed(f"{missing}/equity.parquet", f"{missing}/trades.parquet")


@contextlib.asynccontextmanager
async def analysing(
    kafka: BrokerInfo,
    topic: str,
    deps: AnalyticsDeps,
    outbox: Outbox,
    policy: RetryPolicy = FAST,
) -> AsyncIterator[KafkaBroker]:
    """A real broker client with the service's completed-backtest handler (and its give-up
    hook) subscribed to ``topic`` under ``policy`` (fast by default)."""
    broker = KafkaBroker(kafka.bootstrap)
    work_subscriber(
        broker,
        topic,
        group_id=f"analytics-{topic}",
        model=BacktestCompleted,
        handle=partial(analyse_completed, deps=deps),
        dead_letters=DeadLetters("analytics", outbox),
        policy=policy,
        on_give_up=partial(record_failure, deps=deps),
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


async def parked(engine: AsyncEngine, message_id: uuid.UUID) -> None:
    """Wait until the message ``message_id`` is parked as a dead letter (everything published
    before it on a one-partition topic has then been handled)."""

    async def found() -> bool:
        return any(p.message_id == message_id for p in await letters(engine))

    await until(found, f"message {message_id} parked")


def files_under(store: LocalObjectStore, prefix: str) -> list[Path]:
    root = store.root / prefix
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
