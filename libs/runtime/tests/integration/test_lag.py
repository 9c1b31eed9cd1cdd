"""Consumer lag on a real Kafka broker: messages published while a group's consumer holds the
partitions count as lag until they are read."""

import asyncio
import secrets

import pytest
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from tradelab_contracts.topics import TopicSpec
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_runtime.kafka_admin import ensure_topics
from tradelab_runtime.lag import TopicLag, consumer_lag

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _wait_for_lag(broker: KafkaBroker, wanted: int) -> list[TopicLag]:
    async with asyncio.timeout(30):
        while True:
            lags = await consumer_lag(broker)
            if lags and sum(lag.lag for lag in lags) == wanted:
                return lags
            await asyncio.sleep(0.05)


async def test_unread_messages_count_as_lag_until_consumed(kafka: BrokerInfo) -> None:
    topic = f"it-lag-{secrets.token_hex(4)}"
    group = f"it-lag-{secrets.token_hex(4)}"
    await ensure_topics(kafka.bootstrap, [TopicSpec(topic, partitions=2, description="lag test")])
    release = asyncio.Event()
    seen: list[bytes] = []

    broker = KafkaBroker(kafka.bootstrap)

    @broker.subscriber(
        topic, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK
    )
    async def slow(body: bytes) -> None:
        await release.wait()
        seen.append(body)

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await broker.start()
    await producer.start()
    try:
        await _wait_for_lag(broker, 0)  # assigned, nothing published yet
        for i in range(5):
            await producer.send_and_wait(topic, f"m{i}".encode(), partition=i % 2)
        # The handler holds the first message it took. No offset is committed yet, so lag counts
        # from the consumer's position: the four it has not taken.
        lags = await _wait_for_lag(broker, 4)
        assert {(lag.group, lag.topic) for lag in lags} == {(group, topic)}
        release.set()
        await _wait_for_lag(broker, 0)
        assert len(seen) == 5
    finally:
        release.set()
        await producer.stop()
        await broker.stop()


async def test_a_subscriber_with_several_workers_reports_its_group_once(kafka: BrokerInfo) -> None:
    topic = f"it-lag-{secrets.token_hex(4)}"
    group = f"it-lag-{secrets.token_hex(4)}"
    await ensure_topics(kafka.bootstrap, [TopicSpec(topic, partitions=4, description="lag test")])
    release = asyncio.Event()

    broker = KafkaBroker(kafka.bootstrap)

    @broker.subscriber(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        max_workers=2,
    )
    async def slow(body: bytes) -> None:
        await release.wait()

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await broker.start()
    await producer.start()
    try:
        (subscriber,) = broker.subscribers
        workers = subscriber.consumer_subgroup  # type: ignore[attr-defined] # the concurrent kind
        assert len(workers) == 2
        async with asyncio.timeout(30):  # both workers hold partitions (the group rebalanced)
            while True:
                if all(worker.assignment() for worker in workers):
                    break
                await asyncio.sleep(0.05)
        await _wait_for_lag(broker, 0)
        for i in range(8):
            await producer.send_and_wait(topic, f"m{i}".encode(), partition=i % 4)
        # Each of the two workers holds the first message it took: 6 of the 8 are behind it.
        lags = await _wait_for_lag(broker, 6)
        assert [(lag.group, lag.topic) for lag in lags] == [(group, topic)]
    finally:
        release.set()
        await producer.stop()
        await broker.stop()
