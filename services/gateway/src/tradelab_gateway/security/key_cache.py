"""The auth service's public keys, cached for at most ``ttl_s``.

A key set older than ``ttl_s`` is fetched again before the next token is verified, and the new
set replaces the old one: a key removed from ``AUTH_SIGNING_KEYS`` stops verifying within
``ttl_s`` of auth publishing the smaller set. A token naming an unknown ``kid`` (a key added by
rotation) also triggers a fetch, at most once per ``min_refresh_s`` so forged ``kid`` values
cannot flood auth. While auth does not answer, the last set is kept (there is no newer one to
apply) and a fetch is tried again every ``min_refresh_s``; with no set at all the lookup fails.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tradelab_runtime.logging import get_logger
from tradelab_runtime.metrics import CacheStats, ServiceMetrics

KeyFetcher = Callable[[], Awaitable[list[dict[str, Any]]]]
log = get_logger(__name__)
JWKS_CACHE = "jwks"
"""The ``cache`` label of this cache in ``tradelab_cache_requests_total``: a lookup is a hit
when it was answered without asking auth for the keys."""


class KeyCache:
    """Public JWKs by key id, refreshed when older than ``ttl_s``."""

    def __init__(
        self,
        fetch: KeyFetcher,
        ttl_s: float = 30.0,
        min_refresh_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        stats: CacheStats | None = None,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()
        self._stats = stats or ServiceMetrics().cache(JWKS_CACHE)

    @property
    def keys(self) -> list[dict[str, Any]]:
        """The keys known now."""
        return list(self._keys.values())

    async def refresh(self) -> None:
        """Fetch the key set again (replacing it: retired keys disappear)."""
        self._attempted_at = self._clock()
        keys = await self._fetch()
        self._keys = {k["kid"]: k for k in keys}
        self._fetched_at = self._clock()

    async def current(self) -> list[dict[str, Any]]:
        """Return the key set, fetched again first when older than ``ttl_s``."""
        attempted = self._attempted_at
        await self._refresh_if_stale()
        self._count(attempted)
        return self.keys

    async def get(self, kid: str) -> dict[str, Any] | None:
        """Return the key ``kid``: from a set no older than ``ttl_s``, refreshing once more if
        ``kid`` is unknown and the set was not fetched within ``min_refresh_s``."""
        attempted = self._attempted_at
        try:
            await self._refresh_if_stale()
            if kid in self._keys:
                return self._keys[kid]
            async with self._lock:
                if kid not in self._keys and self._since(self._attempted_at) >= self._min_refresh_s:
                    await self.refresh()
            return self._keys.get(kid)
        finally:
            self._count(attempted)

    def _count(self, attempted_before: float | None) -> None:
        """A hit unless this lookup (or one it waited on) asked auth for the keys."""
        if self._attempted_at == attempted_before:
            self._stats.hit()
        else:
            self._stats.miss()

    def _since(self, moment: float | None) -> float:
        return float("inf") if moment is None else self._clock() - moment

    def _stale(self) -> bool:
        return self._since(self._fetched_at) > self._ttl_s

    async def _refresh_if_stale(self) -> None:
        if not self._stale():
            return
        async with self._lock:
            if not self._stale():  # another request refreshed it while this one waited
                return
            if self._keys and self._since(self._failed_at) < self._min_refresh_s:
                return  # auth failed to answer a moment ago: keep the last set for now
            try:
                await self.refresh()
            except Exception as exc:
                self._failed_at = self._clock()
                if not self._keys:
                    raise
                log.warning("public keys not refreshed; keeping the last set", error=str(exc))
            else:
                self._failed_at = None
