"""How an optimisation ends: completed (files first, then one transaction records them, the
status and ``OptimizationCompleted``), or failed with ``OptimizationFailed``; each exactly once,
whichever replica or redelivery gets there first."""

import asyncio
import uuid
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from tradelab_contracts.engine_rpc import OptimizationInfo, RunStatus
from tradelab_contracts.optimization import OptimizationCompleted
from tradelab_contracts.topics import OPTIMIZATION_COMPLETED
from tradelab_engine.lifecycle.store import Announcement
from tradelab_runtime.logging import get_logger

from .deps import OptimizationDeps
from .files import write_results
from .messages import failed_event
from .walk_forward import stitch_folds

log = get_logger(__name__)


async def complete_if_done(
    optimization_id: UUID, deps: OptimizationDeps, attempt: int | None = None
) -> bool:
    """Complete the optimisation if every chunk is stored and it is still active (a replica
    that stored the last chunk may have died before); whether this call completed it."""
    info = await deps.repo.get(None, optimization_id)
    if info is None or info.status.value not in ("queued", "running"):
        return False
    if info.chunks_done < info.chunks:
        return False
    return await _complete(info, deps, attempt)


async def _complete(info: OptimizationInfo, deps: OptimizationDeps, attempt: int | None) -> bool:
    store = deps.engine.store
    rows = await deps.repo.all_results(info.id)
    scratch = store.scratch_dir() / f"{uuid.uuid4()}.parquet"
    await asyncio.to_thread(write_results, rows, scratch)
    # The same key whoever completes it: a second completer writes the same bytes.
    uri = store.put_file(f"optimizations/{info.owner_id}/{info.id}/results.parquet", scratch)
    values: dict[str, Any] = {"results_uri": uri}
    if info.walk_forward is not None:
        values["walk_forward_uri"], values["out_of_sample"] = await stitch_folds(info, deps)
    deps.engine.failpoints.hit("engine.optimization.before_commit")
    done = await deps.repo.complete(
        info.id, attempt, values, deps.engine.clock.now(), lambda row: _completed(row, uri)
    )
    if done is not None:
        log.info("optimisation completed", optimization_id=str(info.id))
    return done is not None


def _completed(row: sa.RowMapping, results_uri: str) -> Announcement:
    started, finished = row["started_at"], row["finished_at"]
    duration = (finished - started).total_seconds() if started and finished else 0.0
    event = OptimizationCompleted(
        optimization_id=row["id"],
        owner_id=row["owner_id"],
        evaluated=row["evaluated"],
        best_parameters=row["best_parameters"],
        best_metrics=row["best_metrics"] or {},
        results_uri=results_uri,
        duration_s=max(0.0, duration),
        sequence=row["event_seq"],
    )
    return event, OPTIMIZATION_COMPLETED, row["id"].bytes


def _failed(row: sa.RowMapping) -> Announcement:
    return failed_event(row)


async def fail(optimization_id: UUID, message: str, deps: OptimizationDeps) -> None:
    """Fail an active optimisation with ``OptimizationFailed`` (nothing if it already ended)."""
    info = await deps.repo.end(
        None,
        optimization_id,
        RunStatus.FAILED,
        deps.engine.clock.now(),
        failed_event,
        message[:2048],
    )
    if info is not None:
        log.warning("optimisation failed", optimization_id=str(optimization_id), message=message)
