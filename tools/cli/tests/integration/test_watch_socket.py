"""The watcher against a real WebSocket server on loopback: resume, dedup, 4401, fallback."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from tradelab_cli.client import ApiClient
from tradelab_cli.watch import (
    Auth,
    WatchState,
    WebSocketUnavailableError,
    poll_until_finished,
    watch_run,
    watch_websocket,
)

pytestmark = pytest.mark.integration

RUN = "33333333-3333-4333-8333-333333333333"
SUMMARY = {"final_equity": 101.0, "total_return": 0.01, "trades": 2}
Handler = Callable[[ServerConnection, int], Awaitable[None]]


def progress(sequence: int, fraction: float) -> str:
    event = {
        "type": "progress",
        "run_id": RUN,
        "sequence": sequence,
        "progress": fraction,
        "bars_done": int(fraction * 100),
        "bars_total": 100,
    }
    return json.dumps(event)


def snapshot(status: str, sequence: int, fraction: float = 0.0) -> str:
    job = {"id": RUN, "status": status, "progress": fraction, "sequence": sequence}
    return json.dumps({"type": "snapshot", "job": job})


COMPLETED = json.dumps(
    {"type": "completed", "run_id": RUN, "sequence": 4, "summary": SUMMARY, "cached": False}
)


class Recorder:
    """What the server saw of each connection."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.protocols: list[str | None] = []


@asynccontextmanager
async def gateway(handler: Handler, recorder: Recorder) -> AsyncIterator[str]:
    """A WebSocket server calling ``handler(connection, n)`` for its n-th connection."""
    count = 0

    async def serve_one(connection: ServerConnection) -> None:
        nonlocal count
        count += 1
        recorder.paths.append(connection.request.path if connection.request else "")
        recorder.protocols.append(
            connection.request.headers.get("Sec-WebSocket-Protocol") if connection.request else None
        )
        await handler(connection, count)

    async with serve(
        serve_one, "127.0.0.1", 0, subprotocols=[Subprotocol("tradelab.v1")]
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"


def nothing_listening() -> str:
    """The URL of a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def auth_with(tokens: list[str]) -> tuple[Auth, list[int]]:
    refreshed: list[int] = []

    async def refresh() -> bool:
        refreshed.append(1)
        tokens.append(f"token-{len(tokens) + 1}")
        return True

    return Auth(token=lambda: tokens[-1], refresh=refresh), refreshed


@pytest.mark.asyncio
async def test_dropped_socket_resumes_after_the_last_sequence_and_drops_replays() -> None:
    async def handler(connection: ServerConnection, n: int) -> None:
        if n == 1:
            for message in (snapshot("queued", 0), progress(1, 0.25), progress(2, 0.5)):
                await connection.send(message)
            connection.transport.abort()  # the network drops: no close frame
            return
        for message in (
            snapshot("running", 2, 0.5),
            progress(2, 0.5),
            progress(3, 0.75),
            COMPLETED,
        ):
            await connection.send(message)
        await connection.close(1000)

    recorder = Recorder()
    seen: list[WatchState] = []
    async with gateway(handler, recorder) as server:
        auth, _ = auth_with(["token-1"])
        state = await watch_websocket(WatchState(run_id=RUN), server, auth, seen.append)
    assert (state.status, state.sequence, state.summary) == ("completed", 4, SUMMARY)
    assert state.progress_events == 3
    assert [s.sequence for s in seen] == [1, 2, 3, 4]
    assert recorder.paths == [f"/api/v1/ws/jobs/{RUN}?after=0", f"/api/v1/ws/jobs/{RUN}?after=2"]
    assert recorder.protocols[0] == "tradelab.v1, bearer.token-1"


@pytest.mark.asyncio
async def test_expired_token_close_refreshes_and_reconnects_with_the_new_one() -> None:
    async def handler(connection: ServerConnection, n: int) -> None:
        if n == 1:
            await connection.close(4401, "access token expired")
            return
        await connection.send(snapshot("running", 1, 0.3))
        await connection.send(COMPLETED)
        await connection.close(1000)

    recorder = Recorder()
    async with gateway(handler, recorder) as server:
        auth, refreshed = auth_with(["token-1"])
        state = await watch_websocket(WatchState(run_id=RUN), server, auth, lambda _: None)
    assert state.status == "completed"
    assert refreshed == [1]
    assert recorder.protocols[1] == "tradelab.v1, bearer.token-2"


@pytest.mark.asyncio
async def test_server_pings_are_answered_with_pong() -> None:
    answers: list[Any] = []

    async def handler(connection: ServerConnection, _: int) -> None:
        await connection.send(json.dumps({"type": "ping", "server_time": 1.0}))
        answers.append(json.loads(await asyncio.wait_for(connection.recv(), 5)))
        await connection.send(COMPLETED)

    async with gateway(handler, Recorder()) as server:
        auth, _ = auth_with(["t"])
        await watch_websocket(WatchState(run_id=RUN), server, auth, lambda _: None)
    assert answers == [{"type": "pong"}]


@pytest.mark.asyncio
async def test_no_websocket_endpoint_at_all_is_reported_for_the_polling_fallback() -> None:
    auth, _ = auth_with(["t"])
    with pytest.raises(WebSocketUnavailableError):
        await watch_websocket(WatchState(run_id=RUN), nothing_listening(), auth, lambda _: None)


def test_watch_run_falls_back_to_polling_when_the_socket_cannot_be_opened() -> None:
    polled = iter(
        [
            {"id": RUN, "status": "running", "progress": 0.5, "sequence": 2},
            {"id": RUN, "status": "completed", "progress": 1.0, "sequence": 3, "summary": SUMMARY},
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v1/backtests/{RUN}"
        return httpx.Response(200, json=next(polled))

    transport = httpx.MockTransport(answer)
    api = ApiClient(nothing_listening(), access_token="t", transport=transport)
    with api:
        state = watch_run(api, WatchState(run_id=RUN, transport="rest"), lambda _: None)
    assert (state.status, state.transport, state.summary) == ("completed", "polling", SUMMARY)


def test_polling_reports_each_change_once() -> None:
    jobs = iter(
        [
            {"id": RUN, "status": "queued", "progress": 0.0, "sequence": 0},
            {"id": RUN, "status": "running", "progress": 0.5, "sequence": 1},
            {"id": RUN, "status": "running", "progress": 0.5, "sequence": 1},
            {"id": RUN, "status": "failed", "sequence": 2, "failure_message": "boom"},
        ]
    )
    seen: list[WatchState] = []
    state = poll_until_finished(WatchState(run_id=RUN), lambda: next(jobs), seen.append, 0.0)
    assert [s.status for s in seen] == ["running", "failed"]
    assert state.failure == "boom"


def test_watch_run_polls_an_optimisation_at_its_own_resource() -> None:
    polled = iter(
        [
            {"id": RUN, "status": "running", "progress": 0.5, "sequence": 1, "evaluated": 8},
            {"id": RUN, "status": "completed", "progress": 1.0, "sequence": 2, "evaluated": 16},
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v1/optimizations/{RUN}"
        return httpx.Response(200, json=next(polled))

    api = ApiClient(nothing_listening(), access_token="t", transport=httpx.MockTransport(answer))
    with api:
        start = WatchState(run_id=RUN, transport="rest", kind="optimization")
        state = watch_run(api, start, lambda _: None)
    assert (state.status, state.transport, state.evaluated) == ("completed", "polling", 16)
