"""The administrators' performance requests: the shared database and the job queues."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine_rpc import (
    EngineReply,
    GetDatabasePerformance,
    GetJobsPerformance,
)
from tradelab_engine.service import reply
from tradelab_runtime.clock import Clock
from tradelab_runtime.lag import TopicLag
from tradelab_runtime.logging import get_logger
from tradelab_runtime.responder import RequestHandlers

from .database import database_report
from .jobs import jobs_report

LAG_TIMEOUT_S = 2.0
"""Bound on asking the broker for end offsets: a report without lag beats no report."""
log = get_logger(__name__)


@dataclass(frozen=True)
class PerformanceDeps:
    """What the performance reports read."""

    database: AsyncEngine
    clock: Clock
    instance_id: str
    lag: Callable[[], Awaitable[list[TopicLag]]]
    """This process's consumer lag (`tradelab_runtime.lag.consumer_lag` on its broker)."""


async def _lag(deps: PerformanceDeps) -> list[TopicLag]:
    try:
        async with asyncio.timeout(LAG_TIMEOUT_S):
            return await deps.lag()
    except Exception as exc:  # the broker is slow or away: report the tables without lag
        log.warning("consumer lag not read", error=repr(exc))
        return []


async def get_database_performance(
    cmd: GetDatabasePerformance, deps: PerformanceDeps
) -> EngineReply:
    """Report the shared database's connections, sizes, index use and slowest statements."""
    report = await database_report(deps.database, deps.clock.now(), cmd.top)
    return reply(cmd, report=report)


async def get_jobs_performance(cmd: GetJobsPerformance, deps: PerformanceDeps) -> EngineReply:
    """Report the job queues, throughput, durations and this instance's consumer lag."""
    lag = await _lag(deps)
    report = await jobs_report(deps.database, deps.clock.now(), cmd.top, deps.instance_id, lag)
    return reply(cmd, report=report)


def request_handlers(deps: PerformanceDeps) -> RequestHandlers[EngineReply]:
    """Return the handlers of the two performance requests."""
    return {
        GetDatabasePerformance: partial(get_database_performance, deps=deps),
        GetJobsPerformance: partial(get_jobs_performance, deps=deps),
    }
