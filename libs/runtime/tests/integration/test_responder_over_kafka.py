"""The shared responder on a real Kafka broker: a reply too large for one message arrives as the
service's typed ``reply_too_large`` error, and a reply that fits arrives whole."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker

from tradelab_contracts.analytics_rpc import (
    ANALYTICS_REQUEST_ADAPTER,
    AnalyticsError,
    AnalyticsErrorCode,
    AnalyticsReply,
    GetRolling,
    RollingSeries,
)
from tradelab_contracts.registry import UNION_MEMBERS
from tradelab_contracts.topics import ALL_TOPICS, ANALYTICS_REQUESTS, reply_topic_spec
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_runtime.clock import SystemClock
from tradelab_runtime.kafka_admin import ensure_topics
from tradelab_runtime.responder import HEADROOM_BYTES, Routes, serve_requests

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
MAX_MESSAGE = 64 * 1024


async def rolling(cmd: GetRolling) -> AnalyticsReply:
    """A rolling series of ``cmd.window`` points: about 40 bytes of JSON each."""
    n = cmd.window
    series = RollingSeries(
        window=n, time=["2024-01-02T00:00:00Z"] * n, sharpe=[1.25] * n, volatility=[0.5] * n
    )
    return AnalyticsReply(request_id=cmd.message_id, ok=True, rolling=series)


def failed(cmd: Any, code: AnalyticsErrorCode, message: str) -> AnalyticsReply:
    return AnalyticsReply(
        request_id=cmd.message_id, ok=False, error=AnalyticsError(code=code, message=message)
    )


@pytest_asyncio.fixture
async def wired(kafka: BrokerInfo) -> AsyncIterator[tuple[KafkaBroker, AIOKafkaConsumer, str]]:
    """A responder for analytics requests under a 64 KiB message size, started; a consumer of
    its reply topic; the topic."""
    spec = reply_topic_spec(f"it-{secrets.token_hex(4)}")
    requests = next(t for t in ALL_TOPICS if t.name == ANALYTICS_REQUESTS)
    await ensure_topics(kafka.bootstrap, [requests, spec])
    routes = Routes(
        adapter=ANALYTICS_REQUEST_ADAPTER,
        handlers=dict.fromkeys(UNION_MEMBERS[ANALYTICS_REQUESTS], rolling),
        internal_error=lambda cmd: failed(cmd, AnalyticsErrorCode.INTERNAL, "Internal error."),
        too_large=lambda cmd, message: failed(cmd, AnalyticsErrorCode.REPLY_TOO_LARGE, message),
    )
    broker = KafkaBroker(kafka.bootstrap)
    serve_requests(
        broker,
        routes,
        topic=ANALYTICS_REQUESTS,
        group_id=f"it-{secrets.token_hex(4)}",
        max_message_bytes=MAX_MESSAGE,
        clock=SystemClock(),
    )
    consumer = AIOKafkaConsumer(
        spec.name, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await broker.start()
    await consumer.start()
    yield broker, consumer, spec.name
    await consumer.stop()
    await broker.stop()


async def ask(wired: tuple[KafkaBroker, AIOKafkaConsumer, str], window: int) -> AnalyticsReply:
    broker, consumer, topic = wired
    cmd = GetRolling(reply_to=topic, owner_id=uuid4(), run_id=uuid4(), window=window)
    # The responder's group starts at the latest offset, which its consumer resolves at its first
    # fetch: a request published before that is skipped. Sent again until answered (the same
    # request: a second answer is never read).
    async with asyncio.timeout(120):
        while True:
            await broker.publish(cmd, ANALYTICS_REQUESTS, key=cmd.message_id.bytes)
            try:
                record = await asyncio.wait_for(consumer.getone(), timeout=5)
            except TimeoutError:
                continue
            break
    reply = AnalyticsReply.model_validate_json(record.value)
    assert reply.request_id == cmd.message_id
    return reply


async def test_a_reply_over_the_message_size_arrives_as_reply_too_large(
    wired: tuple[KafkaBroker, AIOKafkaConsumer, str],
) -> None:
    reply = await ask(wired, 5000)  # about 200 KB
    assert reply.error is not None
    assert reply.error.code is AnalyticsErrorCode.REPLY_TOO_LARGE
    assert f"at most {MAX_MESSAGE - HEADROOM_BYTES:,} fit in one broker message" in (
        reply.error.message
    )
    assert reply.rolling is None


async def test_a_reply_within_the_message_size_arrives_whole(
    wired: tuple[KafkaBroker, AIOKafkaConsumer, str],
) -> None:
    reply = await ask(wired, 500)  # about 20 KB
    assert reply.ok, reply.error
    assert reply.rolling is not None
    assert len(reply.rolling.sharpe) == 500
