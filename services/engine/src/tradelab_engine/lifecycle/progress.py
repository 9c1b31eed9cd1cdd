"""What a running job reports while it runs, and how it fails for a reason the user can read."""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from tradelab_contracts.engine import FailureReason
from tradelab_runtime.logging import get_logger

log = get_logger(__name__)
PROGRESS_MIN_STEP = 0.05
PROGRESS_MIN_INTERVAL_S = 0.5


@dataclass
class ProgressThrottle:
    """Report at most every 5 % and every 500 ms, whichever is rarer."""

    last_fraction: float = 0.0
    last_time: float = 0.0

    def due(self, fraction: float, now: float) -> bool:
        """Return whether a report is due now (and record it if so)."""
        if fraction - self.last_fraction < PROGRESS_MIN_STEP:
            return False
        if now - self.last_time < PROGRESS_MIN_INTERVAL_S:
            return False
        self.last_fraction, self.last_time = fraction, now
        return True


class JobFailedError(Exception):
    """A job failed for a reason the user can act on."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ProgressReporter:
    """Hands progress from the simulation thread to the event loop, one report at a time and in
    order (each takes the job's next sequence number), and lets the job wait for them all before
    its final event, which must come last.

    ``send(done, total)`` records the progress of the attempt and publishes its event (or does
    nothing when the attempt no longer owns the job).
    """

    send: Callable[[int, int], Awaitable[None]]
    loop: asyncio.AbstractEventLoop
    job_id: str
    pending: list["Future[None]"] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def report(self, done: int, total: int) -> None:
        """Called from the simulation thread."""
        self.pending.append(asyncio.run_coroutine_threadsafe(self._send(done, total), self.loop))

    async def _send(self, done: int, total: int) -> None:
        async with self.lock:
            await self.send(done, total)

    async def drain(self) -> None:
        """Wait for every report handed over so far."""
        for future in self.pending:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # a lost progress report must not fail the job
                log.exception("progress report failed", job_id=self.job_id)
        self.pending.clear()
