"""A replica's job slot, shared by its job consumer and the submissions it accepts.

A job is queued in PostgreSQL and its message goes out through the outbox; whichever replica's
consumer gets the message takes a turn (claims the next run in the fair order). When the replica
that accepted a submission has its slot free, waiting for the message is pure latency (the outbox
relay, the broker, the consumer's fetch), and so is a claim transaction of its own: it holds the
slot (`LocalTurns.hold`), claims the next run in the fair order in the submission's own
transaction, and runs it at once (`DirectTurn.start`). Nothing else changes: the claim is the same
atomic, fair one; a run claimed by its own submission has no job message, and a replica that
dies mid-run leaves a lease that expires and the sweeper queues the run again with one, as for
any turn.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from tradelab_runtime.logging import get_logger

log = get_logger(__name__)
J = TypeVar("J")
Turn = Callable[[], Awaitable[None]]
"""A turn whose run is already claimed."""


class Slot:
    """One turn at a time: held at once when free (`try_hold`), or waited for (`hold`)."""

    def __init__(self) -> None:
        self._held = False
        self._free = asyncio.Event()
        self._free.set()

    def try_hold(self) -> bool:
        """Hold the slot if it is free, without waiting; whether it is now held by the caller."""
        if self._held:
            return False
        self._held = True
        self._free.clear()
        return True

    async def hold(self) -> None:
        """Wait until the slot is free and hold it."""
        while not self.try_hold():
            await self._free.wait()

    def release(self) -> None:
        """Free the slot (its holder is done)."""
        self._held = False
        self._free.set()


class DirectTurn:
    """The slot, held for a turn the submission claims itself: `start` it or `give_back`."""

    def __init__(self, slot: Slot, started: Callable[[Turn], None]) -> None:
        self._slot = slot
        self._started = started
        self._done = False

    def start(self, turn: Turn) -> None:
        """Run ``turn`` (the claimed run) in the background; the slot is freed when it ends. A
        failure is only logged: the turn released the run with its message, and the next turn
        retries it."""
        self._finish()
        self._started(turn)

    def give_back(self) -> None:
        """Free the slot unused (the submission claimed nothing, or failed)."""
        self._finish()
        self._slot.release()

    def _finish(self) -> None:
        if self._done:
            msg = "a direct turn is started or given back once"
            raise RuntimeError(msg)
        self._done = True


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
        self._slot = Slot()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def take(self, job: J) -> None:
        """The consumer's turn for ``job``'s message: waits for the slot; raises what the turn
        raises (the consumer's failure policy retries it)."""
        await self._slot.hold()
        try:
            self._on_taken("message")
            await self._turn(job)
        finally:
            self._slot.release()

    def hold(self) -> DirectTurn | None:
        """Hold the slot now, if it is free, for a turn the caller claims itself; None when it is
        busy (the job then waits for its message like any other) or the replica is stopping."""
        if self._stopping or not self._slot.try_hold():
            return None
        return DirectTurn(self._slot, self._start)

    def _start(self, turn: Turn) -> None:
        task = asyncio.create_task(self._direct(turn), name="direct-turn")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _direct(self, turn: Turn) -> None:
        try:
            self._on_taken("direct")
            await turn()
        except Exception as exc:
            log.warning("direct turn failed; the run is released for the next turn", error=str(exc))
        finally:
            self._slot.release()

    async def stop(self, timeout_s: float) -> None:
        """Hold no more slots for direct turns and wait up to ``timeout_s`` for those running,
        then cancel them (a cancelled run's lease expires and the sweeper queues it again)."""
        self._stopping = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
