"""The outbox, the failure policy and dead letters on a real PostgreSQL and Kafka broker."""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from alembic.migration import MigrationContext
from alembic.operations import Operations
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import Field
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_contracts.base import Event
from tradelab_contracts.topics import SYSTEM_DEAD_LETTERED, TopicSpec
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_devstack.ports import free_port
from tradelab_runtime import admin
from tradelab_runtime.broker import make_broker
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import (
    DeadLetters,
    Letter,
    create_dead_letters_table,
    list_dead_letters,
    replay_dead_letter,
)
from tradelab_runtime.kafka_admin import ensure_topics
from tradelab_runtime.outbox import (
    JSON_HEADERS,
    OUTBOX_TABLE,
    Outbox,
    PendingEvent,
    create_outbox_table,
)
from tradelab_runtime.trace_context import add_trace_context_columns

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
SCHEMA = "relaytest"
FAST = RetryPolicy(max_attempts=3, first_delay_s=0.01, max_delay_s=0.02, redelivery_pause_s=0.1)


class Noted(Event):
    """A test event."""

    n: int = Field(ge=0)


def _create_tables(conn: Connection) -> None:
    with Operations.context(MigrationContext.configure(conn)):
        create_outbox_table(SCHEMA)
        add_trace_context_columns(SCHEMA, (OUTBOX_TABLE,))  # as every service's later migration
        create_dead_letters_table(SCHEMA)


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(database_url)
    async with db.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.execute(sa.text(f"CREATE TABLE {SCHEMA}.notes (n int primary key)"))
        await conn.run_sync(_create_tables)
    yield db
    await db.dispose()


@pytest_asyncio.fixture
async def topic(kafka: BrokerInfo) -> str:
    name = f"test.outbox.{secrets.token_hex(4)}.v1"
    await ensure_topics(kafka.bootstrap, [TopicSpec(name, 1, "test")])
    return name


@pytest_asyncio.fixture
async def broker(kafka: BrokerInfo) -> AsyncIterator[KafkaBroker]:
    client = KafkaBroker(kafka.bootstrap)
    yield client
    await client.stop()


def publisher(broker: KafkaBroker) -> Callable[[PendingEvent], Any]:
    async def publish(event: PendingEvent) -> None:
        await broker.publish(event.payload, event.topic, key=event.key, headers=JSON_HEADERS)

    return publish


