"""A run deleted, or an owner erased, while analytics still analyses or retries its
BacktestCompleted: nothing is written afterwards and nothing announced, on a real PostgreSQL and
a real Kafka-protocol broker. The erasures leave tombstones that the analysis write checks in
its own transaction (docs/architecture.md "Deletion cascades")."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_analytics.adapters.erasure import AnalysisEraser
from tradelab_analytics.adapters.tables import SCHEMA
from tradelab_analytics.erasure import ErasureDeps, forget_owner, forget_run
from tradelab_analytics.failures import record_failure
from tradelab_analytics.service import (
    AnalyticsDeps,
    analyse_completed,
    compare_runs,
    get_report,
    get_rolling,
)
from tradelab_contracts.analytics import ReportFailed, ReportReady
from tradelab_contracts.analytics_rpc import (
    AnalyticsErrorCode,
    AnalyticsReply,
    CompareRuns,
    GetReport,
    GetRolling,
)
from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.engine import BacktestCompleted, BacktestDeleted
from tradelab_contracts.topics import TopicSpec
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_runtime.consumers import RetryPolicy
from tradelab_runtime.erasure import remove_prefix
from tradelab_runtime.kafka_admin import ensure_topics
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .analytics_support import (
    REPLY_TO,
    analysing,
    completed,
    deps_of,
    files_under,
    letters,
    parked,
    unreadable,
    until,
    write_results,
)
from .outbox_support import OutboxRecorder

pytestmark = pytest.mark.integration


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


def deleted(event: BacktestCompleted) -> BacktestDeleted:
    return BacktestDeleted(
        run_id=event.run_id, owner_id=event.owner_id, dataset_id=event.dataset_id
    )


class EraseOnWrite(LocalObjectStore):
    """An object store that runs an erasure right after a file named ``*suffix`` is written:
    the deletion lands between a use case's file and its row (the charts of an analysis, the
    rendered report)."""

    def __init__(self, root: Path, suffix: str) -> None:
        super().__init__(root)
        self.suffix = suffix
        self.erasure: Coroutine[Any, Any, None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.erased = False

    def put_file(self, key: str, source: Path) -> str:
        uri = super().put_file(key, source)
        if key.endswith(self.suffix) and self.erasure is not None and self.loop is not None:
            erasure, self.erasure = self.erasure, None  # called from a worker thread
            asyncio.run_coroutine_threadsafe(erasure, self.loop).result(timeout=30)
            self.erased = True
        return uri


class CountingStore(LocalObjectStore):
    """An object store that counts the result files the analyses look for."""

    looked = 0

    def path(self, uri: str) -> Path:
        self.looked += 1
        return super().path(uri)


async def nothing_of(
    event: BacktestCompleted, engine: AsyncEngine, deps: AnalyticsDeps, recorder: OutboxRecorder
) -> None:
    """No analysis of ``event``'s run, ready or failed, no announcement, no dead letter, no file."""
    assert await deps.repo.get(event.owner_id, event.run_id) is None
    assert await deps.repo.failure(event.owner_id, event.run_id) is None
    announced = await recorder.events(ReportReady) + await recorder.events(ReportFailed)
    assert event.run_id not in {m.run_id for m in announced}
    assert event.message_id not in {p.message_id for p in await letters(engine)}
    assert files_under(deps.store, f"analytics/{event.owner_id}") == []


@pytest.mark.asyncio
async def test_a_deleted_runs_late_completion_writes_nothing_and_announces_nothing(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    deps = deps_of(engine, recorder.outbox, store)
    event = completed(*write_results(store))
    await forget_run(deleted(event), ErasureDeps(rows=AnalysisEraser(engine), store=store))
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)  # arrives after the deletion
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)
    await nothing_of(event, engine, deps, recorder)


@pytest.mark.asyncio
async def test_an_erased_owners_late_completion_writes_nothing_and_announces_nothing(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    deps = deps_of(engine, recorder.outbox, store)
    event, failing = completed(*write_results(store)), unreadable(store)
    failing = failing.model_copy(update={"owner_id": event.owner_id})
    await forget_owner(
        UserDeleted(user_id=event.owner_id), ErasureDeps(rows=AnalysisEraser(engine), store=store)
    )
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)
        await broker.publish(failing, topic)  # not even a failed analysis is stored
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)
    await nothing_of(event, engine, deps, recorder)
    await nothing_of(failing, engine, deps, recorder)


