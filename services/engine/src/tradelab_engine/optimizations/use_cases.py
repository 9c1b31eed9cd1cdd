"""Parameter optimisation: the request/reply use cases (submit, get, list, cancel, results,
heatmap) and the chunk worker every engine replica runs.

Submitting expands the search (domain/search.py), stores the optimisation with one row per chunk
and publishes one `RunOptimizationChunk` per chunk, keyed so they spread over the chunk topic's
partitions. Any replica of the ``engine-chunks`` group evaluates a chunk (the sweep kernel) and
stores its results; the repository counts each chunk once, and the transaction that counts the
last one completes the optimisation. A replica killed mid-chunk never commits the chunk's offset,
so the chunk is redelivered to another replica and evaluated there.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import polars as pl
from pydantic import ValidationError

from tradelab_contracts.base import Message, correlation_of
from tradelab_contracts.engine import EngineOptions, FailureReason
from tradelab_contracts.engine_rpc import (
    CancelOptimizationRequest,
    EngineErrorCode,
    EngineReply,
    GetOptimization,
    GetOptimizationHeatmap,
    GetOptimizationResults,
    GetWalkForward,
    Heatmap,
    ListOptimizations,
    OptimizationInfo,
    RunStatus,
    SubmitOptimization,
    WalkForwardReport,
)
from tradelab_contracts.optimization import (
    BarWindow,
    Constraint,
    GeneticSearch,
    OptimizationCancelled,
    OptimizationCompleted,
    OptimizationFailed,
    OptimizationProgress,
    RunOptimization,
    RunOptimizationChunk,
    WalkForward,
)
from tradelab_contracts.topics import (
    ALL_TOPICS,
    OPTIMIZATION_CANCELLED,
    OPTIMIZATION_CHUNK_REQUESTED,
    OPTIMIZATION_COMPLETED,
    OPTIMIZATION_FAILED,
    OPTIMIZATION_PROGRESS,
    OPTIMIZATION_REQUESTED,
)
from tradelab_runtime.logging import get_logger
from tradelab_runtime.responder import RequestHandlers

from .adapters.bars_loader import load_bars
from .adapters.optimization_repository import ChunkStored, FoldTest, OptimizationRepository
from .domain.bars import Bars
from .domain.genetic import (
    Accept,
    NoValidIndividualError,
    first_generation,
    generator,
    next_generation,
    random_valid,
)
from .domain.optimize import SWEEP_METRICS, evaluate_chunk, heatmap
from .domain.search import (
    MAX_COMBINATIONS,
    SearchError,
    SearchPlan,
    axis_values,
    chunk_bounds,
    plan_search,
    satisfies,
)
from .domain.walkforward import Fold, WalkForwardError, WindowRun, plan_folds, run_test, stitch
from .domain.walkforward import window as bar_window
from .service import EngineDeps, error_reply, reply
from .strategies.base import UnknownStrategyError
from .strategies.catalogue import STRATEGIES, get_strategy, validate_parameters
from .strategy_resolution import RULES, resolve_strategy

log = get_logger(__name__)
DEFAULT_CHUNK_SIZE = 250


PublishToPartition = Callable[[Message, str, bytes, int], Awaitable[None]]
CHUNK_PARTITIONS = next(
    spec.partitions for spec in ALL_TOPICS if spec.name == OPTIMIZATION_CHUNK_REQUESTED
)


@dataclass
class OptimizationDeps:
    """The engine's dependencies plus the optimisation tables.

    ``publish_to_partition`` places chunk ``i`` on partition ``i mod CHUNK_PARTITIONS`` so the
    replicas of the chunk group get equal shares (hashed keys left one with 11 of 16).
    ``last_bars`` keeps the dataset the last chunk read: a replica takes an optimisation's
    chunks one after another, so it reads the file once.
    """

    engine: EngineDeps
    repo: OptimizationRepository
    publish_to_partition: PublishToPartition
    chunk_size: int = DEFAULT_CHUNK_SIZE
    last_bars: tuple[str, Bars] | None = None

    async def bars(self, dataset_uri: str, dataset_sha256: str) -> Bars:
        """The dataset's bars, read again only when another dataset was read last."""
        key = f"{dataset_uri}#{dataset_sha256}"
        if self.last_bars is None or self.last_bars[0] != key:
            self.last_bars = None  # let the previous one go before reading the next
            bars = await asyncio.to_thread(load_bars, self.engine.store.path(dataset_uri))
            self.last_bars = (key, bars)
        return self.last_bars[1]

    async def publish_chunk(self, chunk: RunOptimizationChunk) -> None:
        """Publish a chunk on the chunk topic, spread evenly over its partitions."""
        key = f"{chunk.optimization_id}:{chunk.chunk_index}".encode()
        partition = chunk.chunk_index % CHUNK_PARTITIONS
        await self.publish_to_partition(chunk, OPTIMIZATION_CHUNK_REQUESTED, key, partition)


