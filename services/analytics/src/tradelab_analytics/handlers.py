"""Kafka subscribers of the analytics service: thin, they hand messages to ``service``."""

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from tradelab_contracts.analytics_rpc import ANALYTICS_REQUEST_ADAPTER, AnalyticsErrorCode
from tradelab_contracts.engine import BacktestCompleted
from tradelab_contracts.topics import ANALYTICS_REQUESTS, BACKTEST_COMPLETED
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.logging import get_logger

from . import service
from .service import AnalyticsDeps

log = get_logger(__name__)


def register_handlers(broker: KafkaBroker, deps: AnalyticsDeps) -> None:
    """Subscribe the service's consumers (groups shared by all replicas)."""

    # Committed after the analysis is stored: a replica that dies mid-way leaves it to another.
    # "earliest": a partition with no committed offset yet is read from its start, so an event
    # published before the group first joined, or redelivered after a crash, is never skipped.
    @broker.subscriber(
        BACKTEST_COMPLETED,
        group_id="analytics",
        ack_policy=AckPolicy.ACK,
        auto_offset_reset="earliest",
    )
    async def on_completed(event: BacktestCompleted) -> None:
        await service.analyse_completed(event, deps)

    @broker.subscriber(
        ANALYTICS_REQUESTS,
        group_id="analytics-rpc",
        ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_request(message: KafkaMessage) -> None:
        try:
            cmd = ANALYTICS_REQUEST_ADAPTER.validate_json(message.body)
        except ValidationError as exc:
            log.warning("dropping an unreadable analytics request", errors=exc.error_count())
            return
        try:
            reply = await service.answer(cmd, deps)
        except Exception:
            log.exception("analytics request failed", kind=cmd.kind)
            reply = service.error_reply(cmd, AnalyticsErrorCode.INTERNAL, "Internal error.")
        await broker.publish(reply, cmd.reply_to, key=reply.request_id.bytes)
