"""``WS /api/v1/ws`` (every job of the user) and ``WS /api/v1/ws/jobs/{run_id}`` (one job): live
job events with sequence numbers, resumable. Protocol: docs/websocket.md."""

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.websockets import WebSocketState

from tradelab_contracts.analytics_rpc import AnalyticsErrorCode, GetAnalysis
from tradelab_contracts.engine_rpc import (
    ActiveJobsReply,
    BacktestReply,
    EngineCommand,
    EngineReply,
    GetBacktest,
    GetMonteCarlo,
    GetOptimization,
    ListActiveJobs,
    MonteCarloInfo,
    MonteCarloReply,
    OptimizationInfo,
    OptimizationReply,
    RunInfo,
)
from tradelab_gateway.adapters.analytics_rpc import AnalyticsRpcClient
from tradelab_gateway.adapters.auth_rpc import AuthUnavailableError
from tradelab_gateway.adapters.engine_rpc import EngineRpcClient
from tradelab_gateway.adapters.rpc import ServiceUnavailableError
from tradelab_gateway.api.backtests_schemas import BacktestPublic
from tradelab_gateway.api.montecarlo_schemas import MonteCarloPublic
from tradelab_gateway.api.optimizations import OptimizationPublic
from tradelab_gateway.domain.client_messages import (
    INVALID_MESSAGE,
    UNKNOWN_MESSAGE,
    ClientMessage,
    ClientMessageKind,
    read_client_message,
)
from tradelab_gateway.domain.hub import EventHub, Subscription, TooManyConnectionsError
from tradelab_gateway.domain.job_events import (
    JobEvent,
    awaits_analysis,
    ends_one_job,
    failed_analysis_event,
    final_event_of,
    final_monte_carlo_event_of,
    final_optimization_event_of,
    stored_analysis_event,
)
from tradelab_gateway.security.key_cache import KeyCache
from tradelab_gateway.security.tokens import InvalidTokenError, Principal, key_id, verify
from tradelab_gateway.settings import GatewaySettings
from tradelab_runtime.logging import get_logger

R = TypeVar("R", bound=EngineReply)

router = APIRouter(tags=["live"])
log = get_logger(__name__)

SUBPROTOCOL = "tradelab.v1"
BEARER_PREFIX = "bearer."
ACTIVE_LIMIT = 100  # queued and running jobs sent as snapshots on /ws, per kind of job
JOBS_UNAVAILABLE = {"type": "error", "message": "current jobs unavailable; live events follow"}
CLOSE_TIMEOUT_S = 5.0  # a client that reads nothing never gets the close frame: stop trying


class CloseCode:
    """Close codes of docs/websocket.md."""

    NORMAL = 1000
    POLICY = 1008
    TOO_BIG = 1009
    TRY_AGAIN = 1013
    TOO_SLOW = 4008
    UNAUTHORIZED = 4401
    NOT_FOUND = 4404
    TIMEOUT = 4408
    TOO_MANY = 4429


class _Closed(Exception):
    """Close the socket with ``code`` (and stop serving it)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def ws_router() -> APIRouter:
    """Return the WebSocket routes."""
    return router


def _settings(websocket: WebSocket) -> GatewaySettings:
    settings: GatewaySettings = websocket.app.state.settings
    return settings


def _hub(websocket: WebSocket) -> EventHub:
    hub: EventHub = websocket.app.state.event_hub
    return hub


def _offered_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The subprotocol to select and the bearer token offered as a subprotocol, if any."""
    offered: list[str] = list(websocket.scope.get("subprotocols") or [])
    token = next((p[len(BEARER_PREFIX) :] for p in offered if p.startswith(BEARER_PREFIX)), None)
    return (SUBPROTOCOL if SUBPROTOCOL in offered else None), token


