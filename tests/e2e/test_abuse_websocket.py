"""Issue 14, WebSocket abuse: huge messages, a flood of unknown ones from a client that never reads,
and more sockets than one user may hold. Each is closed with its documented code (or answered with
fixed errors), the gateway's memory stays bounded and every service stays healthy.

Prints the measured figures: close code, seconds, and the gateway's peak memory growth."""

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.e2e.abuse import MEMORY_BOUND_MIB, assert_all_healthy, memory_growth
from tests.e2e.helpers import connect, open_socket, protocols, read_until_closed, ws_url
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

MESSAGE_TOO_BIG = 1009
TOO_MANY_CONNECTIONS = 4429
CAP = 10  # GATEWAY_WS_MAX_CONNECTIONS_PER_USER's default, which the e2e stack keeps
BIG_MESSAGES, BIG_BYTES = 200, 4 * 1024 * 1024
SMALL_MESSAGES = 50_000
MARKER = "echo-me-back"


def test_huge_messages_sent_without_reading_close_the_socket_as_too_big(
    stack: Stack, user_token: str
) -> None:
    socket = open_socket(stack.gateway_url, "/api/v1/ws", user_token)
    big = json.dumps({"type": "ping", "pad": "x" * BIG_BYTES})
    sent = 0
    started = time.monotonic()
    with memory_growth(stack, "gateway") as growth:
        try:
            for _ in range(BIG_MESSAGES):
                socket.send(big)
                sent += 1
        except ConnectionClosed:
            pass
        code = read_until_closed(socket)
    seconds = time.monotonic() - started
    print(
        f"\n4 MB messages: close code {code} after {sent} sent, {seconds:.2f} s, "
        f"gateway peak growth {growth.grown_mib:.1f} MiB"
    )
    assert code == MESSAGE_TOO_BIG
    assert sent < BIG_MESSAGES
    assert growth.grown_mib < MEMORY_BOUND_MIB
    assert_all_healthy(stack)


def read_until_pong(socket: ClientConnection, deadline_s: float = 120) -> list[dict[str, object]]:
    """Every message the server sent before its ``pong``."""
    received: list[dict[str, object]] = []
    end = time.monotonic() + deadline_s
    while (message := json.loads(socket.recv(timeout=end - time.monotonic())))["type"] != "pong":
        received.append(message)
    return received


def test_a_flood_of_unknown_messages_never_read_gets_fixed_errors_and_bounded_memory(
    stack: Stack, user_token: str
) -> None:
    socket = open_socket(stack.gateway_url, "/api/v1/ws", user_token)
    started = time.monotonic()
    with memory_growth(stack, "gateway") as growth:
        for n in range(SMALL_MESSAGES):
            socket.send(json.dumps({"type": f"{MARKER}-{n}"}) if n % 10 else f"{MARKER} {n}")
        sent_s = time.monotonic() - started
        # A well-behaved message after the flood: answered once the flood's answers are read.
        socket.send(json.dumps({"type": "ping"}))
        received = read_until_pong(socket)
    errors = [m for m in received if m["type"] == "error"]
    print(
        f"\n{SMALL_MESSAGES} unknown messages: sent in {sent_s:.2f} s, {len(errors)} errors "
        f"read back, gateway peak growth {growth.grown_mib:.1f} MiB"
    )
    assert MARKER not in json.dumps(received)  # nothing of the input is echoed
    assert {m["type"] for m in received} <= {"error", "ping"}
    assert {m["message"] for m in errors} <= {
        "unknown message type",
        "messages must be JSON objects",
    }
    # At most one answer a message; fewer once the socket's buffers are full and unsent errors
    # replace one another in the outbox.
    assert 0 < len(errors) <= SMALL_MESSAGES
    assert growth.grown_mib < MEMORY_BOUND_MIB
    socket.close()
    assert_all_healthy(stack)


def test_a_socket_over_the_per_user_cap_is_closed_as_too_many(
    stack: Stack, user_token: str
) -> None:
    url = ws_url(stack.gateway_url, "/api/v1/ws")
    sockets = [open_socket(stack.gateway_url, "/api/v1/ws", user_token) for _ in range(CAP)]
    try:
        started = time.monotonic()
        extra = connect(url, open_timeout=10, subprotocols=protocols(user_token))
        code = read_until_closed(extra)
        seconds = time.monotonic() - started
        print(f"\nsocket {CAP + 1} of one user: close code {code} after {seconds:.2f} s")
        assert code == TOO_MANY_CONNECTIONS
        # Closing one frees its place (once the gateway has seen it go).
        sockets.pop().close()

        def admitted() -> ClientConnection | None:
            again = connect(url, open_timeout=10, subprotocols=protocols(user_token))
            try:
                assert json.loads(again.recv(timeout=10))["type"] == "ready"
            except ConnectionClosed:  # still over the cap
                return None
            return again

        sockets.append(wait_for(admitted, 10, "a socket admitted under the cap again"))
    finally:
        for socket in sockets:
            socket.close()
    assert_all_healthy(stack)
