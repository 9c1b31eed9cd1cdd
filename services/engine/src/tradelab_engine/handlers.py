"""Kafka subscribers of the engine: thin, they hand messages to ``service``, ``jobs`` and
``quick``."""

import asyncio
from collections.abc import Coroutine
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from tradelab_contracts.engine import CancelBacktest, RunBacktest
from tradelab_contracts.engine_rpc import (
    ENGINE_REQUEST_ADAPTER,
    CancelBacktestRequest,
    DeleteBacktest,
    EngineErrorCode,
    EngineReply,
    EngineRequest,
    GetBacktest,
    ListBacktests,
    ListStrategies,
    RunQuickBacktest,
    SubmitBacktest,
)
from tradelab_contracts.optimization import RunOptimization, RunOptimizationChunk
from tradelab_contracts.topics import (
    BACKTEST_CANCEL_REQUESTED,
    BACKTEST_REQUESTED,
    ENGINE_REQUESTS,
    OPTIMIZATION_CHUNK_REQUESTED,
    OPTIMIZATION_REQUESTED,
)
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.logging import get_logger

from . import active_jobs, jobs, montecarlo_service, optimizations, quick, service, user_strategies
from .montecarlo_handlers import register_montecarlo_handlers
from .montecarlo_service import MonteCarloDeps
from .optimizations import OptimizationDeps
from .service import EngineDeps

log = get_logger(__name__)
REQUEST_CONCURRENCY = 8


async def answer(
    cmd: EngineRequest, deps: EngineDeps, opt: OptimizationDeps, mc: MonteCarloDeps
) -> EngineReply:
    """Dispatch one request to its use case; an unexpected error becomes an ``internal`` reply."""
    try:
        reply = (
            await optimizations.answer(cmd, opt)
            or await montecarlo_service.answer(cmd, mc)
            or await active_jobs.answer(cmd, deps, opt, mc)
            or await user_strategies.answer(cmd, deps)
        )
        if reply is not None:
            return reply
        match cmd:
            case ListStrategies():
                return await service.list_strategies(cmd, deps)
            case SubmitBacktest():
                return await service.submit_backtest(cmd, deps)
            case ListBacktests():
                return await service.list_backtests(cmd, deps)
            case GetBacktest():
                return await service.get_backtest(cmd, deps)
            case CancelBacktestRequest():
                return await service.cancel_backtest(cmd, deps)
            case DeleteBacktest():
                return await service.delete_backtest(cmd, deps)
            case RunQuickBacktest():
                return await quick.run_quick_backtest(cmd, deps)
    except Exception:
        log.exception("engine request failed", kind=cmd.kind)
    return service.error_reply(cmd, EngineErrorCode.INTERNAL, "Internal error.")


def register_handlers(
    broker: KafkaBroker,
    deps: EngineDeps,
    instance_id: str,
    opt: OptimizationDeps,
    mc: MonteCarloDeps,
) -> None:
    """Subscribe the engine's consumers."""
    register_montecarlo_handlers(broker, mc, instance_id)
    in_flight: set[asyncio.Task[None]] = set()

    def in_background(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        in_flight.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(in_flight.discard)

    # Requests are answered concurrently (database round trips overlap), at most
    # REQUEST_CONCURRENCY at once: a burst (a thousand WebSockets connecting, each asking for
    # its user's active jobs) must not queue a submission behind it until the gateway times out.
    request_slots = asyncio.Semaphore(REQUEST_CONCURRENCY)

    async def respond(cmd: EngineRequest) -> None:
        reply = await answer(cmd, deps, opt, mc)
        await broker.publish(reply, cmd.reply_to, key=reply.request_id.bytes)

    async def respond_in_slot(cmd: EngineRequest) -> None:
        async with request_slots:
            await respond(cmd)

    @broker.subscriber(
        ENGINE_REQUESTS,
        group_id="engine-rpc",
        ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_request(message: KafkaMessage) -> None:
        try:
            cmd = ENGINE_REQUEST_ADAPTER.validate_json(message.body)
        except ValidationError as exc:
            log.warning("dropping an unreadable engine request", errors=exc.error_count())
            return
        if isinstance(cmd, RunQuickBacktest):
            # A quick backtest takes seconds: off the consumer, so the requests behind it are
            # answered meanwhile. Its requester waits synchronously and, should this replica
            # die, times out; there is nothing to redeliver it for.
            in_background(respond(cmd))
        else:
            # Acknowledged on receipt like every request/reply message: a request lost with its
            # replica is not redelivered, its sender times out (503) and may retry.
            in_background(respond_in_slot(cmd))

    # One job at a time per replica, committed after it ends: if this process dies mid-job, the
    # job is redelivered to another replica of the group and completed there exactly once.
    # "earliest": a partition with no committed offset yet is read from its start; with "latest"
    # the first job on a fresh partition was lost when its replica died before committing.
    @broker.subscriber(
        BACKTEST_REQUESTED,
        group_id="engine-jobs",
        ack_policy=AckPolicy.ACK,
        auto_offset_reset="earliest",
    )
    async def on_job(job: RunBacktest) -> None:
        await jobs.run_job(job, deps)

    register_optimization_handlers(broker, opt)

    # Every replica hears every cancel request; only the one running the job acts on it.
    @broker.subscriber(
        BACKTEST_CANCEL_REQUESTED,
        group_id=f"engine-cancel-{instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_cancel(cmd: CancelBacktest) -> None:
        deps.cancelled.add(str(cmd.run_id))


def register_optimization_handlers(broker: KafkaBroker, opt: OptimizationDeps) -> None:
    """Subscribe the optimisation consumers (chunks, and genetic searches)."""

    # Optimisation chunks: every replica of the group takes chunks; committed after the chunk is
    # stored, so a replica killed mid-chunk leaves it to another (counted once by the repository).
    @broker.subscriber(
        OPTIMIZATION_CHUNK_REQUESTED,
        group_id="engine-chunks",
        ack_policy=AckPolicy.ACK,
        auto_offset_reset="earliest",
    )
    async def on_chunk(chunk: RunOptimizationChunk) -> None:
        await optimizations.run_chunk(chunk, opt)

    # Genetic searches: one replica evolves each, generation by generation (each stored once);
    # committed after the search ends, so a replica killed mid-way leaves it to another, which
    # resumes from the stored generations.
    @broker.subscriber(
        OPTIMIZATION_REQUESTED,
        group_id="engine-optimizations",
        ack_policy=AckPolicy.ACK,
        auto_offset_reset="earliest",
    )
    async def on_optimization(job: RunOptimization) -> None:
        await optimizations.run_genetic(job, opt)
