"""The WebSocket's bounds, without I/O: a bounded outbox that coalesces what it can and overflows
on a reader that falls too far behind, the per-user connection cap, and client messages read
with a size limit and answered without echoing them."""

import asyncio
import json
from uuid import UUID, uuid4

import pytest

from tradelab_contracts.engine import BacktestCancelled, BacktestProgress
from tradelab_gateway.domain.client_messages import (
    INVALID_MESSAGE,
    UNKNOWN_MESSAGE,
    ClientMessageKind,
    read_client_message,
)
from tradelab_gateway.domain.hub import EventHub, TooManyConnectionsError
from tradelab_gateway.domain.job_events import JobEvent, job_event
from tradelab_gateway.domain.outbox import Outbox

OWNER, OTHER = uuid4(), uuid4()
LIMIT = 4096


def progress(run_id: UUID, sequence: int) -> JobEvent:
    return job_event(
        BacktestProgress(
            run_id=run_id,
            owner_id=OWNER,
            progress=0.5,
            bars_done=sequence,
            bars_total=1000,
            sequence=sequence,
        )
    )


def cancelled(run_id: UUID, sequence: int) -> JobEvent:
    return job_event(BacktestCancelled(run_id=run_id, owner_id=OWNER, sequence=sequence))


def test_outbox_full_of_messages_that_cannot_coalesce_overflows_and_stays_empty() -> None:
    box = Outbox(limit=3)
    for n in range(3):
        box.put({"n": n})
    assert len(box) == 3
    box.put({"n": 3})  # a fourth that replaces nothing: the reader is too far behind
    assert box.overflowed
    assert len(box) == 0
    box.put({"n": 4})
    box.put({"n": 5}, key="ping")
    assert len(box) == 0
    assert box.pop() is None


def test_outbox_overflow_wakes_the_watcher() -> None:
    async def scenario() -> bool:
        box = Outbox(limit=1)
        watcher = asyncio.create_task(box.wait_overflowed())
        box.put({"n": 1})
        await asyncio.sleep(0)
        assert not watcher.done()
        box.put({"n": 2})
        await asyncio.wait_for(watcher, 1)
        return box.overflowed

    assert asyncio.run(scenario())


def test_coalesced_messages_never_fill_the_outbox() -> None:
    box = Outbox(limit=3)
    run = uuid4()
    for n in range(10_000):
        box.put({"type": "progress", "n": n}, key=("progress", run))
        box.put({"type": "error", "n": n}, key="error")
        box.put({"type": "ping", "n": n}, key="ping")
    assert not box.overflowed
    assert [box.pop(), box.pop(), box.pop()] == [
        {"type": "progress", "n": 9999},
        {"type": "error", "n": 9999},
        {"type": "ping", "n": 9999},
    ]
    assert box.replaced == 3 * 9_999


def test_a_slow_reader_of_live_events_overflows_on_finals_not_on_progress() -> None:
    hub = EventHub(outbox_limit=2)
    subscription = hub.subscribe(OWNER)
    subscription.start({})
    run = uuid4()
    for sequence in range(1, 500):
        hub.dispatch(progress(run, sequence))
    assert len(subscription.outbox) == 1
    hub.dispatch(cancelled(uuid4(), 1))
    assert not subscription.outbox.overflowed
    hub.dispatch(cancelled(uuid4(), 1))  # a third message that replaces nothing
    assert subscription.outbox.overflowed


def test_held_progress_is_coalesced_and_too_many_held_events_overflow() -> None:
    hub = EventHub(outbox_limit=2)
    coalesced = hub.subscribe(OWNER)
    run = uuid4()
    for sequence in range(1, 200):
        hub.dispatch(progress(run, sequence))
    hub.dispatch(progress(run, 50))  # late and older: does not replace the newer one
    coalesced.start({})
    sent = coalesced.outbox.pop()
    assert sent is not None
    assert sent["sequence"] == 199
    assert coalesced.outbox.pop() is None

    flooded = hub.subscribe(OWNER)
    for _ in range(3):
        hub.dispatch(progress(uuid4(), 1))
    assert flooded.outbox.overflowed
    flooded.start({})
    assert len(flooded.outbox) == 0


def test_a_user_holds_at_most_the_cap_of_connections_per_replica() -> None:
    hub = EventHub(max_per_owner=2)
    first = hub.subscribe(OWNER)
    hub.subscribe(OWNER, uuid4())  # one-job sockets count too
    with pytest.raises(TooManyConnectionsError):
        hub.subscribe(OWNER)
    hub.subscribe(OTHER)  # another user is not affected
    hub.unsubscribe(first)
    hub.subscribe(OWNER)  # a closed socket frees its place
    assert hub.connections == 3


def test_messages_over_the_limit_are_too_big_whatever_their_content() -> None:
    assert read_client_message("x" * (LIMIT + 1), LIMIT).kind is ClientMessageKind.TOO_BIG
    assert read_client_message(b"x" * (LIMIT + 1), LIMIT).kind is ClientMessageKind.TOO_BIG
    # 2,048 characters of 2 bytes each: within the limit in characters, over it in bytes.
    wide = json.dumps({"type": "ping", "pad": "é" * 2048}, ensure_ascii=False)
    assert read_client_message(wide, LIMIT).kind is ClientMessageKind.TOO_BIG
    assert read_client_message('{"type": "ping"}', LIMIT).kind is ClientMessageKind.PING


def test_client_messages_are_classified_by_type() -> None:
    def kind(data: str | bytes | None) -> ClientMessageKind:
        return read_client_message(data, LIMIT).kind

    assert kind('{"type": "pong"}') is ClientMessageKind.PONG
    assert kind('{"type": "subscribe"}') is ClientMessageKind.UNKNOWN
    assert kind("{}") is ClientMessageKind.UNKNOWN
    assert kind("not json") is ClientMessageKind.INVALID
    assert kind("[1, 2]") is ClientMessageKind.INVALID
    assert kind(b'{"type": "ping"}') is ClientMessageKind.INVALID  # binary frames are not read
    assert kind(None) is ClientMessageKind.INVALID
    assert kind("[" * 3000) is ClientMessageKind.INVALID  # deeper than the JSON parser goes


def test_auth_message_carries_its_token_only_when_it_is_a_non_empty_string() -> None:
    assert read_client_message('{"type": "auth", "token": "t"}', LIMIT).token == "t"
    for body in (
        '{"type": "auth"}',
        '{"type": "auth", "token": ""}',
        '{"type": "auth", "token": 1}',
    ):
        message = read_client_message(body, LIMIT)
        assert (message.kind, message.token) == (ClientMessageKind.AUTH, None)


def test_error_answers_are_fixed_and_never_repeat_the_input() -> None:
    marker = "attacker-controlled-" + "z" * 100
    unknown = read_client_message(json.dumps({"type": marker}), LIMIT)
    assert unknown.kind is ClientMessageKind.UNKNOWN
    assert marker not in json.dumps(UNKNOWN_MESSAGE)
    assert marker not in json.dumps(INVALID_MESSAGE)
    assert UNKNOWN_MESSAGE == {"type": "error", "message": "unknown message type"}
