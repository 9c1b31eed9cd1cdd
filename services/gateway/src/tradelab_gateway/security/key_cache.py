"""The auth service's public keys, fetched on demand and refreshed when an unknown ``kid`` shows
up (key rotation), at most once per ``min_refresh_s`` so forged ``kid`` values cannot flood auth."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

KeyFetcher = Callable[[], Awaitable[list[dict[str, Any]]]]


class KeyCache:
    """Public JWKs by key id."""

    def __init__(self, fetch: KeyFetcher, min_refresh_s: float = 10.0) -> None:
        self._fetch = fetch
        self._min_refresh_s = min_refresh_s
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def keys(self) -> list[dict[str, Any]]:
        """The keys known now."""
        return list(self._keys.values())

    async def refresh(self) -> None:
        """Fetch the key set again (replacing it: retired keys disappear)."""
        keys = await self._fetch()
        self._keys = {k["kid"]: k for k in keys}
        self._fetched_at = time.monotonic()

    async def ensure_fresh(self, max_age_s: float) -> None:
        """Refresh when the set is older than ``max_age_s`` (for serving the JWKS itself)."""
        if self._fetched_at is None or time.monotonic() - self._fetched_at > max_age_s:
            async with self._lock:
                await self.refresh()

    async def get(self, kid: str) -> dict[str, Any] | None:
        """Return the key ``kid``, refreshing once if it is unknown and the set is not fresh."""
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and self._may_refresh():
                await self.refresh()
        return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        return (
            self._fetched_at is None or time.monotonic() - self._fetched_at >= self._min_refresh_s
        )