def _validator(strategy: str) -> Any:
    def validate(combination: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return validate_parameters(strategy, combination).model_dump(mode="json")
        except (ValidationError, ValueError):
            return None

    return validate


def _refuse(cmd: SubmitOptimization, message: str, field_name: str) -> EngineReply:
    return error_reply(
        cmd, EngineErrorCode.INVALID, message, [{"field": field_name, "message": message}]
    )


async def submit_optimization(cmd: SubmitOptimization, deps: OptimizationDeps) -> EngineReply:
    """Validate and expand the search, store it, publish its chunks."""
    problem = await _strategy_problem(cmd, deps)
    if problem is not None:
        return problem
    known = set(STRATEGIES[cmd.strategy].params_model.model_fields)
    unknown = sorted(set(cmd.parameter_space) - known)
    if unknown:
        message = f"{cmd.strategy} has no parameter {', '.join(unknown)}; it has {sorted(known)}."
        return _refuse(cmd, message, "parameter_space")
    if cmd.objective.metric not in SWEEP_METRICS:
        message = f"The objective must be one of {', '.join(SWEEP_METRICS)}."
        return _refuse(cmd, message, "objective.metric")
    if isinstance(cmd.search, GeneticSearch):
        return await _submit_genetic(cmd, cmd.search, deps)
    try:
        plan = await asyncio.to_thread(
            plan_search, cmd.parameter_space, cmd.search, cmd.constraints, _validator(cmd.strategy)
        )
    except (SearchError, UnknownStrategyError) as exc:
        return _refuse(cmd, _sentence(str(exc)), "parameter_space")
    if cmd.walk_forward is not None:
        return await _submit_walk_forward(cmd, cmd.walk_forward, plan, deps)
    bounds = chunk_bounds(len(plan.combinations), deps.chunk_size)
    info = await deps.repo.add(
        _new_row(cmd, len(plan.combinations), plan.skipped, len(bounds), deps.engine.clock.now()),
        [end - start for start, end in bounds],
    )
    for index, (start, end) in enumerate(bounds):
        chunk = _chunk(
            cmd,
            plan.combinations[start:end],
            chunk_index=index,
            chunk_count=len(bounds),
            first_index=start,
        )
        await deps.publish_chunk(chunk)
    return reply(cmd, optimization=info)


async def _strategy_problem(cmd: SubmitOptimization, deps: OptimizationDeps) -> EngineReply | None:
    """Why the strategy cannot be searched (unknown, or a rule strategy), or None."""
    try:
        resolved = await resolve_strategy(deps.engine.strategies, cmd.owner_id, cmd.strategy, {})
    except UnknownStrategyError:
        return _refuse(cmd, f"Unknown strategy {cmd.strategy!r}.", "strategy")
    if resolved.name == RULES:
        message = (
            f"{cmd.strategy} is a rule strategy: rule strategies have no numeric parameters "
            "to search."
        )
        return _refuse(cmd, message, "strategy")
    return None


def _sentence(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}."


def _chunk(
    cmd: SubmitOptimization, combinations: list[dict[str, Any]], **placement: Any
) -> RunOptimizationChunk:
    """A chunk of ``cmd``'s search; ``placement`` gives its index, count, first index, fold."""
    return RunOptimizationChunk(
        optimization_id=cmd.optimization_id,
        owner_id=cmd.owner_id,
        combinations=combinations,
        dataset_uri=cmd.dataset_uri,
        dataset_sha256=cmd.dataset_sha256,
        strategy=cmd.strategy,
        options=cmd.options,
        objective=cmd.objective,
        min_trades=cmd.min_trades,
        timeframe=cmd.timeframe,
        correlation_id=correlation_of(cmd),
        **placement,
    )


def _utc(nanoseconds: int) -> datetime:
    return datetime.fromtimestamp(int(nanoseconds) / 1e9, tz=UTC)


def _fold_row(fold: Fold, time: Any, chunks: int) -> dict[str, Any]:
    return {
        "fold_index": fold.index,
        "train_start_bar": fold.train_start,
        "train_end_bar": fold.train_end,
        "test_start_bar": fold.test_start,
        "test_end_bar": fold.test_end,
        "train_start": _utc(time[fold.train_start]),
        "train_end": _utc(time[fold.train_end - 1]),
        "test_start": _utc(time[fold.test_start]),
        "test_end": _utc(time[fold.test_end - 1]),
        "chunks": chunks,
    }


async def _submit_walk_forward(
    cmd: SubmitOptimization, scheme: WalkForward, plan: SearchPlan, deps: OptimizationDeps
) -> EngineReply:
    """Store a walk-forward search (every fold's chunks) and publish the chunks."""
    planned = await _plan_folds(cmd, scheme, deps)
    if isinstance(planned, EngineReply):
        return planned
    bars, folds = planned
    per_fold = len(plan.combinations)
    total = per_fold * len(folds)
    if total > MAX_COMBINATIONS:
        message = (
            f"{per_fold:,} combinations on each of {len(folds):,} folds is {total:,} runs; "
            f"at most {MAX_COMBINATIONS:,} are run"
        )
        return _refuse(cmd, message, "walk_forward")
    bounds = chunk_bounds(per_fold, deps.chunk_size)
    chunk_count = len(bounds) * len(folds)
    info = await deps.repo.add(
        _new_row(cmd, total, plan.skipped * len(folds), chunk_count, deps.engine.clock.now()),
        [end - start for start, end in bounds] * len(folds),
        [_fold_row(fold, bars.time, len(bounds)) for fold in folds],
    )
    for fold in folds:
        for position, (start, end) in enumerate(bounds):
            index = fold.index * len(bounds) + position
            chunk = _chunk(
                cmd,
                plan.combinations[start:end],
                chunk_index=index,
                chunk_count=chunk_count,
                first_index=fold.index * per_fold + start,
                fold_index=fold.index,
                window=BarWindow(start_bar=fold.train_start, end_bar=fold.train_end),
                test_window=BarWindow(start_bar=fold.test_start, end_bar=fold.test_end),
            )
            await deps.publish_chunk(chunk)
    return reply(cmd, optimization=info)


async def _plan_folds(
    cmd: SubmitOptimization, scheme: WalkForward, deps: OptimizationDeps
) -> tuple[Bars, list[Fold]] | EngineReply:
    """The dataset's bars and the scheme's folds, or the refusal of a scheme that does not fit."""
    bars = await deps.bars(cmd.dataset_uri, cmd.dataset_sha256)
    try:
        return bars, plan_folds(len(bars), scheme)
    except WalkForwardError as exc:
        return _refuse(cmd, _sentence(str(exc)), "walk_forward")


def _accept(strategy: str, constraints: list[Constraint]) -> Accept:
    """A combination allowed by the constraints and the strategy, defaults filled in."""
    validate = _validator(strategy)

    def accept(combination: dict[str, Any]) -> dict[str, Any] | None:
        return validate(combination) if satisfies(combination, constraints) else None

    return accept


def _new_row(
    cmd: SubmitOptimization, total: int, skipped: int, chunks: int, now: datetime
) -> dict[str, Any]:
    """The ``optimizations`` row of a search just submitted (queued, nothing evaluated)."""
    spec = cmd.model_dump(
        mode="json",
        include={
            "parameter_space",
            "search",
            "objective",
            "constraints",
            "min_trades",
            "options",
            "walk_forward",
        },
    )
    return {
        "id": cmd.optimization_id,
        "owner_id": cmd.owner_id,
        "dataset_id": cmd.dataset_id,
        "dataset_uri": cmd.dataset_uri,
        "dataset_sha256": cmd.dataset_sha256,
        "timeframe": cmd.timeframe,
        "strategy": cmd.strategy,
        "spec": spec,
        "status": RunStatus.QUEUED.value,
        "total": total,
        "skipped": skipped,
        "evaluated": 0,
        "chunks": chunks,
        "chunks_done": 0,
        "event_seq": 0,
        "created_at": now,
        "updated_at": now,
    }


async def _submit_genetic(
    cmd: SubmitOptimization, search: GeneticSearch, deps: OptimizationDeps
) -> EngineReply:
    """Store a genetic search (one chunk per generation, per fold in a walk-forward) and hand it
    to one replica."""
    fold_rows: list[dict[str, Any]] | None = None
    folds = 1
    if cmd.walk_forward is not None:
        planned = await _plan_folds(cmd, cmd.walk_forward, deps)
        if isinstance(planned, EngineReply):
            return planned
        bars, planned_folds = planned
        folds = len(planned_folds)
        fold_rows = [_fold_row(f, bars.time, search.generations) for f in planned_folds]
    total = search.population * search.generations * folds
    if total > MAX_COMBINATIONS:
        runs = "population x generations" + (" x folds" if folds > 1 else "")
        message = f"{runs} is {total:,}; at most {MAX_COMBINATIONS:,} are run"
        return _refuse(cmd, message, "search")
    accept = _accept(cmd.strategy, cmd.constraints)
    try:
        random_valid(axis_values(cmd.parameter_space), accept, generator(search.seed, 0))
    except NoValidIndividualError:
        message = "No combination passes the constraints and the strategy's rules."
        return _refuse(cmd, message, "parameter_space")
    chunks = search.generations * folds
    info = await deps.repo.add(
        _new_row(cmd, total, 0, chunks, deps.engine.clock.now()),
        [search.population] * chunks,
        fold_rows,
    )
    job = RunOptimization(
        optimization_id=cmd.optimization_id,
        owner_id=cmd.owner_id,
        dataset_id=cmd.dataset_id,
        dataset_uri=cmd.dataset_uri,
        dataset_sha256=cmd.dataset_sha256,
        strategy=cmd.strategy,
        parameter_space=cmd.parameter_space,
        search=search,
        objective=cmd.objective,
        constraints=cmd.constraints,
        min_trades=cmd.min_trades,
        options=cmd.options,
        walk_forward=cmd.walk_forward,
        timeframe=cmd.timeframe,
        correlation_id=correlation_of(cmd),
    )
    await deps.engine.publish(job, OPTIMIZATION_REQUESTED, cmd.optimization_id.bytes)
    return reply(cmd, optimization=info)


async def run_genetic(job: RunOptimization, deps: OptimizationDeps) -> None:
    """Evolve a genetic search generation by generation on this replica.

    Each generation is stored as one chunk (counted once). A replica that takes the job over
    after a crash reads the generations already stored and, since every generation's choices
    depend only on the seed and the stored scores, carries on exactly where it stopped. An
    error fails the optimisation, announced.
    """
    try:
        await _evolve(job, deps)
    except Exception as exc:
        log.exception("genetic search failed", optimization_id=str(job.optimization_id))
        message = f"The genetic search stopped on an error: {type(exc).__name__}."
        await _fail(job.optimization_id, message, deps)


async def _evolve(job: RunOptimization, deps: OptimizationDeps) -> None:
    search = job.search
    if not isinstance(search, GeneticSearch):
        return
    bars = await deps.bars(job.dataset_uri, job.dataset_sha256)
    if job.walk_forward is None:
        await _evolve_fold(job, search, bars, 0, None, None, deps)
        return
    # Every fold evolves its own population on its training window (the same seed, so each
    # fold's search is reproducible alone); its best is then run on its test window.
    for fold in plan_folds(len(bars), job.walk_forward):
        train = bar_window(bars, fold.train_start, fold.train_end)
        test = BarWindow(start_bar=fold.test_start, end_bar=fold.test_end)
        fold_test = _window_test(bars, job.strategy, test, job.options, job.timeframe)
        if not await _evolve_fold(job, search, train, fold.index, fold.index, fold_test, deps):
            return


async def _evolve_fold(
    job: RunOptimization,
    search: GeneticSearch,
    bars: Bars,
    position: int,
    fold_index: int | None,
    fold_test: FoldTest | None,
    deps: OptimizationDeps,
) -> bool:
    """Evolve one population over ``bars``, generation ``g`` stored as chunk
    ``position * generations + g``; False once the optimisation is no longer active."""
    axes = axis_values(job.parameter_space)
    accept = _accept(job.strategy, job.constraints)
    maximize = job.objective.direction == "maximize"
    parents: list[dict[str, Any]] = []
    scores: list[float | None] = []
    for generation in range(search.generations):
        chunk_index = position * search.generations + generation
        if not await deps.repo.is_active(job.optimization_id):
            # Cancelled or failed: stop evolving; completed: perhaps left unfinished.
            await _finish_if_left(job.owner_id, job.optimization_id, deps)
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
                await _announce(stored, deps)
            rows = await deps.repo.chunk_results(job.optimization_id, chunk_index)
            if rows is None:
                return False  # cancelled meanwhile
        parents = [dict(r.parameters) for r in rows]
        scores = [r.objective if r.ranked else None for r in rows]
    return True


async def get_optimization(cmd: GetOptimization, deps: OptimizationDeps) -> EngineReply:
    """One of the owner's optimisations."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such optimisation.")
    return reply(cmd, optimization=info)


async def list_optimizations(cmd: ListOptimizations, deps: OptimizationDeps) -> EngineReply:
    """A page of the owner's optimisations."""
    items, total = await deps.repo.page(cmd.owner_id, cmd.status, cmd.limit, cmd.offset, cmd.active)
    return reply(cmd, optimizations=items, total=total)


async def cancel_optimization(
    cmd: CancelOptimizationRequest, deps: OptimizationDeps
) -> EngineReply:
    """Stop an active optimisation at once: chunks not yet stored are dropped."""
    info = await deps.repo.end(
        cmd.owner_id, cmd.optimization_id, RunStatus.CANCELLED, deps.engine.clock.now()
    )
    if info is None:
        current = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
        if current is None:
            return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such optimisation.")
        message = f"The optimisation is already {current.status.value}."
        return error_reply(cmd, EngineErrorCode.CONFLICT, message)
    event = OptimizationCancelled(
        optimization_id=info.id,
        owner_id=info.owner_id,
        sequence=info.sequence,
        correlation_id=correlation_of(cmd),
    )
    await deps.engine.publish(event, OPTIMIZATION_CANCELLED, info.id.bytes)
    return reply(cmd, optimization=info)


async def get_results(cmd: GetOptimizationResults, deps: OptimizationDeps) -> EngineReply:
    """A page of results, best first unless asked otherwise."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such optimisation.")
    if cmd.order_by is not None and cmd.order_by not in SWEEP_METRICS:
        message = f"order_by must be one of {', '.join(SWEEP_METRICS)}."
        return error_reply(cmd, EngineErrorCode.INVALID, message)
    maximize = info.objective.direction == "maximize"
    descending = cmd.descending if cmd.descending is not None else maximize
    rows, total = await deps.repo.results(
        info.id, cmd.order_by, descending, cmd.limit, cmd.offset, cmd.fold_index
    )
    return reply(cmd, results=rows, total=total, optimization=info)


async def get_heatmap(cmd: GetOptimizationHeatmap, deps: OptimizationDeps) -> EngineReply:
    """A metric over two parameters, the best over the others per cell."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such optimisation.")
    metric = cmd.metric or info.objective.metric
    problems = [
        f"{name} {value!r} is not a parameter of the search"
        for name, value in (("x", cmd.x), ("y", cmd.y))
        if value not in info.parameter_space
    ]
    if metric not in SWEEP_METRICS:
        problems.append(f"metric must be one of {', '.join(SWEEP_METRICS)}")
    if cmd.x == cmd.y:
        problems.append("x and y must differ")
    if cmd.fold_index is not None and cmd.fold_index >= info.folds:
        problems.append(f"fold_index must be below the optimisation's {info.folds} folds")
    if problems:
        return error_reply(cmd, EngineErrorCode.INVALID, "; ".join(problems).capitalize() + ".")
    rows = await deps.repo.all_results(info.id, cmd.fold_index)
    maximize = info.objective.direction == "maximize" if metric == info.objective.metric else True
    return reply(cmd, heatmap=Heatmap.model_validate(heatmap(rows, cmd.x, cmd.y, metric, maximize)))


