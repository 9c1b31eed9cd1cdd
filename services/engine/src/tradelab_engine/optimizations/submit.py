"""Submitting an optimisation: validate and expand the search (domain/search.py), then store it
with its chunks, folds and starting messages in one transaction (the repository's ``add``).

The search's size is counted against ``deps.limits`` first, so a space too large to run is
refused before any of it is expanded."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from tradelab_contracts.base import correlation_of
from tradelab_contracts.engine_rpc import (
    EngineErrorCode,
    EngineReply,
    RunStatus,
    SubmitOptimization,
)
from tradelab_contracts.optimization import GeneticSearch, WalkForward
from tradelab_contracts.search_limits import size_refusal
from tradelab_engine.adapters.bars_loader import bar_count
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.genetic import NoValidIndividualError, generator, random_valid
from tradelab_engine.domain.optimize import SWEEP_METRICS
from tradelab_engine.domain.search import (
    SearchError,
    SearchPlan,
    chunk_bounds,
    plan_search,
    space_axes,
)
from tradelab_engine.domain.walkforward import Fold, WalkForwardError, plan_folds
from tradelab_engine.idempotency import submit_once
from tradelab_engine.lifecycle.idempotency import key_columns
from tradelab_engine.quotas.limits import optimization_quota
from tradelab_engine.quotas.repository import Admission, admission
from tradelab_engine.service import error_reply, reply
from tradelab_engine.strategies.base import UnknownStrategyError
from tradelab_engine.strategies.catalogue import STRATEGIES
from tradelab_engine.strategy_resolution import RULES, resolve_strategy

from .deps import OptimizationDeps
from .search_rules import accept_rule, validator

SPEC_FIELDS = {
    "parameter_space",
    "search",
    "objective",
    "constraints",
    "min_trades",
    "options",
    "walk_forward",
}


def _refuse(cmd: SubmitOptimization, message: str, field_name: str) -> EngineReply:
    return error_reply(
        cmd, EngineErrorCode.INVALID, message, [{"field": field_name, "message": message}]
    )


def _sentence(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}."


async def submit_optimization(cmd: SubmitOptimization, deps: OptimizationDeps) -> EngineReply:
    """Answer with the optimisation the request's Idempotency-Key already names, if any;
    otherwise validate and expand the search and store it with the messages that start it."""
    return await submit_once(
        cmd,
        deps.repo.by_idempotency_key,
        lambda: _submit(cmd, deps),
        lambda info: reply(cmd, optimization=info),
    )


async def _submit(cmd: SubmitOptimization, deps: OptimizationDeps) -> EngineReply:
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
    too_large = size_refusal(cmd.parameter_space, cmd.search, deps.limits)
    if too_large is not None:
        return _refuse(cmd, too_large, "parameter_space")
    if isinstance(cmd.search, GeneticSearch):
        return await _submit_genetic(cmd, cmd.search, deps)
    try:
        plan = await asyncio.to_thread(
            plan_search,
            cmd.parameter_space,
            cmd.search,
            cmd.constraints,
            validator(cmd.strategy),
            deps.limits,
        )
    except (SearchError, UnknownStrategyError) as exc:
        return _refuse(cmd, _sentence(str(exc)), "parameter_space")
    if cmd.walk_forward is not None:
        return await _submit_walk_forward(cmd, cmd.walk_forward, plan, deps)
    bars = await asyncio.to_thread(bar_count, deps.engine.store.path(cmd.dataset_uri))
    chunks = _grid_chunks(plan, deps.chunk_combinations(bars))
    values = _new_row(cmd, len(plan.combinations), plan.skipped, len(chunks), deps)
    info = await deps.repo.add(values, chunks, None, correlation_of(cmd), _admit(cmd, 0, deps))
    return reply(cmd, optimization=info)


def _admit(cmd: SubmitOptimization, folds: int, deps: OptimizationDeps) -> Admission:
    """The owner's quota check of a new optimisation (walk-forward ones have their own)."""
    limits = deps.engine.quota_limits
    return admission(cmd.owner_id, limits, (optimization_quota(folds), 1))


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


