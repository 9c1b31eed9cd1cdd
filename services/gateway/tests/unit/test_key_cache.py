"""Public keys are fetched on demand and refreshed when an unknown key id appears."""

from typing import Any

import pytest

from tradelab_gateway.security.key_cache import JWKS_CACHE, KeyCache
from tradelab_runtime.metrics import MetricName, ServiceMetrics


class FakeAuth:
    def __init__(self, *kids: str) -> None:
        self.kids = list(kids)
        self.calls = 0

    async def fetch(self) -> list[dict[str, Any]]:
        self.calls += 1
        return [{"kid": kid, "kty": "OKP"} for kid in self.kids]


@pytest.mark.asyncio
async def test_first_lookup_fetches_and_later_ones_use_the_cache() -> None:
    auth = FakeAuth("k1")
    cache = KeyCache(auth.fetch, min_refresh_s=0)
    assert (await cache.get("k1")) == {"kid": "k1", "kty": "OKP"}
    assert (await cache.get("k1")) is not None
    assert auth.calls == 1


@pytest.mark.asyncio
async def test_rotated_key_is_picked_up_when_a_token_names_it() -> None:
    auth = FakeAuth("k1")
    cache = KeyCache(auth.fetch, min_refresh_s=0)
    await cache.get("k1")
    auth.kids = ["k2", "k1"]
    assert (await cache.get("k2")) is not None
    assert auth.calls == 2


@pytest.mark.asyncio
async def test_unknown_key_ids_cannot_make_it_refetch_more_than_once_per_period() -> None:
    auth = FakeAuth("k1")
    cache = KeyCache(auth.fetch, min_refresh_s=3600)
    await cache.get("k1")
    for forged in ("x", "y", "z"):
        assert (await cache.get(forged)) is None
    assert auth.calls == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class DownAuth(FakeAuth):
    def __init__(self, *kids: str) -> None:
        super().__init__(*kids)
        self.down = False

    async def fetch(self) -> list[dict[str, Any]]:
        if self.down:
            self.calls += 1
            raise TimeoutError("auth is not answering")
        return await super().fetch()


@pytest.mark.asyncio
async def test_a_key_removed_at_auth_stops_verifying_once_the_set_is_older_than_the_ttl() -> None:
    auth, clock = FakeAuth("k2", "k1"), FakeClock()
    cache = KeyCache(auth.fetch, ttl_s=30, min_refresh_s=3600, clock=clock)
    assert await cache.get("k1") is not None
    auth.kids = ["k2"]  # k1 removed from AUTH_SIGNING_KEYS
    clock.now += 30
    assert await cache.get("k1") is not None  # not yet older than the TTL
    clock.now += 0.5
    assert await cache.get("k1") is None
    assert await cache.get("k2") is not None
    assert auth.calls == 2


@pytest.mark.asyncio
async def test_with_auth_down_the_last_set_is_kept_and_retried_at_most_every_period() -> None:
    auth, clock = DownAuth("k1"), FakeClock()
    cache = KeyCache(auth.fetch, ttl_s=30, min_refresh_s=10, clock=clock)
    await cache.get("k1")
    auth.down = True
    clock.now += 31
    assert await cache.get("k1") is not None
    assert await cache.get("k1") is not None
    assert auth.calls == 2  # one failed attempt, not one per request
    clock.now += 10
    auth.down, auth.kids = False, ["k2"]
    assert await cache.get("k1") is None
    assert auth.calls == 3


@pytest.mark.asyncio
async def test_with_auth_down_and_no_keys_yet_the_lookup_fails() -> None:
    auth = DownAuth("k1")
    auth.down = True
    cache = KeyCache(auth.fetch, ttl_s=30, clock=FakeClock())
    with pytest.raises(TimeoutError):
        await cache.get("k1")


@pytest.mark.asyncio
async def test_lookups_that_ask_auth_count_as_misses_and_the_rest_as_hits() -> None:
    metrics = ServiceMetrics()
    auth = FakeAuth("k1")
    cache = KeyCache(auth.fetch, min_refresh_s=0, stats=metrics.cache(JWKS_CACHE))
    await cache.get("k1")  # fetched: a miss
    await cache.get("k1")  # from the cache
    await cache.current()  # from the cache
    await cache.get("k2")  # unknown kid: fetched again, still unknown
    counts = {
        result: metrics.registry.get_sample_value(
            MetricName.CACHE_REQUESTS, {"cache": "jwks", "result": result}
        )
        for result in ("hit", "miss")
    }
    assert counts == {"hit": 2.0, "miss": 2.0}
    assert auth.calls == 2
