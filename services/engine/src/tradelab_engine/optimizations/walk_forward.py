"""Walk-forward glue: a fold's best run on its test window, and the test windows stitched into one
out-of-sample equity file when the optimisation completes."""

import asyncio
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import OptimizationInfo
from tradelab_contracts.optimization import BarWindow
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.walkforward import WindowRun, run_test, stitch
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters

from .deps import OptimizationDeps
from .files import write_curve
from .repository import FoldTest


def test_run(
    bars: Bars,
    strategy: str,
    parameters: Mapping[str, Any],
    window: BarWindow,
    options: EngineOptions,
    timeframe: str | None,
) -> WindowRun:
    """Run ``parameters`` on the test window."""
    params = validate_parameters(strategy, parameters)
    return run_test(
        bars, get_strategy(strategy), params, window.start_bar, window.end_bar, options, timeframe
    )


def window_test(
    bars: Bars, strategy: str, window: BarWindow, options: EngineOptions, timeframe: str | None
) -> FoldTest:
    """Runs a fold's best on its test window (for the repository, when the fold is done)."""

    async def test(parameters: Mapping[str, Any] | None) -> dict[str, float | None] | None:
        if parameters is None:
            return None  # no combination qualified on the training window: the fold stays out
        run = await asyncio.to_thread(
            test_run, bars, strategy, parameters, window, options, timeframe
        )
        return run.metrics

    return test


async def stitch_folds(
    info: OptimizationInfo, deps: OptimizationDeps
) -> tuple[str, dict[str, float | None]]:
    """Run every fold's best on its test window again, chain them, store the curve; its URI
    and out-of-sample metrics."""
    folds = await deps.repo.folds(info.id)
    dataset_uri, dataset_sha256, timeframe = await deps.repo.source(info.id)
    bars = await deps.bars(dataset_uri, dataset_sha256)  # what the last chunk read, usually

    def build(path: Path) -> dict[str, float | None]:
        runs = []
        for fold in folds:
            test = fold.test
            run = (
                None
                if fold.best_parameters is None
                else test_run(
                    bars, info.strategy, fold.best_parameters, test, info.options, timeframe
                )
            )
            runs.append((fold.fold_index, run, bars.time[test.start_bar : test.end_bar]))
        curve = stitch(runs, float(info.options.initial_cash), timeframe)
        write_curve(curve, path)
        return curve.metrics

    scratch = deps.engine.store.scratch_dir() / f"{uuid.uuid4()}.parquet"
    metrics = await asyncio.to_thread(build, scratch)
    uri = deps.engine.store.put_file(
        f"optimizations/{info.owner_id}/{info.id}/walk_forward.parquet", scratch
    )
    return uri, metrics
