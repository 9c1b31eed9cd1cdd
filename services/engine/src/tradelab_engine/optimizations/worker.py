"""The chunk worker every engine replica runs: evaluate a chunk (the sweep kernel), store it once,
report progress, and complete the optimisation once every chunk is stored.

A chunk that raises is retried by the failure policy (``work_subscriber``); once its retries are
spent, :func:`give_up_chunk` fails the optimisation with ``OptimizationFailed``.
"""

import asyncio
import time

from tradelab_contracts.engine_rpc import OptimizationInfo
from tradelab_contracts.optimization import BarWindow, OptimizationProgress, RunOptimizationChunk
from tradelab_contracts.topics import OPTIMIZATION_PROGRESS
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.optimize import evaluate_chunk
from tradelab_engine.domain.walkforward import window as bar_window
from tradelab_runtime.logging import get_logger

from .completion import complete_if_done, fail
from .deps import OptimizationDeps
from .repository import FoldTest
from .walk_forward import window_test

log = get_logger(__name__)


async def run_chunk(chunk: RunOptimizationChunk, deps: OptimizationDeps) -> None:
    """Evaluate one chunk and store it (once); report progress; complete the optimisation when
    every chunk is stored. A chunk stored already, or of an ended optimisation, is not evaluated
    again (a duplicate or a sweeper's re-dispatch)."""
    optimization_id = chunk.optimization_id
    if not await deps.repo.is_active(optimization_id):
        return
    if not await deps.repo.chunk_done(optimization_id, chunk.chunk_index):
        await _evaluate_and_store(chunk, deps)
    await complete_if_done(optimization_id, deps)


async def give_up_chunk(
    chunk: RunOptimizationChunk, exc: Exception, deps: OptimizationDeps
) -> None:
    """Fail the optimisation of a chunk whose retries are spent (the failure policy's give-up)."""
    message = f"Chunk {chunk.chunk_index} could not be evaluated: {type(exc).__name__}."
    await fail(chunk.optimization_id, message, deps)


async def _evaluate_and_store(chunk: RunOptimizationChunk, deps: OptimizationDeps) -> None:
    started = time.monotonic()
    bars = await deps.bars(chunk.dataset_uri, chunk.dataset_sha256)
    train = bars if chunk.window is None else _cut(bars, chunk.window)
    rows = await asyncio.to_thread(
        evaluate_chunk,
        train,
        chunk.strategy,
        chunk.combinations,
        chunk.first_index,
        chunk.options,
        chunk.timeframe,
        chunk.objective,
        chunk.min_trades,
    )
    if deps.engine.chunk_pause_s:
        await asyncio.sleep(deps.engine.chunk_pause_s)  # test-only pacing (EngineSettings)
    stored = await deps.repo.store_chunk(
        chunk.optimization_id,
        chunk.chunk_index,
        rows,
        chunk.objective.direction == "maximize",
        deps.engine.worker,
        deps.engine.clock.now(),
        chunk.fold_index,
        _fold_test(chunk, bars),
    )
    if stored is None:
        return  # counted already (a redelivery), or ended meanwhile
    log.info(
        "optimisation chunk stored",
        optimization_id=str(chunk.optimization_id),
        chunk=chunk.chunk_index,
        seconds=round(time.monotonic() - started, 3),
    )
    await report_progress(stored.info, deps)


def _cut(bars: Bars, window: BarWindow) -> Bars:
    return bar_window(bars, window.start_bar, window.end_bar)


def _fold_test(chunk: RunOptimizationChunk, bars: Bars) -> FoldTest | None:
    """Runs the chunk's fold's best on its test window (None outside a walk-forward)."""
    if chunk.test_window is None:
        return None
    return window_test(bars, chunk.strategy, chunk.test_window, chunk.options, chunk.timeframe)


async def report_progress(info: OptimizationInfo, deps: OptimizationDeps) -> None:
    """Publish the progress a stored chunk made (directly: progress is ephemeral; the sequence
    number lets a reader drop one that arrives after the end)."""
    progress = OptimizationProgress(
        optimization_id=info.id,
        owner_id=info.owner_id,
        progress=info.progress,
        evaluated=info.evaluated,
        total=info.total,
        best_parameters=info.best_parameters,
        best_value=info.best_value,
        sequence=info.sequence,
    )
    await deps.engine.publish(progress, OPTIMIZATION_PROGRESS, info.id.bytes)
