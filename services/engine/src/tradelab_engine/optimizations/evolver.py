"""The genetic evolver: each ``RunOptimization`` is a turn on which one replica claims the next
genetic search in the fair order (``lifecycle.fair``; a lease, as any job) and evolves it
generation by generation, each generation stored as one chunk (counted once).

A replica that takes it over (after a crash, once the lease expired and the sweeper re-queued it)
reads the generations already stored and, since every generation's choices depend only on the
seed and the stored scores, carries on exactly where the last one stopped. An error gives the job
back and raises: the failure policy retries it, and :func:`give_up_genetic` fails the
optimisation once the retries are spent.
"""

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from tradelab_contracts.optimization import BarWindow, GeneticSearch, RunOptimization
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.genetic import first_generation, next_generation
from tradelab_engine.domain.optimize import evaluate_chunk
from tradelab_engine.domain.search import space_axes
from tradelab_engine.domain.walkforward import plan_folds
from tradelab_engine.domain.walkforward import window as bar_window
from tradelab_engine.lifecycle.lease import holding_lease
from tradelab_engine.lifecycle.tracing import run_span
from tradelab_runtime.logging import get_logger

from .completion import complete_if_done, fail
from .deps import OptimizationDeps
from .messages import genetic_run
from .repository import FoldTest
from .search_rules import accept_rule
from .walk_forward import window_test
from .worker import report_progress

log = get_logger(__name__)
Stopped = Callable[[], bool]


class GeneticTurnError(Exception):
    """The genetic search a turn took stopped on an error. It names that search, which the
    give-up fails: a turn's message may have named another one."""

    def __init__(self, optimization_id: UUID, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.optimization_id = optimization_id
        self.cause = type(cause).__name__


async def run_genetic(message: RunOptimization, deps: OptimizationDeps) -> None:
    """Take one turn: claim the next genetic search in the fair order (``lifecycle.fair``),
    whichever search ``message`` named, evolve it to the end and complete it; a no-op when none
    is claimable (ended, or held by live replicas)."""
    engine, jobs = deps.engine, deps.repo.jobs
    claim = await jobs.take(engine.worker, engine.clock.now())
    if claim is None:
        return
    job = message if claim["id"] == message.optimization_id else genetic_run(claim)
    attempt: int = claim["attempt"]
    key = str(job.optimization_id)
    lease = holding_lease(
        jobs, job.optimization_id, attempt, engine.clock, lambda: engine.cancelled.add(key)
    )
    with run_span(
        engine.tracer, "optimization", job.optimization_id, attempt, claim["trace_context"]
    ):
        try:
            async with lease:
                evolved = await _evolve(job, deps, lambda: key in engine.cancelled)
            if evolved:
                await complete_if_done(job.optimization_id, deps, attempt)
        except Exception as exc:
            # Queued again at once, so the failure policy's retry claims it without waiting out
            # the lease (and the sweeper publishes it again should the retry never come).
            await jobs.release(job.optimization_id, attempt, engine.clock.now())
            raise GeneticTurnError(job.optimization_id, exc) from exc
        finally:
            engine.cancelled.discard(key)


async def give_up_genetic(message: RunOptimization, exc: Exception, deps: OptimizationDeps) -> None:
    """Fail the genetic search whose retries are spent (the failure policy's give-up): the one
    the last turn took, which ``exc`` names."""
    if isinstance(exc, GeneticTurnError):
        optimization_id, cause = exc.optimization_id, exc.cause
    else:
        optimization_id, cause = message.optimization_id, type(exc).__name__
    await fail(optimization_id, f"The genetic search stopped on an error: {cause}.", deps)


async def _evolve(job: RunOptimization, deps: OptimizationDeps, stopped: Stopped) -> bool:
    """Evolve every fold (or the one search); False once stopped (cancelled, lease lost)."""
    search = job.search
    if not isinstance(search, GeneticSearch):
        return False
    bars = await deps.bars(job.dataset_uri, job.dataset_sha256)
    if job.walk_forward is None:
        return await _evolve_fold(job, search, bars, 0, None, None, deps, stopped)
    # Every fold evolves its own population on its training window (the same seed, so each
    # fold's search is reproducible alone); its best is then run on its test window.
    for fold in plan_folds(len(bars), job.walk_forward):
        train = bar_window(bars, fold.train_start, fold.train_end)
        test = BarWindow(start_bar=fold.test_start, end_bar=fold.test_end)
        fold_test = window_test(bars, job.strategy, test, job.options, job.timeframe)
        if not await _evolve_fold(
            job, search, train, fold.index, fold.index, fold_test, deps, stopped
        ):
            return False
    return True


async def _evolve_fold(
    job: RunOptimization,
    search: GeneticSearch,
    bars: Bars,
    position: int,
    fold_index: int | None,
    fold_test: FoldTest | None,
    deps: OptimizationDeps,
    stopped: Stopped,
) -> bool:
    """Evolve one population over ``bars``, generation ``g`` stored as chunk
    ``position * generations + g``; False once stopped or no longer active."""
    axes = space_axes(job.parameter_space)
    accept = accept_rule(job.strategy, job.constraints)
    maximize = job.objective.direction == "maximize"
    parents: list[dict[str, Any]] = []
    scores: list[float | None] = []
    for generation in range(search.generations):
        chunk_index = position * search.generations + generation
        if stopped() or not await deps.repo.is_active(job.optimization_id):
            return False
        rows = await deps.repo.chunk_results(job.optimization_id, chunk_index)
        if rows is None:
            if generation == 0:
                members = first_generation(axes, search.population, accept, search.seed)
            else:
                members = next_generation(
                    axes,
                    parents,
                    scores,
                    maximize=maximize,
                    mutation_rate=search.mutation_rate,
                    crossover_rate=search.crossover_rate,
                    accept=accept,
                    seed=search.seed,
                    generation=generation,
                )
            evaluated = await asyncio.to_thread(
                evaluate_chunk,
                bars,
                job.strategy,
                members,
                chunk_index * search.population,
                job.options,
                job.timeframe,
                job.objective,
                job.min_trades,
            )
            if deps.engine.chunk_pause_s:
                await asyncio.sleep(deps.engine.chunk_pause_s)  # test-only pacing
            stored = await deps.repo.store_chunk(
                job.optimization_id,
                chunk_index,
                evaluated,
                maximize,
                deps.engine.worker,
                deps.engine.clock.now(),
                fold_index,
                fold_test,
            )
            if stored is not None:
                await report_progress(stored.info, deps)
            rows = await deps.repo.chunk_results(job.optimization_id, chunk_index)
            if rows is None:
                return False  # ended meanwhile
        parents = [dict(r.parameters) for r in rows]
        scores = [r.objective if r.ranked else None for r in rows]
    return True
