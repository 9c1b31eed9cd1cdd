"""What the engine does when a dataset or a user is deleted.

A deleted dataset cancels the queued and running jobs that read it (their bars are gone) and
keeps every finished run: its results are its own files. A deleted user's active jobs are
cancelled first (so no worker records a result after the erasure), then their files and rows go.
Every step is a no-op when repeated, so a redelivered event changes nothing more.
"""

import asyncio
from dataclasses import dataclass
from uuid import UUID

from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.datasets import DatasetDeleted
from tradelab_contracts.engine import BacktestCancelled, CancelBacktest
from tradelab_contracts.engine_rpc import MonteCarloInfo, RunInfo, RunStatus
from tradelab_contracts.montecarlo import CancelMonteCarlo, MonteCarloCancelled
from tradelab_contracts.topics import (
    BACKTEST_CANCEL_REQUESTED,
    BACKTEST_CANCELLED,
    MONTECARLO_CANCEL_REQUESTED,
    MONTECARLO_CANCELLED,
)
from tradelab_engine.adapters.tables import monte_carlo, runs
from tradelab_engine.lifecycle.store import ACTIVE, Announcement
from tradelab_engine.montecarlo.use_cases import MonteCarloDeps
from tradelab_runtime.erasure import remove_prefix
from tradelab_runtime.logging import get_logger

from .repository import OWNER_PREFIXES, CascadeRepository, Scope

log = get_logger(__name__)
CANCELLED = {"status": RunStatus.CANCELLED.value}


@dataclass(frozen=True)
class CascadeDeps:
    """What the cascades need: the Monte Carlo deps hold the engine's and the studies'."""

    mc: MonteCarloDeps
    rows: CascadeRepository


def _backtest_cancelled(info: RunInfo) -> Announcement:
    event = BacktestCancelled(run_id=info.id, owner_id=info.owner_id, sequence=info.sequence)
    return event, BACKTEST_CANCELLED, info.id.bytes


def _study_cancelled(info: MonteCarloInfo) -> Announcement:
    event = MonteCarloCancelled(
        simulation_id=info.id, owner_id=info.owner_id, sequence=info.sequence
    )
    return event, MONTECARLO_CANCELLED, info.id.bytes


async def cancel_jobs(scope: Scope, deps: CascadeDeps) -> int:
    """End every active backtest, study and optimisation in ``scope`` as cancelled, each with its
    terminal event through the outbox; tell the replicas running them to stop. Return how many."""
    engine = deps.mc.engine
    now = engine.clock.now()
    ended = 0
    for run_id in await deps.rows.active_ids(runs, scope):
        info = await engine.repo.finish(run_id, None, CANCELLED, now, _backtest_cancelled)
        if info is not None:
            ended += 1
            stop = CancelBacktest(run_id=info.id, owner_id=info.owner_id)
            await engine.publish(stop, BACKTEST_CANCEL_REQUESTED, info.id.bytes)
    for study_id in await deps.rows.active_ids(monte_carlo, scope):
        study = await deps.mc.repo.finish(
            study_id, None, CANCELLED, now, _study_cancelled, statuses=ACTIVE
        )
        if study is not None:
            ended += 1
            halt = CancelMonteCarlo(simulation_id=study.id, owner_id=study.owner_id)
            await engine.publish(halt, MONTECARLO_CANCEL_REQUESTED, study.id.bytes)
    # Cancelling an optimisation is its status: chunks not yet stored are then dropped.
    ended += len(await deps.rows.cancel_optimizations(scope, now))
    return ended


async def stop_jobs_on_dataset(event: DatasetDeleted, deps: CascadeDeps) -> None:
    """Cancel the active jobs reading a deleted dataset; finished runs stay."""
    scope = Scope(owner_id=event.owner_id, dataset_id=event.dataset_id)
    ended = await cancel_jobs(scope, deps)
    log.info("jobs on a deleted dataset cancelled", dataset_id=str(event.dataset_id), jobs=ended)


async def erase_owner(event: UserDeleted, deps: CascadeDeps) -> None:
    """Cancel a deleted user's active jobs, then delete their files and rows."""
    owner_id: UUID = event.user_id
    await cancel_jobs(Scope(owner_id=owner_id), deps)
    # Another user's cached run may point at this user's result files: those stay until that
    # run is deleted (delete_backtest removes files nothing references any more).
    shared = await deps.rows.shared_files(owner_id)
    store = deps.mc.engine.store
    for folder in OWNER_PREFIXES:
        await asyncio.to_thread(remove_prefix, store, f"{folder}/{owner_id}", shared)
    counts = await deps.rows.delete_owner(owner_id)
    log.info("a deleted user's engine data erased", user_id=str(owner_id), **counts)
