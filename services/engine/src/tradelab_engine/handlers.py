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
from tradelab_contracts.topics import (
    BACKTEST_CANCEL_REQUESTED,
    BACKTEST_REQUESTED,
    ENGINE_REQUESTS,
)
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.logging import get_logger

from . import jobs, quick, service
from .service import EngineDeps

log = get_logger(__name__)


async def answer(cmd: EngineRequest, deps: EngineDeps) -> EngineReply:
    """Dispatch one request to its use case; an unexpected error becomes an ``internal`` reply."""
    try:
        match cmd:
            case ListStrategies():
                return service.list_strategies(cmd)
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


def register_handlers(broker: KafkaBroker, deps: EngineDeps, instance_id: str) -> None:
    """Subscribe the engine's consumers."""
    in_flight: set[asyncio.Task[None]] = set()

    def in_background(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        in_flight.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(in_flight.discard)

    async def respond(cmd: EngineRequest) -> None:
        reply = await answer(cmd, deps)
        await broker.publish(reply, cmd.reply_to, key=reply.request_id.bytes)

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
            await respond(cmd)

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

    # Every replica hears every cancel request; only the one running the job acts on it.
    @broker.subscriber(
        BACKTEST_CANCEL_REQUESTED,
        group_id=f"engine-cancel-{instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_cancel(cmd: CancelBacktest) -> None:
        deps.cancelled.add(str(cmd.run_id))
