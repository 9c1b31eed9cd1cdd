"""The replica's job slot as pure asyncio logic: direct turns only on a free slot, never two turns
at once, failures left to the message, stop waits then cancels."""

import asyncio
import gc
from collections.abc import Awaitable, Callable

import pytest

from tradelab_engine.lifecycle.turns import LocalTurns


class Recorder:
    """A turn that records its jobs and how many ran at once; ``gate`` holds it until set."""

    def __init__(self, fail: bool = False) -> None:
        self.jobs: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = fail

    async def __call__(self, job: str) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate.wait()
            if self.fail:
                msg = "database away"
                raise ConnectionError(msg)
            self.jobs.append(job)
        finally:
            self.running -= 1

    def claimed(self, job: str) -> Callable[[], Awaitable[None]]:
        """The direct turn of a run claimed elsewhere (by the submission's transaction)."""
        return lambda: self(job)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def direct(turns: LocalTurns[str], turn: Recorder, job: str) -> bool:
    """Submit ``job`` as the engine does: hold the slot if free, claim, start."""
    held = turns.hold()
    if held is None:
        return False
    held.start(turn.claimed(job))
    return True


@pytest.mark.asyncio
async def test_a_free_slot_runs_the_claimed_job_at_once_and_counts_it_direct() -> None:
    turn, paths = Recorder(), list[str]()
    turns = LocalTurns(turn, on_taken=paths.append)
    assert direct(turns, turn, "a")
    await settle()
    assert turn.jobs == ["a"]
    assert paths == ["direct"]


@pytest.mark.asyncio
async def test_a_busy_slot_is_not_held_and_the_message_waits_its_turn() -> None:
    turn, paths = Recorder(), list[str]()
    turn.gate.clear()
    turns = LocalTurns(turn, on_taken=paths.append)
    assert direct(turns, turn, "a")
    await settle()
    assert turns.hold() is None  # the slot is held by "a": "b" waits for its message
    consumer = asyncio.create_task(turns.take("b"))
    await settle()
    assert turn.jobs == []
    assert turn.running == 1
    turn.gate.set()
    await consumer
    assert turn.jobs == ["a", "b"]
    assert turn.most_at_once == 1
    assert paths == ["direct", "message"]


@pytest.mark.asyncio
async def test_a_slot_held_while_the_consumer_waits_never_runs_beside_it() -> None:
    turn = Recorder()
    turn.gate.clear()
    turns = LocalTurns(turn)
    first = asyncio.create_task(turns.take("a"))
    await settle()
    assert turns.hold() is None
    turn.gate.set()
    await first
    assert direct(turns, turn, "c")
    second = asyncio.create_task(turns.take("d"))  # waits for "c" to end
    await settle()
    await second
    assert sorted(turn.jobs) == ["a", "c", "d"]
    assert turn.most_at_once == 1


@pytest.mark.asyncio
async def test_a_slot_given_back_unused_is_free_again_and_a_turn_ends_once() -> None:
    turn = Recorder()
    turns = LocalTurns(turn)
    held = turns.hold()
    assert held is not None
    assert turns.hold() is None
    waiting = asyncio.create_task(turns.take("a"))
    await settle()
    assert turn.jobs == []  # the consumer waits while the submission holds the slot
    held.give_back()
    await waiting
    assert turn.jobs == ["a"]
    with pytest.raises(RuntimeError):
        held.give_back()


@pytest.mark.asyncio
async def test_a_failed_direct_turn_is_swallowed_and_a_consumer_turn_raises() -> None:
    unhandled: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    turn = Recorder(fail=True)
    turns = LocalTurns(turn)
    try:
        assert direct(turns, turn, "a")
        await settle()  # logged, not raised: the job's message retries it
        assert direct(turns, turn, "b")  # the slot is free again
        await settle()
        gc.collect()  # a task whose exception nobody retrieved reports it when collected
    finally:
        loop.set_exception_handler(None)
    assert unhandled == []
    with pytest.raises(ConnectionError):
        await turns.take("c")


@pytest.mark.asyncio
async def test_stop_waits_for_a_short_turn_and_cancels_a_long_one_then_holds_nothing() -> None:
    turn = Recorder()
    turns = LocalTurns(turn)
    turn.gate.clear()
    assert direct(turns, turn, "long")
    await settle()
    await turns.stop(timeout_s=0.05)
    assert turn.jobs == []
    assert turn.running == 0  # cancelled: its lease expires and the sweeper queues it again
    turn.gate.set()
    assert turns.hold() is None

    quick = Recorder()
    short = LocalTurns(quick)
    quick.gate.clear()
    assert direct(short, quick, "short")
    await settle()
    asyncio.get_running_loop().call_later(0.01, quick.gate.set)
    await short.stop(timeout_s=5)
    assert quick.jobs == ["short"]
