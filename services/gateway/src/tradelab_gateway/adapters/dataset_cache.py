"""Ready datasets' descriptors, cached in the Redis every gateway replica shares.

A submission (backtest, optimisation, Monte Carlo study) needs the dataset's storage URI, hash
and timeframe, which cost a request/reply round trip to the datasets service (~25 ms of a 60 ms
submit budget). Once a dataset is ``ready`` those fields never change, so the only invalidation
is its deletion: the replica that deletes it drops the entry after the delete succeeds, and every
deletion the datasets service announces (``datasets.dataset.deleted``, ``auth.user.deleted`` for
a whole account) drops it again, whichever path deleted it. Entries also expire after ``ttl_s``,
which bounds what a missed invalidation (Redis away at that moment) can leave: a submission whose
run then fails with ``dataset_unreadable``, as one racing the delete always could.

Entries live in one hash per owner (``<prefix>:ready-datasets:<owner id>``, a field per dataset),
so another user's dataset id can never be answered from the cache and an account is dropped in
one command. Redis failing is never an error here: a lookup that fails is a miss and the
datasets service answers.
"""

import json
from dataclasses import asdict, dataclass
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tradelab_runtime.logging import get_logger
from tradelab_runtime.metrics import CacheStats

log = get_logger(__name__)
DATASET_CACHE = "ready_datasets"
"""The ``cache`` label of this cache in ``tradelab_cache_requests_total``."""


@dataclass(frozen=True)
class ReadyDataset:
    """A dataset that can be computed on: where its bars are and what they hash to."""

    id: UUID
    storage_uri: str
    content_sha256: str
    timeframe: str | None

    def to_json(self) -> str:
        """The entry as stored."""
        return json.dumps(asdict(self) | {"id": str(self.id)})

    @classmethod
    def from_json(cls, raw: bytes | str) -> "ReadyDataset":
        """Read an entry back (ValueError, KeyError, TypeError if it is not one)."""
        fields = json.loads(raw)
        return cls(
            id=UUID(fields["id"]),
            storage_uri=str(fields["storage_uri"]),
            content_sha256=str(fields["content_sha256"]),
            timeframe=None if fields["timeframe"] is None else str(fields["timeframe"]),
        )


class ReadyDatasetCache:
    """Ready datasets by owner and id, in Redis.

    Parameters
    ----------
    redis
        The shared Redis (its client carries the timeouts).
    prefix
        Key prefix of this deployment (or test stack).
    ttl_s
        How long an owner's entries live after the last one was stored.
    stats
        Hits and misses.
    """

    def __init__(self, redis: Redis, prefix: str, ttl_s: int, stats: CacheStats) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._stats = stats

    def _key(self, owner_id: UUID) -> str:
        return f"{self._prefix}:ready-datasets:{owner_id}"

    async def get(self, owner_id: UUID, dataset_id: UUID) -> ReadyDataset | None:
        """The owner's ready dataset, or None (not cached, or Redis did not answer)."""
        try:
            raw = await self._redis.hget(self._key(owner_id), str(dataset_id))
        except (RedisError, OSError) as exc:
            log.warning("dataset cache unavailable", error=str(exc))
            raw = None
        found = None
        if raw is not None:
            try:
                found = ReadyDataset.from_json(raw)
            except (ValueError, KeyError, TypeError):
                log.warning("dropping an unreadable dataset cache entry")
        if found is None or found.id != dataset_id:
            self._stats.miss()
            return None
        self._stats.hit()
        return found

    async def put(self, owner_id: UUID, dataset: ReadyDataset) -> None:
        """Keep ``dataset`` (only ever a ready one) for ``ttl_s``."""
        key = self._key(owner_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, str(dataset.id), dataset.to_json())
                pipe.expire(key, self._ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("dataset cache unavailable", error=str(exc))

    async def forget(self, owner_id: UUID, dataset_id: UUID) -> None:
        """Drop one dataset (deleted)."""
        try:
            await self._redis.hdel(self._key(owner_id), str(dataset_id))
        except (RedisError, OSError) as exc:
            log.warning("dataset cache unavailable", error=str(exc))

    async def forget_owner(self, owner_id: UUID) -> None:
        """Drop every dataset of an owner (account deleted)."""
        try:
            await self._redis.delete(self._key(owner_id))
        except (RedisError, OSError) as exc:
            log.warning("dataset cache unavailable", error=str(exc))

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()
