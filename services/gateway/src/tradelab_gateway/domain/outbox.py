"""One WebSocket connection's outbox: a slow reader gets the latest progress, never every one,
and never holds anyone else up; final events are never dropped, and a reader that falls too far
behind overflows the outbox (its socket is then closed) instead of growing it without bound."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 1000


@dataclass
class _Entry:
    payload: dict[str, Any]
    key: Hashable | None


@dataclass
class Outbox:
    """Messages waiting to be sent, in order, at most ``limit`` of them.

    A message put with a ``key`` replaces the unsent message of the same key in place (the
    latest progress of a job, the latest ping); a message without one is always queued. Putting a
    new entry into a full outbox overflows it: everything unsent is dropped, later puts are
    ignored, and :meth:`wait_overflowed` returns (the socket is to be closed).
    """

    limit: int = DEFAULT_LIMIT
    _entries: deque[_Entry] = field(default_factory=deque)
    _latest: dict[Hashable, _Entry] = field(default_factory=dict)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    replaced: int = 0
    """How many messages were superseded before being sent."""

    @property
    def overflowed(self) -> bool:
        """Whether the reader fell too far behind (the outbox then stays empty)."""
        return self._overflowed.is_set()

    def put(self, payload: dict[str, Any], key: Hashable | None = None) -> None:
        """Queue ``payload``; with a ``key``, replace the unsent message of that key instead."""
        if self.overflowed:
            return
        if key is not None:
            waiting = self._latest.get(key)
            if waiting is not None:
                waiting.payload = payload
                self.replaced += 1
                return
        if len(self._entries) >= self.limit:
            self.overflow()
            return
        entry = _Entry(payload, key)
        self._entries.append(entry)
        if key is not None:
            self._latest[key] = entry
        self._ready.set()

    def overflow(self) -> None:
        """Drop everything unsent and refuse more: the reader is too far behind."""
        self._entries.clear()
        self._latest.clear()
        self._overflowed.set()

    def __len__(self) -> int:
        return len(self._entries)

    def pop(self) -> dict[str, Any] | None:
        """Take the oldest message, or None when empty."""
        if not self._entries:
            self._ready.clear()
            return None
        entry = self._entries.popleft()
        if entry.key is not None and self._latest.get(entry.key) is entry:
            del self._latest[entry.key]
        if not self._entries:
            self._ready.clear()
        return entry.payload

    async def get(self) -> dict[str, Any]:
        """Wait for and take the oldest message."""
        while True:
            payload = self.pop()
            if payload is not None:
                return payload
            await self._ready.wait()

    async def wait_overflowed(self) -> None:
        """Return once the outbox has overflowed."""
        await self._overflowed.wait()
