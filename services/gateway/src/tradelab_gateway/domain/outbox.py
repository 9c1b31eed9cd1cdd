"""One WebSocket connection's outbox: a slow reader gets the latest progress, never every one,
and never holds anyone else up; final events and control messages are never dropped."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass
class _Entry:
    payload: dict[str, Any]
    progress_of: UUID | None


@dataclass
class Outbox:
    """Messages waiting to be sent, in order; unsent progress of a job is replaced in place."""

    _entries: deque[_Entry] = field(default_factory=deque)
    _progress: dict[UUID, _Entry] = field(default_factory=dict)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    replaced: int = 0
    """How many progress messages were superseded before being sent."""

    def put(self, payload: dict[str, Any], progress_of: UUID | None = None) -> None:
        """Queue ``payload``; a progress message (``progress_of`` = its job) replaces that job's
        unsent one instead of queueing behind it."""
        if progress_of is not None:
            waiting = self._progress.get(progress_of)
            if waiting is not None:
                waiting.payload = payload
                self.replaced += 1
                return
        entry = _Entry(payload, progress_of)
        self._entries.append(entry)
        if progress_of is not None:
            self._progress[progress_of] = entry
        self._ready.set()

    def __len__(self) -> int:
        return len(self._entries)

    def pop(self) -> dict[str, Any] | None:
        """Take the oldest message, or None when empty."""
        if not self._entries:
            self._ready.clear()
            return None
        entry = self._entries.popleft()
        if entry.progress_of is not None and self._progress.get(entry.progress_of) is entry:
            del self._progress[entry.progress_of]
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
