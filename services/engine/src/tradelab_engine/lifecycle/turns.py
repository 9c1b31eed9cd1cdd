"""A replica's job slot, shared by its job consumer and the submissions it accepts.

A job is queued in PostgreSQL and its message goes out through the outbox; whichever replica's
consumer gets the message takes a turn (claims the next run in the fair order). When the replica
that accepted a submission has its slot free, waiting for the message is pure latency (the outbox
relay, the broker, the consumer's fetch: ~30 ms of a 60 ms budget), so it takes a turn at once
instead (`LocalTurns.offer`). Nothing else changes: the claim is the same atomic, fair one, so the
message's own turn later finds the run taken and ends; a replica that dies mid-run leaves a lease
that expires and the sweeper queues the run again, as for any turn.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from tradelab_runtime.logging import get_logger

log = get_logger(__name__)
J = TypeVar("J")


class LocalTurns(Generic[J]):
    """Turns of one job kind in this replica, one at a time.

    Parameters
    ----------
    turn
        Takes one turn for a job message (claims, runs and finishes the next run in the fair
        order), raising on a transient failure.
    on_taken
        Called with ``"direct"`` or ``"message"`` when a turn starts (metrics).
    """

    def __init__(
        self,
        turn: Callable[[J], Awaitable[None]],
        on_taken: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._turn = turn
        self._on_taken = on_taken
        self._slot = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def take(self, job: J) -> None:
        """The consumer's turn for ``job``'s message: waits for the slot; raises what the turn
        raises (the consumer's failure policy retries it)."""
        async with self._slot:
            self._on_taken("message")
            await self._turn(job)

    def offer(self, job: J) -> bool:
        """Take a turn now, in the background, if the slot is free; return whether one started.

        A busy slot means the job waits for its message like any other. A failed direct turn is
        only logged: the job's message is still on its way, and its turn retries under the
        consumer's failure policy.
        """
        if self._stopping or self._slot.locked():
            return False
        task = asyncio.create_task(self._direct(job), name="direct-turn")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _direct(self, job: J) -> None:
        if self._slot.locked():  # the consumer took it between the offer and this task's start
            return
        async with self._slot:
            self._on_taken("direct")
            try:
                await self._turn(job)
            except Exception as exc:
                log.warning("direct turn failed; the job's message retries it", error=str(exc))

    async def stop(self, timeout_s: float) -> None:
        """Offer no more turns and wait up to ``timeout_s`` for those running, then cancel them
        (a cancelled run's lease expires and the sweeper queues it again)."""
        self._stopping = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
