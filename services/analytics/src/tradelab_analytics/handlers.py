"""Kafka subscribers of the analytics service: thin, they hand messages to ``service``."""

from functools import partial

from faststream.kafka import KafkaBroker

from tradelab_contracts.analytics_rpc import (
    ANALYTICS_REQUEST_ADAPTER,
    AnalyticsErrorCode,
    AnalyticsReply,
    AnalyticsRequest,
    CompareRuns,
    GetAnalysis,
    GetReport,
    GetRolling,
)
from tradelab_contracts.engine import BacktestCompleted
from tradelab_contracts.topics import ANALYTICS_REQUESTS, BACKTEST_COMPLETED
from tradelab_runtime.broker import JOB_FETCH_MAX_WAIT_MS
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.responder import DEFAULT_MAX_MESSAGE_BYTES, Routes, serve_requests

from . import failures, service
from .service import AnalyticsDeps


def request_routes(deps: AnalyticsDeps) -> Routes[AnalyticsRequest, AnalyticsReply]:
    """Return what the analytics service answers: each request class and its use case."""
    return Routes(
        adapter=ANALYTICS_REQUEST_ADAPTER,
        handlers={
            GetAnalysis: partial(service.get_analysis, deps=deps),
            GetReport: partial(service.get_report, deps=deps),
            GetRolling: partial(service.get_rolling, deps=deps),
            CompareRuns: partial(service.compare_runs, deps=deps),
        },
        internal_error=partial(
            service.error_reply, code=AnalyticsErrorCode.INTERNAL, message="Internal error."
        ),
        too_large=partial(service.error_reply, code=AnalyticsErrorCode.REPLY_TOO_LARGE),
    )


def register_handlers(
    broker: KafkaBroker,
    deps: AnalyticsDeps,
    letters: DeadLetters,
    policy: RetryPolicy,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> None:
    """Subscribe the service's consumers (groups shared by all replicas)."""
    # Committed after the analysis is stored, under the failure policy: a replica that dies
    # mid-way leaves it to another; an analysis that keeps failing is retried, then stored as
    # failed (with ReportFailed) and parked as a dead letter, never committed unnoticed.
    work_subscriber(
        broker,
        BACKTEST_COMPLETED,
        group_id="analytics",
        model=BacktestCompleted,
        handle=partial(service.analyse_completed, deps=deps),
        dead_letters=letters,
        policy=policy,
        on_give_up=partial(failures.record_failure, deps=deps),
        fetch_max_wait_ms=JOB_FETCH_MAX_WAIT_MS,
    )

    serve_requests(
        broker,
        request_routes(deps),
        topic=ANALYTICS_REQUESTS,
        group_id="analytics-rpc",
        clock=deps.clock,
        max_message_bytes=max_message_bytes,
    )
