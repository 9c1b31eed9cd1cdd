"""Cascades into analytics: a deleted backtest or account takes its analyses and files along.

Files go first, rows second: an erasure that dies half-way is redelivered and finds the rows
still there, never files without a row pointing at them. Both steps are no-ops when repeated.
Every analytics object of a run lives under ``analytics/<owner>/<run>/`` (charts, report).

The rows' transaction also leaves a tombstone, so an analysis still in progress cannot be
stored afterwards; the files are removed once more after it, for the charts such an analysis
may have written in between (one that stores nothing removes its own).
"""

import asyncio
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.engine import BacktestDeleted
from tradelab_contracts.topics import AUTH_USER_DELETED, BACKTEST_DELETED
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.erasure import remove_prefix
from tradelab_runtime.logging import get_logger
from tradelab_runtime.storage import LocalObjectStore

from .adapters.erasure import AnalysisEraser

log = get_logger(__name__)
RUNS_GROUP = "analytics-deletions"
OWNERS_GROUP = "analytics-erasure"
"""One consumer group per topic: a group whose members read different topics rebalanced
without end on the development broker when a replica left."""


@dataclass(frozen=True)
class ErasureDeps:
    """What the erasures need."""

    rows: AnalysisEraser
    store: LocalObjectStore


async def forget_run(event: BacktestDeleted, deps: ErasureDeps) -> None:
    """Delete the analysis of a deleted backtest, its charts and its report."""
    prefix = f"analytics/{event.owner_id}/{event.run_id}"
    await asyncio.to_thread(remove_prefix, deps.store, prefix)
    removed = await deps.rows.delete_run(event.owner_id, event.run_id)
    await asyncio.to_thread(remove_prefix, deps.store, prefix)
    log.info("analysis of a deleted backtest erased", run_id=str(event.run_id), rows=removed)


async def forget_owner(event: UserDeleted, deps: ErasureDeps) -> None:
    """Delete every analysis of a deleted user and every analytics file of theirs."""
    prefix = f"analytics/{event.user_id}"
    await asyncio.to_thread(remove_prefix, deps.store, prefix)
    removed = await deps.rows.delete_owner(event.user_id)
    await asyncio.to_thread(remove_prefix, deps.store, prefix)
    log.info("analyses of a deleted user erased", user_id=str(event.user_id), rows=removed)


def register_erasures(
    broker: KafkaBroker, deps: ErasureDeps, letters: DeadLetters, policy: RetryPolicy
) -> None:
    """Subscribe the cascade consumers (a group per topic, under the failure policy)."""

    async def on_backtest_deleted(event: BacktestDeleted) -> None:
        await forget_run(event, deps)

    async def on_user_deleted(event: UserDeleted) -> None:
        await forget_owner(event, deps)

    work_subscriber(
        broker,
        BACKTEST_DELETED,
        group_id=RUNS_GROUP,
        model=BacktestDeleted,
        handle=on_backtest_deleted,
        dead_letters=letters,
        policy=policy,
    )
    work_subscriber(
        broker,
        AUTH_USER_DELETED,
        group_id=OWNERS_GROUP,
        model=UserDeleted,
        handle=on_user_deleted,
        dead_letters=letters,
        policy=policy,
    )