@pytest.mark.asyncio
async def test_a_run_deleted_while_analysed_is_not_written_back(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = EraseOnWrite(tmp_path, "charts.json")
    deps = deps_of(engine, recorder.outbox, store)
    event = completed(*write_results(store))
    store.loop = asyncio.get_running_loop()
    store.erasure = forget_run(
        deleted(event), ErasureDeps(rows=AnalysisEraser(engine), store=store)
    )
    async with analysing(kafka, topic, deps, recorder.outbox) as broker:
        await broker.publish(event, topic)
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)
    assert store.erased  # it ran, after the charts were written
    await nothing_of(event, engine, deps, recorder)


@pytest.mark.asyncio
async def test_a_run_deleted_while_its_analysis_is_retried_is_neither_stored_nor_parked(
    engine: AsyncEngine, tmp_path: Path, kafka: BrokerInfo, topic: str
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = CountingStore(tmp_path)
    deps = deps_of(engine, recorder.outbox, store)
    event = unreadable(store)  # the engine removed the files of the run it deleted
    patient = RetryPolicy(max_attempts=3, first_delay_s=1.0, max_delay_s=1.0)
    async with analysing(kafka, topic, deps, recorder.outbox, patient) as broker:
        await broker.publish(event, topic)

        async def first_attempt_made() -> bool:  # it fails; the retry waits a second
            return store.looked > 0

        await until(first_attempt_made, "the first attempt made")
        await forget_run(deleted(event), ErasureDeps(rows=AnalysisEraser(engine), store=store))
        await broker.publish(marker := unreadable(store), topic)
        await parked(engine, marker.message_id)
    await nothing_of(event, engine, deps, recorder)


@pytest.mark.asyncio
async def test_giving_up_on_a_deleted_run_stores_no_failure(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    deps = deps_of(engine, recorder.outbox, store)
    event = unreadable(store)
    await forget_run(deleted(event), ErasureDeps(rows=AnalysisEraser(engine), store=store))
    await record_failure(event, FileNotFoundError("gone"), deps)
    await nothing_of(event, engine, deps, recorder)


def not_found(reply: AnalyticsReply) -> bool:
    error = reply.error
    return not reply.ok and error is not None and error.code is AnalyticsErrorCode.NOT_FOUND


@pytest.mark.asyncio
async def test_queries_on_a_run_whose_files_were_just_erased_answer_not_found(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = LocalObjectStore(tmp_path)
    deps = deps_of(engine, recorder.outbox, store)
    first = completed(*write_results(store))
    second = completed(*write_results(store), owner_id=first.owner_id)
    for event in (first, second):
        await analyse_completed(event, deps)
    owner, run = first.owner_id, first.run_id
    # The engine deleted the run's result files, and the erasure the analysis files; the row
    # is still there (erasure's files-first order), so the queries find it, then no files.
    for uri in (first.equity_uri, first.trades_uri):
        store.delete(uri)
    remove_prefix(store, f"analytics/{owner}/{run}")

    replies = [
        await get_report(GetReport(reply_to=REPLY_TO, owner_id=owner, run_id=run), deps),
        await get_rolling(
            GetRolling(reply_to=REPLY_TO, owner_id=owner, run_id=run, window=20), deps
        ),
        await compare_runs(
            CompareRuns(reply_to=REPLY_TO, owner_id=owner, run_ids=[run, second.run_id]), deps
        ),
    ]
    assert all(not_found(reply) for reply in replies), replies
    assert files_under(store, f"analytics/{owner}/{run}") == []


@pytest.mark.asyncio
async def test_a_report_rendered_while_its_run_is_erased_is_not_left_behind(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorder = OutboxRecorder(engine, SCHEMA)
    store = EraseOnWrite(tmp_path, "report.html")
    deps = deps_of(engine, recorder.outbox, store)
    event = completed(*write_results(store))
    await analyse_completed(event, deps)
    store.loop = asyncio.get_running_loop()
    store.erasure = forget_run(
        deleted(event), ErasureDeps(rows=AnalysisEraser(engine), store=store)
    )

    ask = GetReport(reply_to=REPLY_TO, owner_id=event.owner_id, run_id=event.run_id)
    reply = await get_report(ask, deps)

    assert store.erased  # the whole erasure ran after the report was written
    assert not_found(reply), reply
    assert await deps.repo.get(event.owner_id, event.run_id) is None
    assert files_under(store, f"analytics/{event.owner_id}") == []
