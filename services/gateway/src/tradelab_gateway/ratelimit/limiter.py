"""Counting requests against the limits in a store every gateway replica shares (Redis).

The moving-window strategy of `limits` keeps one timestamp per counted request, so a limit of
5/minute never lets 10 through across a window boundary.
"""

import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager

from limits import RateLimitItem
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from .policy import LimitName, Rule


class RateLimitedError(Exception):
    """A limit was reached; ``retry_after_s`` is when its oldest counted request leaves."""

    def __init__(self, limit: LimitName, retry_after_s: int) -> None:
        super().__init__(f"{limit} reached; retry in {retry_after_s} s")
        self.limit = limit
        self.retry_after_s = retry_after_s


class RateLimitUnavailableError(Exception):
    """The shared store did not answer, so no limit can be checked."""


def redis_storage(url: str, prefix: str, timeout_s: float) -> tuple[RedisStorage, ConnectionPool]:
    """A `limits` storage on Redis at ``url`` (``redis://host:port/db``), keys under ``prefix``.

    The connection pool is made here so that it can be closed on shutdown; every operation
    waits ``timeout_s`` at most, so an unreachable Redis turns into a prompt 503.
    """
    pool = ConnectionPool.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    storage = RedisStorage(
        url.replace("redis://", "async+redis://", 1),
        implementation="redispy",
        key_prefix=prefix,
        wrap_exceptions=True,
        connection_pool=pool,  # type: ignore[arg-type]  # limits passes it on to redis-py
    )
    return storage, pool


@contextmanager
def _store_answers() -> Iterator[None]:
    """Turn the store's failure into `RateLimitUnavailableError` (answered 503)."""
    try:
        yield
    except StorageError as exc:
        raise RateLimitUnavailableError(str(exc)) from exc


class RateLimiter:
    """Checks and counts requests against named rules.

    Parameters
    ----------
    storage
        Where the counts live; every replica must use the same one.
    rules
        Each limit's rates.
    clock
        Seconds since the epoch (to turn a window's reset time into ``Retry-After``).
    close
        Releases the storage's connections (`aclose`).
    """

    def __init__(
        self,
        storage: Storage,
        rules: Mapping[LimitName, Rule],
        clock: Callable[[], float] = time.time,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._rules = dict(rules)
        self._clock = clock
        self._close = close

    async def aclose(self) -> None:
        """Release the storage's connections."""
        if self._close is not None:
            await self._close()

    async def hit(self, name: LimitName, *ids: str) -> None:
        """Count one request; raise `RateLimitedError` when a rate of ``name`` is exhausted."""
        await self._refuse_if_any(self._strategy.hit, name, ids)

    async def check(self, name: LimitName, *ids: str) -> None:
        """Raise `RateLimitedError` when ``name`` is exhausted, without counting anything."""
        await self._refuse_if_any(self._strategy.test, name, ids)

    async def count(self, name: LimitName, *ids: str) -> None:
        """Count one event (a failed login) without refusing anything now."""
        for rate in self._rules[name].rates:
            with _store_answers():
                await self._strategy.hit(rate, name.value, *ids)

    async def clear(self, name: LimitName, *ids: str) -> None:
        """Forget what was counted for ``ids`` under ``name``."""
        for rate in self._rules[name].rates:
            with _store_answers():
                await self._strategy.clear(rate, name.value, *ids)

    async def _refuse_if_any(
        self, ask: Callable[..., Awaitable[bool]], name: LimitName, ids: tuple[str, ...]
    ) -> None:
        """Ask each rate of ``name`` in turn (``hit`` or ``test``); refuse at the first full one."""
        for rate in self._rules[name].rates:
            with _store_answers():
                allowed = await ask(rate, name.value, *ids)
            if not allowed:
                raise await self._refusal(name, rate, ids)

    async def _refusal(
        self, name: LimitName, rate: RateLimitItem, ids: tuple[str, ...]
    ) -> RateLimitedError:
        with _store_answers():
            stats = await self._strategy.get_window_stats(rate, name.value, *ids)
        wait = math.ceil(stats.reset_time - self._clock())
        return RateLimitedError(name, max(1, wait))
