"""Follow one job (a backtest or an optimisation) to its end: WebSocket events (resumed by
sequence), else REST polling.

Protocol: docs/websocket.md. ``apply_event`` is pure; the rest is the I/O around it.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from tradelab_cli.client import ApiClient, ApiError

FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
SUBPROTOCOL = Subprotocol("tradelab.v1")
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
RECONNECT_TRIES = 5
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
POLL_INTERVAL_S = 0.5
OPEN_TIMEOUT_S = 10.0
JOB_PATHS = {"backtest": "/backtests", "optimization": "/optimizations"}
"""Where each kind of job is read over REST (the polling fallback)."""

StateListener = Callable[["WatchState"], None]


@dataclass(frozen=True)
class WatchState:
    """What the client knows about one job; ``sequence`` is the last event it processed.

    Backtests count ``bars_done`` of ``bars_total``; optimisations count ``evaluated``
    combinations of ``total`` and report the best objective value so far.
    """

    run_id: str
    status: str = "queued"
    progress: float = 0.0
    bars_done: int | None = None
    bars_total: int | None = None
    evaluated: int | None = None
    total: int | None = None
    best_value: float | None = None
    sequence: int = 0
    summary: dict[str, Any] | None = None
    cached: bool = False
    failure: str | None = None
    progress_events: int = 0
    transport: str = "websocket"
    kind: str = "backtest"  # a key of JOB_PATHS

    @property
    def finished(self) -> bool:
        """Whether the run has ended (completed, failed or cancelled)."""
        return self.status in FINAL_STATUSES


def state_of_job(
    job: Mapping[str, Any], transport: str = "rest", kind: str = "backtest"
) -> WatchState:
    """The state described by a job as its REST ``GET`` (``/backtests/{id}``...) returns it."""
    initial = WatchState(run_id=str(job["id"]), transport=transport, kind=kind)
    return apply_event(initial, {"type": "snapshot", "job": job})


def _failure(reason: Any, message: Any) -> str | None:
    parts = [str(p) for p in (message, reason) if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"{parts[0]} ({parts[1]})"


def _apply_snapshot(state: WatchState, job: Mapping[str, Any]) -> WatchState:
    sequence = int(job.get("sequence") or 0)
    if sequence < state.sequence:
        return state  # older than what was already processed
    return replace(
        state,
        status=str(job.get("status") or state.status),
        progress=float(job.get("progress") or 0.0),
        sequence=sequence,
        summary=job.get("summary") or state.summary,
        cached=bool(job.get("cached", state.cached)),
        evaluated=job.get("evaluated", state.evaluated),
        total=job.get("total", state.total),
        best_value=job.get("best_value", state.best_value),
        failure=_failure(job.get("failure_reason"), job.get("failure_message")) or state.failure,
    )


def apply_event(state: WatchState, event: Mapping[str, Any]) -> WatchState:
    """Return the state after ``event``; events not newer than ``state.sequence`` are dropped.

    A snapshot sets the state (and the sequence) from the job it carries, unless it is older
    than what was already seen. Messages without a job meaning (ready, ping, error) change
    nothing.
    """
    kind = event.get("type")
    if kind == "snapshot" and isinstance(event.get("job"), Mapping):
        return _apply_snapshot(state, event["job"])
    if kind not in {"progress", *FINAL_STATUSES}:
        return state
    sequence = int(event.get("sequence") or 0)
    if sequence <= state.sequence:
        return state
    state = replace(state, sequence=sequence)
    if kind == "progress":
        return replace(
            state,
            status="running",
            progress=float(event.get("progress") or 0.0),
            bars_done=event.get("bars_done"),
            bars_total=event.get("bars_total"),
            evaluated=event.get("evaluated"),
            total=event.get("total"),
            best_value=event.get("best_value"),
            progress_events=state.progress_events + 1,
        )
    if kind == "completed":
        summary = event.get("summary")
        return replace(
            state,
            status="completed",
            progress=1.0,
            summary=dict(summary) if isinstance(summary, Mapping) else state.summary,
            cached=bool(event.get("cached", False)),
            evaluated=event.get("evaluated", state.evaluated),
        )
    if kind == "failed":
        failure = _failure(event.get("reason_code"), event.get("message"))
        return replace(state, status="failed", failure=failure)
    return replace(state, status="cancelled")


def websocket_url(server: str, run_id: str, after: int) -> str:
    """``ws(s)://…/api/v1/ws/jobs/{run_id}?after=N`` on the server's host and path prefix."""
    parts = urlsplit(server.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = f"{parts.path}/api/v1/ws/jobs/{run_id}"
    return urlunsplit((scheme, parts.netloc, path, f"after={after}", ""))


class WebSocketUnavailableError(Exception):
    """The WebSocket could not be opened, or kept dropping: continue by polling from ``state``."""

    def __init__(self, state: WatchState, reason: str) -> None:
        super().__init__(reason)
        self.state = state


@dataclass(frozen=True)
class Auth:
    """The current access token, and how to get a new one (returns whether it worked)."""

    token: Callable[[], str | None]
    refresh: Callable[[], Awaitable[bool]]


class _SocketFollower:
    """Reads ``/ws/jobs/{id}`` connections, resuming after the last processed sequence."""

    def __init__(self, state: WatchState, server: str, auth: Auth, on_state: StateListener) -> None:
        self.state = state
        self.server = server
        self.auth = auth
        self.on_state = on_state
        self.opened = False

    async def follow(self) -> WatchState:
        """Return the final state, or raise ``WebSocketUnavailableError``."""
        failures = 0
        while failures <= RECONNECT_TRIES:
            before = self.state
            try:
                await self._read_one_connection()
            except ConnectionClosed as exc:
                await self._closed(exc)
            except (OSError, InvalidHandshake, InvalidURI) as exc:
                if not self.opened:  # never worked: this gateway has no WebSocket for us
                    raise WebSocketUnavailableError(self.state, str(exc)) from exc
            if self.state.finished:
                return self.state
            failures = 0 if self.state != before else failures + 1
            await asyncio.sleep(min(BACKOFF_S * 2**failures, BACKOFF_MAX_S))
        raise WebSocketUnavailableError(self.state, "the WebSocket kept dropping")

    async def _read_one_connection(self) -> None:
        token = self.auth.token()
        if token is None:
            raise WebSocketUnavailableError(self.state, "not logged in")
        url = websocket_url(self.server, self.state.run_id, self.state.sequence)
        protocols = [SUBPROTOCOL, Subprotocol(f"bearer.{token}")]
        async with connect(url, subprotocols=protocols, open_timeout=OPEN_TIMEOUT_S) as socket:
            self.opened = True
            async for raw in socket:
                event = json.loads(raw)
                if not isinstance(event, dict):
                    continue
                if event.get("type") == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                newer = apply_event(self.state, event)
                if newer != self.state:
                    self.state = newer
                    self.on_state(newer)
                if newer.finished:
                    return

    async def _closed(self, exc: ConnectionClosed) -> None:
        code = exc.rcvd.code if exc.rcvd else None
        if code == CLOSE_NOT_FOUND:
            raise ApiError(404, "Not Found", f"No {self.state.kind} {self.state.run_id}.") from exc
        if code == CLOSE_UNAUTHORIZED and not await self.auth.refresh():
            raise WebSocketUnavailableError(self.state, "access token refused") from exc


async def watch_websocket(
    state: WatchState, server: str, auth: Auth, on_state: StateListener
) -> WatchState:
    """Follow the run over the WebSocket, reconnecting with ``after`` when it drops."""
    return await _SocketFollower(state, server, auth, on_state).follow()


def poll_until_finished(
    state: WatchState,
    fetch: Callable[[], Mapping[str, Any]],
    on_state: StateListener,
    interval_s: float = POLL_INTERVAL_S,
) -> WatchState:
    """Follow the job with its REST ``GET`` (``fetch``) until it ends."""
    state = replace(state, transport="polling")
    while not state.finished:
        newer = apply_event(state, {"type": "snapshot", "job": fetch()})
        if newer != state:
            state = newer
            on_state(state)
        if not state.finished:
            time.sleep(interval_s)
    return state


def watch_run(api: ApiClient, state: WatchState, on_state: StateListener) -> WatchState:
    """Follow a job to its end: over the WebSocket when it can be opened, else by polling."""
    if state.finished:
        return state

    async def refresh() -> bool:
        return await asyncio.to_thread(api.refresh)

    auth = Auth(token=lambda: api.access_token, refresh=refresh)
    live = replace(state, transport="websocket")
    try:
        return asyncio.run(watch_websocket(live, api.server, auth, on_state))
    except WebSocketUnavailableError as exc:
        path = f"{JOB_PATHS[state.kind]}/{state.run_id}"
        return poll_until_finished(exc.state, lambda: api.get(path), on_state)
