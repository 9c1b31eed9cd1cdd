"""Consumer lag: how many messages this process's consumers have still to read."""

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker


@dataclass(frozen=True)
class TopicLag:
    """Messages not yet committed on one topic, summed over the partitions one consumer group holds
    in this process: the standard Kafka group lag, end offset minus committed offset (or minus
    the consumer's position on a partition the group has never committed)."""

    group: str
    topic: str
    lag: int


async def _consumer_lag(group: str, consumer: AIOKafkaConsumer) -> list[TopicLag]:
    assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
    if not assigned:
        return []
    ends = await consumer.end_offsets(assigned)
    behind: dict[str, int] = {}
    for tp in assigned:
        # Committed, not fetched: a message being handled (or prefetched) is not done yet.
        done = await consumer.committed(tp)
        if done is None:
            done = await consumer.position(tp)
        behind[tp.topic] = behind.get(tp.topic, 0) + max(0, ends[tp] - done)
    return [TopicLag(group, topic, lag) for topic, lag in behind.items()]


async def consumer_lag(broker: KafkaBroker) -> list[TopicLag]:
    """The lag of every started group consumer of ``broker``, per (group, topic).

    Asks the broker for each assigned partition's end offset (one request per consumer), so call
    it at scrape or report time, not per message. Consumers without a group (per-instance reply
    readers) and subscribers not started are left out. A subscriber with ``max_workers`` runs
    several consumers of one group (partitions split between them): their lags add up.
    """
    held: list[tuple[str, AIOKafkaConsumer]] = []
    for subscriber in broker.subscribers:
        group: str | None = getattr(subscriber, "group_id", None)
        consumers: list[Any] = getattr(subscriber, "consumer_subgroup", None) or [
            getattr(subscriber, "consumer", None)
        ]
        held.extend(
            (group, consumer)
            for consumer in consumers
            if group is not None and isinstance(consumer, AIOKafkaConsumer)
        )
    # All at once: a consumer's offset request can wait behind its own long-poll fetch (up to
    # fetch_max_wait_ms, 500 ms by default), so asking one consumer after another took seconds
    # for the engine's groups.
    found = await asyncio.gather(*(_consumer_lag(group, consumer) for group, consumer in held))
    behind: dict[tuple[str, str], int] = {}
    for lag in (lag for lags in found for lag in lags):
        key = (lag.group, lag.topic)
        behind[key] = behind.get(key, 0) + lag.lag
    return [TopicLag(group, topic, lag) for (group, topic), lag in behind.items()]
