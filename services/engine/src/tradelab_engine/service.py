"""What every feature of the engine shares: its dependencies (``EngineDeps``), replies and
refusals, and the strategy catalogue request. Each job kind has its own folder (``backtests/``,
``montecarlo/``, ``optimizations/``) on the shared lifecycle (``lifecycle/``)."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.base import Message, correlation_of
from tradelab_contracts.engine_rpc import (
    REPLY_OF,
    EngineCommand,
    EngineError,
    EngineErrorCode,
    EngineReply,
    ListStrategies,
    StrategyInfo,
)
from tradelab_runtime.clock import Clock
from tradelab_runtime.failpoints import Failpoints
from tradelab_runtime.metrics import CacheStats, ServiceMetrics
from tradelab_runtime.pages import page_budget
from tradelab_runtime.quotas import QuotaExceededError
from tradelab_runtime.responder import RequestHandlers
from tradelab_runtime.storage import LocalObjectStore

from .adapters.strategy_repository import StrategyRepository
from .backtests.repository import RunRepository
from .lifecycle.turns import DirectTurn
from .quotas.limits import QuotaLimits
from .strategies.base import UnknownStrategyError
from .strategies.catalogue import STRATEGIES, catalogue_entry
from .strategy_resolution import StrategyRefusedError

Publish = Callable[[Message, str, bytes], Awaitable[None]]


RESULT_CACHE = "backtest_reuse"
"""The ``cache`` label of the completed-backtest reuse in ``tradelab_cache_requests_total``."""


@dataclass
class EngineDeps:
    """What the use cases need from the outside world."""

    repo: RunRepository
    store: LocalObjectStore
    publish: Publish
    clock: Clock
    worker: str
    engine_version: str
    cancelled: set[str] = field(default_factory=set)
    """Runs asked to stop; the runner polls it between chunks."""
    chunk_bars: int = 50_000
    """Bars simulated between two progress and cancellation checks."""
    chunk_pause_s: float = 0.0
    """Test-only pacing: seconds slept after every chunk (see ``EngineSettings``)."""
    failpoints: Failpoints = field(default_factory=Failpoints)
    """Test-only failure injection (see ``tradelab_runtime.failpoints``); none armed by default."""
    quick_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    """Quick backtests simulated at once by this process; more wait within their deadline."""
    strategies: StrategyRepository | None = None
    """Users' saved rule strategies; None where a use case needs none (tests)."""
    page_bytes: int = field(default_factory=page_budget)
    """What a list reply's items may take, so the reply fits in one broker message (`fit_page`)."""
    quota_limits: QuotaLimits = field(default_factory=QuotaLimits)
    """What one user may hold at once; every submission is admitted against it."""
    database: AsyncEngine | None = None
    """The engine's database, for reads across its tables (quota usage); None in unit tests."""
    tracer: trace.Tracer = field(default_factory=trace.NoOpTracer)
    """Where job run spans start (``lifecycle.tracing``); no-op in unit tests."""
    result_cache: CacheStats = field(default_factory=lambda: ServiceMetrics().cache(RESULT_CACHE))
    """Hits and misses of the backtest result cache (an identical earlier run's result reused)."""
    hold_turn: Callable[[], DirectTurn | None] = lambda: None
    """Hold this replica's job slot, if free, for a submission that claims a run itself and runs
    it at once (``lifecycle.turns.LocalTurns.hold``); never, by default (unit tests)."""


def reply(cmd: EngineCommand, **fields: Any) -> EngineReply:
    """A successful reply to ``cmd``, of its request kind's class (``REPLY_OF``)."""
    return _answer(cmd, {"ok": True, **fields})


def error_reply(
    cmd: EngineCommand,
    code: EngineErrorCode,
    message: str,
    errors: list[dict[str, str]] | None = None,
) -> EngineReply:
    """A failed reply to ``cmd``, of its request kind's class (``REPLY_OF``)."""
    error = EngineError(code=code, message=message[:2048], errors=errors or [])
    return _answer(cmd, {"ok": False, "error": error})


def quota_refusal(cmd: EngineCommand, exc: QuotaExceededError) -> EngineReply:
    """The ``quota_exceeded`` reply to a request that would take its owner over a quota."""
    error = EngineError(
        code=EngineErrorCode.QUOTA_EXCEEDED, message=str(exc)[:2048], quota=exc.usage
    )
    return _answer(cmd, {"ok": False, "error": error})


def _answer(cmd: EngineCommand, fields: dict[str, Any]) -> EngineReply:
    # Validated, as it arrives at the gateway: an ok reply lacking its payload fails here.
    reply_class = REPLY_OF[type(cmd)]
    return reply_class.model_validate(
        {"request_id": cmd.message_id, "correlation_id": correlation_of(cmd), **fields}
    )


async def list_strategies(cmd: ListStrategies, deps: EngineDeps) -> EngineReply:
    """Return the catalogue with each strategy's parameter schema, then the saved strategies of
    ``cmd.owner_id`` (if given)."""
    entries = []
    for strategy in STRATEGIES.values():
        entry = catalogue_entry(strategy)
        entries.append(
            StrategyInfo(
                name=strategy.name,
                description=strategy.description,
                parameters_schema=dict(entry["parameters"]),  # type: ignore[call-overload]
                defaults=dict(entry["defaults"]),  # type: ignore[call-overload]
            )
        )
    if cmd.owner_id is not None and deps.strategies is not None:
        entries.extend(await deps.strategies.owned(cmd.owner_id))
    return reply(cmd, strategies=entries)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "parameters", "message": e["msg"]}
        for e in exc.errors()
    ]


StrategyProblem = UnknownStrategyError | ValidationError | StrategyRefusedError
"""Why a request's strategy and parameters cannot be run."""


def refusal(cmd: EngineCommand, exc: StrategyProblem) -> EngineReply:
    """The ``invalid`` reply to a request naming an unknown strategy or invalid parameters."""
    if isinstance(exc, StrategyRefusedError):
        return error_reply(
            cmd,
            EngineErrorCode.INVALID,
            exc.message,
            [{"field": exc.field, "message": exc.message}],
        )
    if isinstance(exc, UnknownStrategyError):
        message = str(exc).strip("'\"")
        return error_reply(
            cmd, EngineErrorCode.INVALID, message, [{"field": "strategy", "message": message}]
        )
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in _field_errors(exc))
    return error_reply(
        cmd, EngineErrorCode.INVALID, f"Invalid parameters: {detail}", _field_errors(exc)
    )


def request_handlers(deps: EngineDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of the catalogue request."""
    return {ListStrategies: partial(list_strategies, deps=deps)}
