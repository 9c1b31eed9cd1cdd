"""What the engine's integration tests share: a recorder of everything the engine sends (published
directly, or stored in its outbox and relayed) and a clock the test moves."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
import polars as pl
import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.base import Message
from tradelab_contracts.registry import TOPIC_MESSAGES
from tradelab_engine.adapters.tables import SCHEMA
from tradelab_engine.backtests.kind import BacktestJobs
from tradelab_engine.backtests.repository import RunRepository
from tradelab_engine.lifecycle.store import JobStore, LeaseTerms
from tradelab_engine.montecarlo.kind import MonteCarloJobs
from tradelab_engine.optimizations.kind import OptimizationJobs
from tradelab_engine.service import RESULT_CACHE, EngineDeps
from tradelab_runtime import audit
from tradelab_runtime.metrics import ServiceMetrics
from tradelab_runtime.outbox import Outbox, PendingEvent
from tradelab_runtime.storage import LocalObjectStore

TERMS = LeaseTerms(lease_s=30, max_attempts=3, redispatch_after_s=60)


@dataclass
class MovingClock:
    """A clock that stands still until the test moves it."""

    current: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class Recorder:
    """Every message the engine sent, in order, whichever way it left."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sent: list[tuple[str, Message]] = []
        self.partitions: dict[UUID, int | None] = {}
        """The partition each relayed message was stored for, by message id."""
        self.outbox = Outbox(engine, SCHEMA, self.relayed)
        self.metrics = ServiceMetrics()
        """Where the job stores count ended jobs (and ``engine_deps`` the result cache)."""
        self.backtests = JobStore(BacktestJobs(), self.outbox, TERMS, self.metrics)
        self.studies = JobStore(MonteCarloJobs(), self.outbox, TERMS, self.metrics)
        self.optimizations = JobStore(OptimizationJobs(), self.outbox, TERMS, self.metrics)

    async def audited(self, job_id: UUID) -> list[tuple[UUID | None, str, dict[str, Any]]]:
        """The audit rows of a job, oldest first: (actor, action, detail)."""
        log = audit.audit_table(SCHEMA)
        query = (
            sa.select(log.c.actor, log.c.action, log.c.detail)
            .where(log.c.entity_id == str(job_id))
            .order_by(log.c.id)
        )
        async with self.engine.connect() as conn:
            return [(a, b, dict(c)) for a, b, c in (await conn.execute(query)).all()]

    async def publish(self, message: Message, topic: str, key: bytes) -> None:
        self.sent.append((topic, message))

    async def relayed(self, event: PendingEvent) -> None:
        carried = TOPIC_MESSAGES[event.topic]
        adapter = carried if isinstance(carried, TypeAdapter) else TypeAdapter(carried)
        message = adapter.validate_json(event.payload)
        self.sent.append((event.topic, message))
        self.partitions[message.message_id] = event.partition

    async def events(self, kind: type[Message]) -> list[Any]:
        """Relay what the outbox holds, then return every message of ``kind`` sent so far."""
        while await self.outbox.relay_once():
            pass
        return [m for _, m in self.sent if isinstance(m, kind)]


def engine_deps(db: AsyncEngine, recorder: Recorder, store: LocalObjectStore) -> EngineDeps:
    """The engine's collaborators as one worker (``worker-a``) has them: its runs in ``db``,
    everything it sends to ``recorder``, a :class:`MovingClock`. Add more with ``replace``."""
    return EngineDeps(
        repo=RunRepository(db, recorder.backtests),
        store=store,
        publish=recorder.publish,
        clock=MovingClock(),
        worker="worker-a",
        engine_version="test",
        result_cache=recorder.metrics.cache(RESULT_CACHE),
    )


def recorder_of(deps: EngineDeps) -> Recorder:
    """The recorder ``deps`` send to (built by :func:`engine_deps`)."""
    recorder = deps.publish.__self__  # type: ignore[attr-defined]  # a bound Recorder.publish
    assert isinstance(recorder, Recorder)
    return recorder


def clock_of(deps: EngineDeps) -> MovingClock:
    """The clock of ``deps`` (built by :func:`engine_deps`)."""
    assert isinstance(deps.clock, MovingClock)
    return deps.clock


def random_walk_dataset(
    store: LocalObjectStore, bars: int, *, seed: int, drift: float, step_s: int
) -> str:
    """Store a seeded random walk of ``bars`` bars, ``step_s`` seconds apart, as the datasets
    service stores bars; its URI."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.01, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    start = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    times = pl.Series(start + np.arange(bars) * step_s * 1_000_000)
    frame = pl.DataFrame(
        {
            "time": times.cast(pl.Datetime("us", "UTC")),
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
        }
    )
    path = store.scratch_dir() / "bars.parquet"
    frame.write_parquet(path)
    return store.put_file("datasets/test/bars.parquet", path)
