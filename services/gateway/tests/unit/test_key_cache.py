"""Public keys are fetched on demand and refreshed when an unknown key id appears."""

from typing import Any

import pytest

from tradelab_gateway.security.key_cache import KeyCache


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
