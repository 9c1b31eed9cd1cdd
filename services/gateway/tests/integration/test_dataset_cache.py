"""The ready-dataset cache on a real Redis and a real broker: owner-scoped, dropped on every
deletion the datasets and auth services announce, expiring, and a miss when Redis is away."""

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
import pytest_asyncio
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.datasets import DatasetDeleted
from tradelab_contracts.topics import ALL_TOPICS, AUTH_USER_DELETED, DATASET_DELETED
from tradelab_devstack.kafka import KafkaBroker as BrokerInfo
from tradelab_devstack.ports import free_port
from tradelab_devstack.redis import RedisServer
from tradelab_gateway.adapters.dataset_cache import DATASET_CACHE, ReadyDataset, ReadyDatasetCache
from tradelab_gateway.handlers import register_dataset_cache_subscriber
from tradelab_runtime.kafka_admin import ensure_topics
from tradelab_runtime.metrics import ServiceMetrics

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def dataset() -> ReadyDataset:
    dataset_id = uuid.uuid4()
    return ReadyDataset(dataset_id, f"file:///data/{dataset_id}.parquet", "ab" * 32, "1h")


def counts(metrics: ServiceMetrics) -> dict[str, float]:
    return {
        result: metrics.cache_requests.labels(cache=DATASET_CACHE, result=result)._value.get()
        for result in ("hit", "miss")
    }


@pytest_asyncio.fixture
async def cached(redis: RedisServer) -> AsyncIterator[tuple[ReadyDatasetCache, ServiceMetrics]]:
    metrics = ServiceMetrics()
    cache = ReadyDatasetCache(
        Redis.from_url(redis.url, socket_timeout=1),
        prefix=f"test-{secrets.token_hex(6)}",
        ttl_s=600,
        stats=metrics.cache(DATASET_CACHE),
    )
    yield cache, metrics
    await cache.aclose()


async def test_an_entry_is_answered_to_its_owner_only_and_counted(
    cached: tuple[ReadyDatasetCache, ServiceMetrics],
) -> None:
    cache, metrics = cached
    owner, other, ready = uuid.uuid4(), uuid.uuid4(), dataset()
    assert await cache.get(owner, ready.id) is None
    await cache.put(owner, ready)
    assert await cache.get(owner, ready.id) == ready
    assert await cache.get(other, ready.id) is None  # another user's id is never answered
    assert counts(metrics) == {"hit": 1.0, "miss": 2.0}


async def test_entries_expire_after_the_ttl(redis: RedisServer) -> None:
    cache = ReadyDatasetCache(
        Redis.from_url(redis.url), f"test-{secrets.token_hex(6)}", 1, ServiceMetrics().cache("x")
    )
    owner, ready = uuid.uuid4(), dataset()
    try:
        await cache.put(owner, ready)
        assert await cache.get(owner, ready.id) == ready
        async with asyncio.timeout(10):
            while await cache.get(owner, ready.id) is not None:  # noqa: ASYNC110 - Redis expiry
                await asyncio.sleep(0.1)
    finally:
        await cache.aclose()


async def test_an_unreachable_redis_is_a_miss_never_an_error() -> None:
    metrics = ServiceMetrics()
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    cache = ReadyDatasetCache(away, "test", 600, metrics.cache(DATASET_CACHE))
    owner, ready = uuid.uuid4(), dataset()
    await cache.put(owner, ready)
    assert await cache.get(owner, ready.id) is None
    await cache.forget(owner, ready.id)
    await cache.forget_owner(owner)
    assert counts(metrics) == {"hit": 0.0, "miss": 1.0}
    await cache.aclose()


async def _gone(cache: ReadyDatasetCache, owner: UUID, dataset_id: UUID) -> None:
    async with asyncio.timeout(30):
        while await cache.get(owner, dataset_id) is not None:  # noqa: ASYNC110 - another consumer
            await asyncio.sleep(0.05)


async def test_announced_deletions_drop_the_dataset_and_the_whole_account(
    kafka: BrokerInfo, cached: tuple[ReadyDatasetCache, ServiceMetrics]
) -> None:
    cache, _ = cached
    wanted = [spec for spec in ALL_TOPICS if spec.name in (DATASET_DELETED, AUTH_USER_DELETED)]
    await ensure_topics(kafka.bootstrap, wanted)
    owner, leaver = uuid.uuid4(), uuid.uuid4()
    deleted, kept, erased = dataset(), dataset(), dataset()
    for who, ready in ((owner, deleted), (owner, kept), (leaver, erased)):
        await cache.put(who, ready)

    broker = KafkaBroker(kafka.bootstrap)
    register_dataset_cache_subscriber(broker, cache, group_id=f"it-{secrets.token_hex(4)}")
    await broker.start()
    try:
        gone = DatasetDeleted(dataset_id=deleted.id, owner_id=owner)
        await broker.publish(gone, DATASET_DELETED, key=deleted.id.bytes)
        await broker.publish(UserDeleted(user_id=leaver), AUTH_USER_DELETED, key=leaver.bytes)
        await _gone(cache, owner, deleted.id)
        await _gone(cache, leaver, erased.id)
        assert await cache.get(owner, kept.id) == kept
    finally:
        await broker.stop()