def _grid_chunks(
    plan: SearchPlan, chunk_size: int, fold_index: int | None = None, first_chunk: int = 0
) -> list[dict[str, Any]]:
    """The chunk rows of a search (of one fold): what each evaluates and where it starts."""
    per_fold = len(plan.combinations)
    offset = 0 if fold_index is None else fold_index * per_fold
    return [
        {
            "chunk_index": first_chunk + position,
            "size": end - start,
            "combinations": plan.combinations[start:end],
            "first_index": offset + start,
            "fold_index": fold_index,
        }
        for position, (start, end) in enumerate(chunk_bounds(per_fold, chunk_size))
    ]


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
    """Store a walk-forward search: every fold's chunks (training window and test window)."""
    planned = await _plan_folds(cmd, scheme, deps)
    if isinstance(planned, EngineReply):
        return planned
    bars, folds = planned
    per_fold = len(plan.combinations)
    total = per_fold * len(folds)
    most = deps.limits.max_combinations
    if total > most:
        message = (
            f"{per_fold:,} combinations on each of {len(folds):,} folds is {total:,} runs; "
            f"at most {most:,} are run"
        )
        return _refuse(cmd, message, "walk_forward")
    # Every fold gets as many chunks, sized by the longest training window.
    chunk_size = deps.chunk_combinations(max(f.train_end - f.train_start for f in folds))
    per_fold_chunks = len(chunk_bounds(per_fold, chunk_size))
    chunks = [
        chunk
        for fold in folds
        for chunk in _grid_chunks(plan, chunk_size, fold.index, fold.index * per_fold_chunks)
    ]
    values = _new_row(cmd, total, plan.skipped * len(folds), len(chunks), deps)
    fold_rows = [_fold_row(fold, bars.time, per_fold_chunks) for fold in folds]
    admit = _admit(cmd, len(folds), deps)
    info = await deps.repo.add(values, chunks, fold_rows, correlation_of(cmd), admit)
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


def _new_row(
    cmd: SubmitOptimization, total: int, skipped: int, chunks: int, deps: OptimizationDeps
) -> dict[str, Any]:
    """The ``optimizations`` row of a search just submitted (queued, nothing evaluated)."""
    now = deps.engine.clock.now()
    return {
        "id": cmd.optimization_id,
        "owner_id": cmd.owner_id,
        "dataset_id": cmd.dataset_id,
        "dataset_uri": cmd.dataset_uri,
        "dataset_sha256": cmd.dataset_sha256,
        "timeframe": cmd.timeframe,
        "strategy": cmd.strategy,
        "spec": cmd.model_dump(mode="json", include=SPEC_FIELDS),
        "status": RunStatus.QUEUED.value,
        "total": total,
        "skipped": skipped,
        "evaluated": 0,
        "chunks": chunks,
        "chunks_done": 0,
        "event_seq": 0,
        "created_at": now,
        "updated_at": now,
        **key_columns(cmd),
    }


async def _submit_genetic(
    cmd: SubmitOptimization, search: GeneticSearch, deps: OptimizationDeps
) -> EngineReply:
    """Store a genetic search (one chunk per generation, per fold in a walk-forward) with the
    ``RunOptimization`` that hands it to one replica."""
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
    most = deps.limits.max_combinations
    if total > most:
        runs = "population x generations" + (" x folds" if folds > 1 else "")
        message = f"{runs} is {total:,}; at most {most:,} are run"
        return _refuse(cmd, message, "search")
    accept = accept_rule(cmd.strategy, cmd.constraints)
    try:
        random_valid(space_axes(cmd.parameter_space), accept, generator(search.seed, 0))
    except NoValidIndividualError:
        message = "No combination passes the constraints and the strategy's rules."
        return _refuse(cmd, message, "parameter_space")
    count = search.generations * folds
    chunks: list[dict[str, Any]] = [
        {
            "chunk_index": i,
            "size": search.population,
            "fold_index": i // search.generations if fold_rows else None,
        }
        for i in range(count)
    ]
    values = _new_row(cmd, total, 0, count, deps)
    info = await deps.repo.add(values, chunks, fold_rows, correlation_of(cmd))
    return reply(cmd, optimization=info)