async def get_walk_forward(cmd: GetWalkForward, deps: OptimizationDeps) -> EngineReply:
    """The folds and, once completed, the stitched out-of-sample equity (evenly thinned)."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such optimisation.")
    if info.walk_forward is None:
        message = "This optimisation has no walk-forward scheme."
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, message)
    folds = await deps.repo.folds(info.id)
    uri = await deps.repo.walk_forward_uri(info.id)
    report = WalkForwardReport(
        optimization_id=info.id,
        walk_forward=info.walk_forward,
        folds=folds,
        out_of_sample=info.out_of_sample,
        equity_time=[],
        equity=[],
        equity_fold=[],
        equity_points=0,
    )
    if uri is not None:
        curve = await asyncio.to_thread(_read_curve, deps.engine.store.path(uri), cmd.max_points)
        report = report.model_copy(update=curve)
    return reply(cmd, walk_forward=report)


def _read_curve(path: Any, max_points: int) -> dict[str, Any]:
    """The stitched curve's points, at most ``max_points`` evenly spread (first and last kept)."""
    frame = pl.read_parquet(path)
    n = frame.height
    if n > max_points:
        picks = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
        frame = frame[picks]
    return {
        "equity_time": frame["time"].to_list(),
        "equity": frame["equity"].to_list(),
        "equity_fold": frame["fold"].to_list(),
        "equity_points": n,
    }


