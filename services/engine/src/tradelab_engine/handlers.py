"""Kafka subscribers of the engine: thin, they hand requests to each feature's use cases and job
messages to its worker."""

from faststream.kafka import KafkaBroker

from tradelab_contracts.engine import CancelBacktest, RunBacktest
from tradelab_contracts.engine_rpc import (
    ENGINE_REQUEST_ADAPTER,
    EngineErrorCode,
    EngineReply,
    EngineRequest,
    RunQuickBacktest,
)
from tradelab_contracts.topics import (
    BACKTEST_CANCEL_REQUESTED,
    BACKTEST_REQUESTED,
    ENGINE_REQUESTS,
)
from tradelab_runtime.broker import JOB_FETCH_MAX_WAIT_MS, RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.logging import get_logger
from tradelab_runtime.responder import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Routes,
    merge_handlers,
    serve_requests,
)

from . import active_jobs, service, user_strategies
from .backtests import quick
from .backtests import use_cases as backtests
from .lifecycle.turns import LocalTurns
from .montecarlo import use_cases as montecarlo
from .montecarlo.subscribers import register_montecarlo_handlers
from .montecarlo.use_cases import MonteCarloDeps
from .optimizations import use_cases as optimizations
from .optimizations.deps import OptimizationDeps
from .optimizations.subscribers import register_optimization_handlers
from .performance import use_cases as performance
from .performance.use_cases import PerformanceDeps
from .quotas import use_cases as quotas
from .service import EngineDeps

log = get_logger(__name__)
REQUEST_CONCURRENCY = 8


def internal_error(cmd: EngineRequest) -> EngineReply:
    """Return the reply to a request whose handler failed unexpectedly."""
    return service.error_reply(cmd, EngineErrorCode.INTERNAL, "Internal error.")


def too_large(cmd: EngineRequest, message: str) -> EngineReply:
    """Return the reply to a request whose answer would not fit in a broker message."""
    return service.error_reply(cmd, EngineErrorCode.REPLY_TOO_LARGE, message)


def request_routes(
    deps: EngineDeps, opt: OptimizationDeps, mc: MonteCarloDeps, perf: PerformanceDeps
) -> Routes[EngineRequest, EngineReply]:
    """Return what the engine answers: each module's request handlers, in one table."""
    return Routes(
        adapter=ENGINE_REQUEST_ADAPTER,
        handlers=merge_handlers(
            service.request_handlers(deps),
            backtests.request_handlers(deps),
            quick.request_handlers(deps),
            user_strategies.request_handlers(deps),
            active_jobs.request_handlers(deps, opt, mc),
            optimizations.request_handlers(opt),
            montecarlo.request_handlers(mc),
            quotas.request_handlers(deps),
            performance.request_handlers(perf),
        ),
        internal_error=internal_error,
        too_large=too_large,
        # A quick backtest takes seconds: off the consumer, so the requests behind it are
        # answered meanwhile (``deps.quick_slots`` bounds how many at once). Its requester waits
        # synchronously and, should this replica die, times out; there is nothing to redeliver.
        background=frozenset({RunQuickBacktest}),
    )


def register_handlers(
    broker: KafkaBroker,
    deps: EngineDeps,
    instance_id: str,
    opt: OptimizationDeps,
    mc: MonteCarloDeps,
    letters: DeadLetters,
    policy: RetryPolicy,
    perf: PerformanceDeps,
    backtest_turns: LocalTurns[RunBacktest],
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> None:
    """Subscribe the engine's consumers."""
    # Requests are answered concurrently (database round trips overlap), at most
    # REQUEST_CONCURRENCY at once: a burst (a thousand WebSockets connecting, each asking for
    # its user's active jobs) must not queue a submission behind it until the gateway times out.
    serve_requests(
        broker,
        request_routes(deps, opt, mc, perf),
        topic=ENGINE_REQUESTS,
        group_id="engine-rpc",
        clock=deps.clock,
        concurrency=REQUEST_CONCURRENCY,
        max_message_bytes=max_message_bytes,
    )

    # One job at a time per replica (the slot `backtest_turns` shares with the submissions this
    # replica accepts), committed after it ends, under the failure policy (retried, then parked
    # as a dead letter). A replica that dies mid-job stops renewing its lease; the redelivered
    # message, or the sweeper's, lets another replica take the run over once.
    work_subscriber(
        broker,
        BACKTEST_REQUESTED,
        group_id="engine-jobs",
        model=RunBacktest,
        handle=backtest_turns.take,
        dead_letters=letters,
        policy=policy,
        fetch_max_wait_ms=JOB_FETCH_MAX_WAIT_MS,
    )
    register_montecarlo_handlers(broker, mc, instance_id, letters, policy)
    register_optimization_handlers(broker, opt, letters, policy)

    # Every replica hears every cancel request; only the one running the job acts on it.
    @broker.subscriber(
        BACKTEST_CANCEL_REQUESTED,
        group_id=f"engine-cancel-{instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_cancel(cmd: CancelBacktest) -> None:
        deps.cancelled.add(str(cmd.run_id))
