"""Figures of the gateway's Redis from ``INFO``."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError


@dataclass(frozen=True)
class RedisStats:
    """What the performance report shows of Redis (see ``RedisPublic`` for each field)."""

    version: str
    used_memory_bytes: int
    max_memory_bytes: int
    keys: int
    hits: int
    misses: int
    hit_ratio: float | None
    evicted_keys: int
    expired_keys: int
    connected_clients: int


class RedisUnavailableError(Exception):
    """Redis did not answer ``INFO``."""


def hit_ratio(hits: int, misses: int) -> float | None:
    """``hits / (hits + misses)``, or None before any look-up."""
    total = hits + misses
    return None if total == 0 else hits / total


def redis_stats(info: Mapping[str, Any]) -> RedisStats:
    """Read the figures out of a parsed ``INFO`` answer (redis-py's dict)."""
    keys = sum(
        int(value.get("keys", 0))
        for name, value in info.items()
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, Mapping)
    )
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    return RedisStats(
        version=str(info.get("redis_version", "unknown")),
        used_memory_bytes=int(info.get("used_memory", 0)),
        max_memory_bytes=int(info.get("maxmemory", 0)),
        keys=keys,
        hits=hits,
        misses=misses,
        hit_ratio=hit_ratio(hits, misses),
        evicted_keys=int(info.get("evicted_keys", 0)),
        expired_keys=int(info.get("expired_keys", 0)),
        connected_clients=int(info.get("connected_clients", 0)),
    )


async def read_redis_stats(url: str, timeout_s: float) -> RedisStats:
    """Ask the Redis at ``url`` for ``INFO`` (a connection of its own, closed after)."""
    client = Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        info = await client.info("everything")
    except (RedisError, OSError) as exc:
        raise RedisUnavailableError(str(exc)) from exc
    finally:
        await client.aclose()
    return redis_stats(info)