async def _receive(websocket: WebSocket, timeout_s: float) -> ClientMessage:
    """The next client message, classified; one over the size limit closes the socket (1009).

    uvicorn already refuses a frame over the limit; this check holds under any server.
    """
    message = await asyncio.wait_for(websocket.receive(), timeout_s)
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    data = message.get("text")
    received = read_client_message(
        data if data is not None else message.get("bytes"),
        _settings(websocket).ws_max_message_bytes,
    )
    if received.kind is ClientMessageKind.TOO_BIG:
        raise _Closed(CloseCode.TOO_BIG, "message too big")
    return received


async def _token_from_first_message(websocket: WebSocket, timeout_s: float) -> str:
    try:
        message = await _receive(websocket, timeout_s)
    except TimeoutError as exc:
        raise _Closed(CloseCode.TIMEOUT, "authentication timeout") from exc
    if message.kind is not ClientMessageKind.AUTH:
        raise _Closed(CloseCode.POLICY, "the first message must be auth")
    if message.token is None:
        raise _Closed(CloseCode.UNAUTHORIZED, "missing token")
    return message.token


async def _authenticate(websocket: WebSocket) -> Principal:
    """Accept the socket, then verify the access token (subprotocol or first message)."""
    subprotocol, token = _offered_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    settings = _settings(websocket)
    if token is None:
        token = await _token_from_first_message(websocket, settings.ws_auth_timeout_s)
    keys: KeyCache = websocket.app.state.key_cache
    try:
        jwk = await keys.get(key_id(token))
        if jwk is None:
            raise InvalidTokenError("unknown key")
        return verify(token, jwk, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    except InvalidTokenError as exc:
        raise _Closed(CloseCode.UNAUTHORIZED, "invalid or expired access token") from exc
    except AuthUnavailableError as exc:
        raise _Closed(CloseCode.TRY_AGAIN, "auth unavailable") from exc


async def _engine(websocket: WebSocket, command: EngineCommand, expected: type[R]) -> R:
    client: EngineRpcClient = websocket.app.state.engine_client
    try:
        return await client.call(command, expected)
    except ServiceUnavailableError as exc:
        raise _Closed(CloseCode.TRY_AGAIN, "engine unavailable") from exc


@dataclass(frozen=True)
class _Job:
    """A job as a socket first shows it: its snapshot, and its final event once it has ended."""

    id: UUID
    sequence: int
    snapshot: dict[str, Any]
    final: JobEvent | None


def _snapshot(job_type: str, job: BaseModel) -> dict[str, Any]:
    """The snapshot message: ``job`` is what the job's REST ``GET`` returns."""
    return {"type": "snapshot", "job_type": job_type, "job": job.model_dump(mode="json")}


def _backtest(run: RunInfo) -> _Job:
    snapshot = _snapshot("backtest", BacktestPublic.of(run))
    return _Job(run.id, run.sequence, snapshot, final_event_of(run))


def _optimization(info: OptimizationInfo) -> _Job:
    snapshot = _snapshot("optimization", OptimizationPublic.of(info))
    return _Job(info.id, info.sequence, snapshot, final_optimization_event_of(info))


def _monte_carlo(study: MonteCarloInfo) -> _Job:
    snapshot = _snapshot("monte_carlo", MonteCarloPublic.of(study))
    return _Job(study.id, study.sequence, snapshot, final_monte_carlo_event_of(study))


async def _find_job(websocket: WebSocket, user: Principal, job_id: UUID) -> _Job:
    """The user's backtest, optimisation or Monte Carlo study ``job_id`` (4404 if none)."""
    client: EngineRpcClient = websocket.app.state.engine_client
    asked: dict[str, Any] = {"reply_to": client.reply_topic, "owner_id": user.user_id}
    found_run = await _engine(websocket, GetBacktest(**asked, run_id=job_id), BacktestReply)
    if found_run.ok and found_run.run is not None:
        return _backtest(found_run.run)
    found_search = await _engine(
        websocket, GetOptimization(**asked, optimization_id=job_id), OptimizationReply
    )
    if found_search.ok and found_search.optimization is not None:
        return _optimization(found_search.optimization)
    found_study = await _engine(
        websocket, GetMonteCarlo(**asked, simulation_id=job_id), MonteCarloReply
    )
    if found_study.ok and found_study.monte_carlo is not None:
        return _monte_carlo(found_study.monte_carlo)
    raise _Closed(CloseCode.NOT_FOUND, "no such job")


async def _stored_analysis(websocket: WebSocket, user: Principal, run_id: UUID) -> JobEvent | None:
    """The analysis announcement of a completed backtest, rebuilt; None while not analysed."""
    client: AnalyticsRpcClient = websocket.app.state.analytics_client
    command = GetAnalysis(reply_to=client.reply_topic, owner_id=user.user_id, run_id=run_id)
    try:
        reply = await client.call(command)
    except ServiceUnavailableError as exc:
        raise _Closed(CloseCode.TRY_AGAIN, "analytics unavailable") from exc
    if reply.analysis is not None:
        return stored_analysis_event(reply.analysis)
    if reply.error is not None and reply.error.code is AnalyticsErrorCode.FAILED:
        return failed_analysis_event(run_id, user.user_id, reply.error.message)
    return None


async def _job_snapshot(
    websocket: WebSocket, user: Principal, run_id: UUID, after: int, subscription: Subscription
) -> bool:
    """Queue one job's snapshot, its final event when it has ended and, for a completed
    backtest, its analysis announcement once analysed; True if nothing more will come."""
    job = await _find_job(websocket, user, run_id)
    subscription.outbox.put(job.snapshot)
    if job.final is not None:
        if job.final.sequence > after:
            subscription.outbox.put(job.final.payload)
        if not awaits_analysis(job.final.payload):
            return True
        analysed = await _stored_analysis(websocket, user, run_id)
        if analysed is not None:
            subscription.outbox.put(analysed.payload)
            return True
        # Completed, not analysed yet: the announcement comes live (subscribed before asking).
    subscription.start({run_id: max(after, job.sequence)})
    return False


async def _active_jobs(websocket: WebSocket, user: Principal) -> list[_Job]:
    """Every queued or running job of the user (``ACTIVE_LIMIT`` of each kind), in one request."""
    client: EngineRpcClient = websocket.app.state.engine_client
    found = await _engine(
        websocket,
        ListActiveJobs(reply_to=client.reply_topic, owner_id=user.user_id, limit=ACTIVE_LIMIT),
        ActiveJobsReply,
    )
    return [
        *(_backtest(run) for run in found.runs or []),
        *(_optimization(info) for info in found.optimizations or []),
        *(_monte_carlo(study) for study in found.monte_carlos or []),
    ]


async def _active_snapshots(
    websocket: WebSocket, user: Principal, subscription: Subscription
) -> None:
    """Queue a snapshot of every queued or running job of the user.

    The snapshots are a courtesy on ``/ws``: when the engine does not answer in time (a burst of
    connections), the socket stays open with live events only and says so, rather than closing.
    """
    try:
        jobs = await _active_jobs(websocket, user)
    except _Closed:
        subscription.outbox.put(JOBS_UNAVAILABLE)
        subscription.start({})
        return
    for job in jobs:
        subscription.outbox.put(job.snapshot)
    subscription.start({job.id: job.sequence for job in jobs})


async def _send_loop(websocket: WebSocket, subscription: Subscription, one_job: bool) -> None:
    """The only writer of the socket: drain the outbox; a one-job socket ends after its final
    event (a completed backtest's after its analysis announcement)."""
    while True:
        payload = await subscription.outbox.get()
        await websocket.send_json(payload)
        if one_job and ends_one_job(payload):
            raise _Closed(CloseCode.NORMAL, "job ended")


async def _receive_loop(websocket: WebSocket, subscription: Subscription, idle_s: float) -> None:
    """Answer client pings; close a socket that stays silent for ``idle_s``.

    Anything else gets a fixed error, never the client's input back; an unsent error, like an
    unsent pong, is replaced rather than queued behind, so a flood cannot grow the outbox.
    """
    while True:
        try:
            message = await _receive(websocket, idle_s)
        except TimeoutError as exc:
            raise _Closed(CloseCode.TIMEOUT, "idle timeout") from exc
        match message.kind:
            case ClientMessageKind.PING:
                subscription.outbox.put({"type": "pong", "server_time": time.time()}, key="pong")
            case ClientMessageKind.PONG:
                pass
            case ClientMessageKind.INVALID:
                subscription.outbox.put(INVALID_MESSAGE, key="error")
            case _:
                subscription.outbox.put(UNKNOWN_MESSAGE, key="error")


async def _ping_loop(subscription: Subscription, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        subscription.outbox.put({"type": "ping", "server_time": time.time()}, key="ping")


async def _overflow(subscription: Subscription) -> None:
    await subscription.outbox.wait_overflowed()
    raise _Closed(CloseCode.TOO_SLOW, "too far behind")


async def _expiry(expires_at: float) -> None:
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    raise _Closed(CloseCode.UNAUTHORIZED, "access token expired")


async def _serve(websocket: WebSocket, run_id: UUID | None, after: int) -> None:
    settings = _settings(websocket)
    user = await _authenticate(websocket)
    hub = _hub(websocket)
    # Subscribe before reading the state, so nothing published in between is missed.
    try:
        subscription = hub.subscribe(user.user_id, run_id)
    except TooManyConnectionsError as exc:
        raise _Closed(CloseCode.TOO_MANY, "too many connections") from exc
    try:
        # Sent at once (no other writer yet): a client learns it is authenticated even when
        # the socket is then closed for another reason.
        await websocket.send_json(
            {"type": "ready", "user_id": str(user.user_id), "server_time": time.time()}
        )
        if run_id is not None:
            if await _job_snapshot(websocket, user, run_id, after, subscription):
                # The job has ended: send what is queued (its final event if the client lacks
                # it, and its analysis announcement) and close; nothing more will come.
                while (payload := subscription.outbox.pop()) is not None:
                    await websocket.send_json(payload)
                raise _Closed(CloseCode.NORMAL, "job ended")
        else:
            await _active_snapshots(websocket, user, subscription)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(_send_loop(websocket, subscription, one_job=run_id is not None))
            tasks.create_task(_receive_loop(websocket, subscription, settings.ws_idle_timeout_s))
            tasks.create_task(_ping_loop(subscription, settings.ws_ping_interval_s))
            tasks.create_task(_expiry(user.expires_at))
            tasks.create_task(_overflow(subscription))
    finally:
        hub.unsubscribe(subscription)


async def serve_socket(websocket: WebSocket, run_id: UUID | None, after: int) -> None:
    """Serve one socket until it ends; every ending is a close with a documented code."""
    code, reason, gone = CloseCode.NORMAL, "", False
    try:
        await _serve(websocket, run_id, after)
    except* _Closed as group:
        closed = group.exceptions[0]
        if isinstance(closed, _Closed):
            code, reason = closed.code, closed.reason
    except* WebSocketDisconnect:
        gone = True  # the client went away
    if not gone and websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, TimeoutError):
            await asyncio.wait_for(websocket.close(code=code, reason=reason), CLOSE_TIMEOUT_S)


@router.websocket("/api/v1/ws")
async def all_jobs(websocket: WebSocket) -> None:
    """Every job event of the user."""
    await serve_socket(websocket, None, 0)


@router.websocket("/api/v1/ws/jobs/{run_id}")
async def one_job(
    websocket: WebSocket, run_id: UUID, after: Annotated[int, Query(ge=0)] = 0
) -> None:
    """One job's events after sequence ``after``; closes after the final event."""
    await serve_socket(websocket, run_id, after)
