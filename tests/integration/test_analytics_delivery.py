"""The analytics consumer against a real PostgreSQL and a real Kafka-protocol broker: an analysis
is stored with its announcement once, a transient failure is retried, and one that keeps failing
ends visibly (stored as failed with one ReportFailed) and is parked as a dead letter instead of
being committed unnoticed; a replay that succeeds replaces the failed analysis.

The service's handler runs under the runtime's failure policy exactly as ``register_handlers``
subscribes it, on a topic and group of the test's own so no other test's events reach it."""

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_analytics.adapters.result_files import get_json
from tradelab_analytics.adapters.tables import SCHEMA
from tradelab_analytics.service import (
    AnalyticsDeps,
    compare_runs,
    get_analysis,
    get_report,
    get_rolling,
)
from tradelab_contracts.analytics import ReportFailed, ReportFailureReason, ReportReady
from tradelab_contracts.analytics_rpc import (
    AnalyticsErrorCode,
    AnalyticsReply,
    CompareRuns,
    GetAnalysis,
    GetReport,
    GetRolling,
)
from tradelab_contracts.engine import BacktestCompleted
from tradelab_contracts.system import DeadLettered
from tradelab_contracts.topics import TopicSpec
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_runtime.dead_letters import list_dead_letters
from tradelab_runtime.kafka_admin import ensure_topics
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .analytics_support import (
    FAST,
    REPLY_TO,
    analysing,
    completed,
    deps_of,
    letters,
    parked,
    unreadable,
    write_results,
)
from .outbox_support import OutboxRecorder

pytestmark = pytest.mark.integration


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


@pytest_asyncio.fixture
async def topic(kafka: BrokerInfo) -> str:
    name = f"test.analytics.{secrets.token_hex(4)}.v1"
    await ensure_topics(kafka.bootstrap, [TopicSpec(name, 1, "test")])
    return name


@pytest.mark.asyncio
async def test_an_analysis_that_failed_once_is_stored_and_announced_once(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = FlakyStore(tmp_path, failures=0)
    event = completed(*write_results(store))
    store.failures = 1  # the first attempt finds the store away
    deps = deps_of(engine, recorder.outbox, store)
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)
        await broker.publish(event, topic)  # redelivered: nothing new
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)  # the marker fails: everything before is done
    [ready] = await recorder.events(ReportReady)
    assert (ready.run_id, ready.correlation_id) == (event.run_id, event.message_id)
    assert ready.metrics["trades"] == 2
    assert [p.message_id for p in await letters(engine)] == [marker.message_id]
    assert await deps.repo.get(event.owner_id, event.run_id) is not None


async def every_query(event: BacktestCompleted, deps: AnalyticsDeps) -> list[AnalyticsReply]:
    """What each analytics query answers about ``event``'s run."""
    other = completed("file:///x", "file:///y", owner_id=event.owner_id)
    owner, run = event.owner_id, event.run_id
    return [
        await get_analysis(GetAnalysis(reply_to=REPLY_TO, owner_id=owner, run_id=run), deps),
        await get_report(GetReport(reply_to=REPLY_TO, owner_id=owner, run_id=run), deps),
        await get_rolling(
            GetRolling(reply_to=REPLY_TO, owner_id=owner, run_id=run, window=20), deps
        ),
        await compare_runs(
            CompareRuns(
                reply_to=REPLY_TO, owner_id=event.owner_id, run_ids=[other.run_id, event.run_id]
            ),
            deps,
        ),
    ]


@pytest.mark.asyncio
async def test_an_analysis_that_keeps_failing_ends_failed_with_one_report_failed_and_is_parked(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    event = unreadable(store)  # the engine's files were lost
    deps = deps_of(engine, recorder.outbox, store)
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)
        await parked(engine, event.message_id)
        await broker.publish(event, topic)  # redelivered, fails again: nothing new announced
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)

    first, again, _ = await list_dead_letters(engine, SCHEMA)
    assert (first.topic, first.attempts, first.message_id) == (
        topic,
        FAST.max_attempts,
        event.message_id,
    )
    assert first.error.startswith("FileNotFoundError")
    assert again.message_id == event.message_id
    assert BacktestCompleted.model_validate_json(first.payload) == event  # replayable as is
    assert {d.original_topic for d in await recorder.events(DeadLettered)} == {topic}
    assert await recorder.events(ReportReady) == []
    [failed] = [f for f in await recorder.events(ReportFailed) if f.run_id == event.run_id]
    assert (failed.owner_id, failed.correlation_id) == (event.owner_id, event.message_id)
    assert failed.reason_code is ReportFailureReason.RESULTS_NOT_FOUND
    assert "result files were not found" in failed.message
    assert await deps.repo.get(event.owner_id, event.run_id) is None
    for reply in await every_query(event, deps):
        assert reply.error is not None
        assert reply.error.code is AnalyticsErrorCode.FAILED
        assert "results_not_found" in reply.error.message
        assert "result files were not found" in reply.error.message


@pytest.mark.asyncio
async def test_a_replay_that_succeeds_replaces_a_failed_analysis(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    event = completed(*write_results(store))
    results = store.path(event.equity_uri).parent
    hidden = results.rename(tmp_path / "hidden")  # the files are away for a while
    deps = deps_of(engine, recorder.outbox, store)
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)
        await parked(engine, event.message_id)
        assert [f.run_id for f in await recorder.events(ReportFailed)] == [event.run_id]

        hidden.rename(results)  # the cause is fixed; an operator replays the dead letter
        await broker.publish(event, topic)
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)

    [ready] = await recorder.events(ReportReady)
    assert ready.run_id == event.run_id
    assert [f.run_id for f in await recorder.events(ReportFailed)] == [event.run_id, marker.run_id]
    info = await deps.repo.get(event.owner_id, event.run_id)
    assert info is not None
    assert info.metrics["trades"] == 2
    # The chart names are stored with the analysis, as the charts file has them.
    assert info.chart_names == list(get_json(deps.store, info.charts_uri or ""))
    assert await deps.repo.failure(event.owner_id, event.run_id) is None
    asked = GetAnalysis(reply_to=REPLY_TO, owner_id=event.owner_id, run_id=event.run_id)
    assert (await get_analysis(asked, deps)).ok