def request_handlers(deps: OptimizationDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of each optimisation request."""
    return {
        SubmitOptimization: partial(submit_optimization, deps=deps),
        GetOptimization: partial(get_optimization, deps=deps),
        ListOptimizations: partial(list_optimizations, deps=deps),
        CancelOptimizationRequest: partial(cancel_optimization, deps=deps),
        GetOptimizationResults: partial(get_results, deps=deps),
        GetOptimizationHeatmap: partial(get_heatmap, deps=deps),
        GetWalkForward: partial(get_walk_forward, deps=deps),
    }


async def run_chunk(chunk: RunOptimizationChunk, deps: OptimizationDeps) -> None:
    """Evaluate one chunk and store it (once); announce progress and the end.

    The chunk's offset is committed when this returns, error or not: a chunk that cannot be
    evaluated or stored fails the optimisation, announced, rather than leaving it running.
    """
    try:
        await _run_chunk(chunk, deps)
    except Exception as exc:
        log.exception("optimisation chunk failed", optimization_id=str(chunk.optimization_id))
        message = f"Chunk {chunk.chunk_index} could not be evaluated: {type(exc).__name__}."
        await _fail(chunk.optimization_id, message, deps)


async def _fail(optimization_id: uuid.UUID, message: str, deps: OptimizationDeps) -> None:
    """Fail an active optimisation and announce it (nothing if it already ended)."""
    info = await deps.repo.end(
        None, optimization_id, RunStatus.FAILED, deps.engine.clock.now(), message
    )
    if info is None:
        return
    event = OptimizationFailed(
        optimization_id=info.id,
        owner_id=info.owner_id,
        reason_code=FailureReason.INTERNAL,
        message=message,
        sequence=info.sequence,
    )
    await deps.engine.publish(event, OPTIMIZATION_FAILED, info.id.bytes)


async def _run_chunk(chunk: RunOptimizationChunk, deps: OptimizationDeps) -> None:
    if not await deps.repo.is_active(chunk.optimization_id):
        # Cancelled, failed or completed: nothing to evaluate, perhaps something to finish.
        await _finish_if_left(chunk.owner_id, chunk.optimization_id, deps)
        return
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
    maximize = chunk.objective.direction == "maximize"
    stored = await deps.repo.store_chunk(
        chunk.optimization_id,
        chunk.chunk_index,
        rows,
        maximize,
        deps.engine.worker,
        deps.engine.clock.now(),
        chunk.fold_index,
        _fold_test(chunk, bars),
    )
    if stored is None:
        return  # counted already (a redelivery), or cancelled meanwhile
    log.info(
        "optimisation chunk stored",
        optimization_id=str(chunk.optimization_id),
        chunk=chunk.chunk_index,
        seconds=round(time.monotonic() - started, 3),
    )
    await _announce(stored, deps)


def _cut(bars: Bars, window: BarWindow) -> Bars:
    return bar_window(bars, window.start_bar, window.end_bar)


def _test_run(
    bars: Bars,
    strategy: str,
    parameters: Mapping[str, Any],
    window: BarWindow,
    options: EngineOptions,
    timeframe: str | None,
) -> WindowRun:
    params = validate_parameters(strategy, parameters)
    return run_test(
        bars, get_strategy(strategy), params, window.start_bar, window.end_bar, options, timeframe
    )


def _fold_test(chunk: RunOptimizationChunk, bars: Bars) -> FoldTest | None:
    """Runs the chunk's fold's best on its test window (None outside a walk-forward)."""
    if chunk.test_window is None:
        return None
    return _window_test(bars, chunk.strategy, chunk.test_window, chunk.options, chunk.timeframe)


def _window_test(
    bars: Bars, strategy: str, window: BarWindow, options: EngineOptions, timeframe: str | None
) -> FoldTest:
    """Runs a fold's best on its test window (for the repository, when the fold is done)."""

    async def test(parameters: Mapping[str, Any] | None) -> dict[str, float | None] | None:
        if parameters is None:
            return None  # no combination qualified on the training window: the fold stays out
        run = await asyncio.to_thread(
            _test_run, bars, strategy, parameters, window, options, timeframe
        )
        return run.metrics

    return test


async def _announce(stored: ChunkStored, deps: OptimizationDeps) -> None:
    """Publish the progress a stored chunk made, and the end when it was the last."""
    info = stored.info
    progress = OptimizationProgress(
        optimization_id=info.id,
        owner_id=info.owner_id,
        progress=info.progress,
        evaluated=info.evaluated,
        total=info.total,
        best_parameters=info.best_parameters,
        best_value=info.best_value,
        # The completing chunk took two sequence numbers: this progress, then the end.
        sequence=info.sequence - 1 if stored.completed else info.sequence,
    )
    await deps.engine.publish(progress, OPTIMIZATION_PROGRESS, info.id.bytes)
    if stored.completed:
        await _complete(info, deps)


async def _stitch(info: OptimizationInfo, deps: OptimizationDeps) -> None:
    """Run every fold's best on its test window again, chain them and store the curve."""
    folds = await deps.repo.folds(info.id)
    dataset_uri, dataset_sha256, timeframe = await deps.repo.source(info.id)
    bars = await deps.bars(dataset_uri, dataset_sha256)  # what the last chunk read, usually

    def build(path: Any) -> dict[str, float | None]:
        runs = []
        for fold in folds:
            test = fold.test
            run = (
                None
                if fold.best_parameters is None
                else _test_run(
                    bars, info.strategy, fold.best_parameters, test, info.options, timeframe
                )
            )
            runs.append((fold.fold_index, run, bars.time[test.start_bar : test.end_bar]))
        curve = stitch(runs, float(info.options.initial_cash), timeframe)
        pl.DataFrame(
            {
                "time": pl.Series(curve.time).cast(pl.Datetime("ns", "UTC")),
                "equity": curve.equity,
                "fold": curve.fold,
            }
        ).write_parquet(path, compression="zstd")
        return curve.metrics

    scratch = deps.engine.store.scratch_dir() / f"{uuid.uuid4()}.parquet"
    metrics = await asyncio.to_thread(build, scratch)
    uri = deps.engine.store.put_file(
        f"optimizations/{info.owner_id}/{info.id}/walk_forward.parquet", scratch
    )
    await deps.repo.set_walk_forward(info.id, uri, metrics)


def _results_file(rows: list[Any], path: Any) -> None:
    frame = pl.DataFrame(
        {
            "index": [r.index for r in rows],
            "fold_index": [r.fold_index for r in rows],
            "parameters": [str(r.parameters) for r in rows],
            **{name: [r.metrics.get(name) for r in rows] for name in SWEEP_METRICS},
            "objective": [r.objective for r in rows],
            "ranked": [r.ranked for r in rows],
        }
    )
    for name in rows[0].parameters if rows else ():
        frame = frame.with_columns(pl.Series(name, [r.parameters.get(name) for r in rows]))
    frame.write_parquet(path, compression="zstd")


async def _complete(info: OptimizationInfo, deps: OptimizationDeps) -> None:
    """Write every result to one Parquet file (and the walk-forward curve), record it, which
    shows the optimisation completed, announce the end, then record the announcement: one
    completed but never announced was left unfinished by a replica that died, and the next
    delivery of any of its messages finishes it."""
    rows = await deps.repo.all_results(info.id)
    scratch = deps.engine.store.scratch_dir() / f"{uuid.uuid4()}.parquet"
    await asyncio.to_thread(_results_file, rows, scratch)
    uri = deps.engine.store.put_file(
        f"optimizations/{info.owner_id}/{info.id}/results.parquet", scratch
    )
    if info.walk_forward is not None:
        await _stitch(info, deps)
    if not await deps.repo.set_results_uri(info.id, uri):
        return  # cancelled or failed while the files were written: that end was announced
    duration = (
        (info.finished_at - info.started_at).total_seconds()
        if info.finished_at and info.started_at
        else 0.0
    )
    event = OptimizationCompleted(
        optimization_id=info.id,
        owner_id=info.owner_id,
        evaluated=info.evaluated,
        best_parameters=info.best_parameters,
        best_metrics=info.best_metrics or {},
        results_uri=uri,
        duration_s=max(0.0, duration),
        sequence=info.sequence,
    )
    await deps.engine.publish(event, OPTIMIZATION_COMPLETED, info.id.bytes)
    await deps.repo.set_announced(info.id)


async def _finish_if_left(
    owner_id: uuid.UUID, optimization_id: uuid.UUID, deps: OptimizationDeps
) -> None:
    """Finish an optimisation whose last chunk was stored by a replica that died before
    writing its files or announcing the end (a repeat announcement has the same sequence, so
    a duplicate from a slow rather than dead replica is dropped by the gateway)."""
    info = await deps.repo.unannounced(owner_id, optimization_id)
    if info is not None:
        log.warning("finishing an optimisation left unfinished", optimization_id=str(info.id))
        await _complete(info, deps)