async def read_all(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """Read ``topic`` from the start until ``expected`` messages came, or 10 s passed."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(10):
            while len(seen) < expected:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    seen.extend(json.loads(r.value) for r in records)
        await asyncio.sleep(0.3)  # nothing more than expected arrives
        for records in (await consumer.getmany(timeout_ms=300)).values():
            seen.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return seen


async def note_and_announce(outbox: Outbox, n: int, topic: str, *, fail: bool = False) -> None:
    """Change state and store its event in one transaction, failing at the end if asked."""
    async with outbox.begin() as conn:
        await conn.execute(sa.text("INSERT INTO relaytest.notes VALUES (:n)"), {"n": n})
        await outbox.add(conn, Noted(n=n), topic, b"k")
        if fail:
            raise RuntimeError("the state change fails: its event must go with it")


async def test_committed_events_are_relayed_in_order_and_rolled_back_ones_never(
    engine: AsyncEngine, broker: KafkaBroker, topic: str, kafka: BrokerInfo
) -> None:
    await broker.start()
    outbox = Outbox(engine, SCHEMA, publisher(broker))
    for n in range(5):
        await note_and_announce(outbox, n, topic)
    with pytest.raises(RuntimeError, match="must go with it"):
        await note_and_announce(outbox, 99, topic, fail=True)
    assert await outbox.pending_count() == 5

    assert await outbox.relay_once() == 5
    assert await outbox.pending_count() == 0
    seen = await read_all(kafka.bootstrap, topic, 5)
    assert [m["n"] for m in seen] == [0, 1, 2, 3, 4]


async def test_events_wait_in_the_outbox_while_the_broker_is_unreachable(
    engine: AsyncEngine, broker: KafkaBroker, topic: str, kafka: BrokerInfo
) -> None:
    dead = KafkaBroker(f"127.0.0.1:{free_port()}")

    async def unreachable(event: PendingEvent) -> None:
        await dead.publish(event.payload, event.topic, key=event.key)

    lost = Outbox(engine, SCHEMA, unreachable, publish_timeout_s=1)
    async with lost.begin() as conn:
        await lost.add(conn, Noted(n=1), topic, b"k")
        await lost.add(conn, Noted(n=2), topic, b"k")
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the client raises
        await lost.relay_once()
    assert await lost.pending_count() == 2

    await broker.start()
    relay = Outbox(engine, SCHEMA, publisher(broker))
    relay.start()  # the next process's relay finds them without being told
    try:
        seen = await read_all(kafka.bootstrap, topic, 2)
    finally:
        await relay.stop()
    assert [m["n"] for m in seen] == [1, 2]
    assert await relay.pending_count() == 0


async def test_two_relays_on_one_schema_publish_every_event_once_in_order(
    engine: AsyncEngine, broker: KafkaBroker, topic: str, kafka: BrokerInfo
) -> None:
    await broker.start()
    first = Outbox(engine, SCHEMA, publisher(broker), batch_size=7)
    second = Outbox(engine, SCHEMA, publisher(broker), batch_size=7)
    async with first.begin() as conn:
        for n in range(60):
            await first.add(conn, Noted(n=n), topic, b"k")
    first.start()
    second.start()
    try:
        seen = await read_all(kafka.bootstrap, topic, 60)
    finally:
        await first.stop()
        await second.stop()
    assert [m["n"] for m in seen] == list(range(60))


async def test_failing_messages_are_retried_then_parked_and_can_be_replayed(
    engine: AsyncEngine, broker: KafkaBroker, topic: str, kafka: BrokerInfo
) -> None:
    outbox = Outbox(engine, SCHEMA, publisher(broker))
    handled: list[int] = []
    failures: dict[int, int] = {}

    async def handle(event: Noted) -> None:
        failures[event.n] = failures.get(event.n, 0) + 1
        # n=1 fails once (transient), n=2 always fails until it is fixed below (n=2 fixed).
        if (event.n == 1 and failures[1] == 1) or (event.n == 2 and not fixed.is_set()):
            raise OSError(f"transient trouble with {event.n}")
        handled.append(event.n)

    fixed = asyncio.Event()
    letters = DeadLetters("relaytest", outbox)
    work_subscriber(
        broker,
        topic,
        group_id=f"g-{topic}",
        model=Noted,
        handle=handle,
        dead_letters=letters,
        policy=FAST,
    )
    await broker.start()
    outbox.start()
    try:
        for payload in (Noted(n=1), b"{not json", Noted(n=2), Noted(n=3)):
            await broker.publish(payload, topic, key=b"k")
        await _until(lambda: 3 in handled, "the message behind the poison one is handled")
        assert handled == [1, 3]
        assert failures == {1: 2, 2: 3, 3: 1}

        parked = await list_dead_letters(engine, SCHEMA)
        assert [(p.attempts, p.payload[:9]) for p in parked] == [
            (1, b"{not json"),
            (FAST.max_attempts, Noted(n=2).model_dump_json().encode()[:9]),
        ]
        assert parked[0].error.startswith("unreadable")
        assert parked[1].error == "OSError: transient trouble with 2"
        announced = await read_all(kafka.bootstrap, SYSTEM_DEAD_LETTERED, 0)
        mine = [m for m in announced if m["original_topic"] == topic]
        assert sorted(m["attempts"] for m in mine) == [1, FAST.max_attempts]

        fixed.set()
        async with outbox.begin() as conn:
            assert await replay_dead_letter(conn, SCHEMA, parked[1].id) is True
        async with outbox.begin() as conn:
            assert await replay_dead_letter(conn, SCHEMA, parked[1].id) is False
        await _until(lambda: 2 in handled, "the replayed message is handled")
        assert [p.id for p in await list_dead_letters(engine, SCHEMA)] == [parked[0].id]
    finally:
        await outbox.stop()


async def test_an_operator_lists_and_replays_dead_letters_with_tradelab_admin(
    engine: AsyncEngine,
    database_url: str,
    topic: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def never(_: PendingEvent) -> None:
        raise AssertionError("nothing is published in this test")

    outbox = Outbox(engine, SCHEMA, never)
    letter = Letter(topic, 2, 41, b"k", Noted(n=7).model_dump_json().encode(), None)
    await DeadLetters("relaytest", outbox).park(letter, "OSError: disk full", 4)
    monkeypatch.setenv("DATABASE_URL", database_url)
    (parked,) = await list_dead_letters(engine, SCHEMA)

    assert await admin.run(["dead-letters", "list", "--schema", SCHEMA]) == 0
    listed = capsys.readouterr().out
    assert f"{parked.id}" in listed
    assert f"attempts=4  {topic}[2]@41  OSError: disk full" in listed

    assert await admin.run(["dead-letters", "replay", "--schema", SCHEMA, str(parked.id)]) == 0
    assert await admin.run(["dead-letters", "replay", "--schema", SCHEMA, str(parked.id)]) == 1
    assert await list_dead_letters(engine, SCHEMA) == []
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT topic, payload FROM relaytest.outbox"))).all()
    # The DeadLettered announcement, then the original message on its own topic again.
    assert [row.topic for row in stored] == [SYSTEM_DEAD_LETTERED, topic]
    assert stored[1].payload == letter.payload


async def _until(probe: Callable[[], bool], what: str, deadline_s: float = 20) -> None:
    async with asyncio.timeout(deadline_s):
        while not probe():  # noqa: ASYNC110 - the probe reads state a subscriber changes
            await asyncio.sleep(0.05)
    assert probe(), what


async def first_headers(bootstrap: str, topic: str) -> dict[str, bytes]:
    """The headers of the first message of ``topic`` (waiting up to 10 s for it)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    return dict(records[0].headers)
    finally:
        await consumer.stop()


async def test_relayed_event_continues_the_trace_of_the_transaction_that_stored_it(
    engine: AsyncEngine, topic: str, kafka: BrokerInfo
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = make_broker(kafka.bootstrap, "outbox-trace-test", provider)
    await traced.start()
    try:
        outbox = Outbox(engine, SCHEMA, publisher(traced))
        with provider.get_tracer("test").start_as_current_span("request") as request:
            await note_and_announce(outbox, 1, topic)
        assert await outbox.relay_once() == 1  # later, outside the request's span
    finally:
        await traced.stop()
    request_ids = request.get_span_context()
    headers = await first_headers(kafka.bootstrap, topic)
    _, trace_id, _, _ = headers["traceparent"].decode().split("-")
    assert trace_id == trace.format_trace_id(request_ids.trace_id)
    relayed = [s for s in exporter.get_finished_spans() if s.name != "request"]
    assert relayed  # FastStream's producer spans, under the request's
    assert {s.context.trace_id for s in relayed} == {request_ids.trace_id}
    assert any(s.parent is not None and s.parent.span_id == request_ids.span_id for s in relayed)
