"""Optimisation use cases over request/reply: submit (``submit.py``), get, list, cancel, results,
heatmap and walk-forward. The chunk worker is ``worker.py``, the genetic evolver ``evolver.py``."""

import asyncio
from functools import partial

import sqlalchemy as sa

from tradelab_contracts.base import correlation_of
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
    RunStatus,
    SubmitOptimization,
    WalkForwardReport,
)
from tradelab_engine.domain.optimize import SWEEP_METRICS, HeatmapTooLargeError, heatmap
from tradelab_engine.lifecycle.store import Announcement
from tradelab_engine.service import error_reply, reply
from tradelab_runtime.pages import fit_page
from tradelab_runtime.responder import RequestHandlers

from .deps import OptimizationDeps
from .files import read_curve
from .messages import cancelled_event
from .submit import submit_optimization

NOT_FOUND = "No such optimisation."


async def get_optimization(cmd: GetOptimization, deps: OptimizationDeps) -> EngineReply:
    """One of the owner's optimisations."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
    return reply(cmd, optimization=info)


async def list_optimizations(cmd: ListOptimizations, deps: OptimizationDeps) -> EngineReply:
    """A page of the owner's optimisations."""
    items, total = await deps.repo.page(cmd.owner_id, cmd.status, cmd.limit, cmd.offset, cmd.active)
    return reply(cmd, optimizations=fit_page(items, deps.engine.page_bytes), total=total)


async def cancel_optimization(
    cmd: CancelOptimizationRequest, deps: OptimizationDeps
) -> EngineReply:
    """Stop an active optimisation at once (``OptimizationCancelled`` stored with the status):
    chunks not yet stored are dropped, an evolving genetic search stops at its next generation."""

    def cancelled(row: sa.RowMapping) -> Announcement:
        return cancelled_event(row, correlation_of(cmd))

    info = await deps.repo.end(
        cmd.owner_id, cmd.optimization_id, RunStatus.CANCELLED, deps.engine.clock.now(), cancelled
    )
    if info is None:
        current = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
        if current is None:
            return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
        message = f"The optimisation is already {current.status.value}."
        return error_reply(cmd, EngineErrorCode.CONFLICT, message)
    return reply(cmd, optimization=info)


async def get_results(cmd: GetOptimizationResults, deps: OptimizationDeps) -> EngineReply:
    """A page of results, best first unless asked otherwise."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
    if cmd.order_by is not None and cmd.order_by not in SWEEP_METRICS:
        message = f"order_by must be one of {', '.join(SWEEP_METRICS)}."
        return error_reply(cmd, EngineErrorCode.INVALID, message)
    maximize = info.objective.direction == "maximize"
    descending = cmd.descending if cmd.descending is not None else maximize
    rows, total = await deps.repo.results(
        info.id, cmd.order_by, descending, cmd.limit, cmd.offset, cmd.fold_index
    )
    rows = fit_page(rows, deps.engine.page_bytes)
    return reply(cmd, results=rows, total=total, optimization=info)


async def get_heatmap(cmd: GetOptimizationHeatmap, deps: OptimizationDeps) -> EngineReply:
    """A metric over two parameters, the best over the others per cell."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
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
    try:
        grid = heatmap(rows, cmd.x, cmd.y, metric, maximize, deps.heatmap_max_cells)
    except HeatmapTooLargeError as exc:
        return error_reply(cmd, EngineErrorCode.INVALID, str(exc))
    return reply(cmd, heatmap=Heatmap.model_validate(grid))


async def get_walk_forward(cmd: GetWalkForward, deps: OptimizationDeps) -> EngineReply:
    """The folds and, once completed, the stitched out-of-sample equity (evenly thinned)."""
    info = await deps.repo.get(cmd.owner_id, cmd.optimization_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
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
        curve = await asyncio.to_thread(read_curve, deps.engine.store.path(uri), cmd.max_points)
        report = report.model_copy(update=curve)
    return reply(cmd, walk_forward=report)


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
