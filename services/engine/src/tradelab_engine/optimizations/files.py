"""The files an optimisation leaves: every result in one Parquet file, and a walk-forward's
stitched out-of-sample equity."""

from pathlib import Path
from typing import Any

import polars as pl

from tradelab_contracts.engine_rpc import OptimizationResultRow
from tradelab_engine.domain.optimize import SWEEP_METRICS
from tradelab_engine.domain.walkforward import Stitched


def write_results(rows: list[OptimizationResultRow], path: Path) -> None:
    """Every result, one row per combination, its parameters also as columns of their own."""
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


def write_curve(curve: Stitched, path: Path) -> None:
    """The stitched out-of-sample equity: time, equity and the fold each point belongs to."""
    pl.DataFrame(
        {
            "time": pl.Series(curve.time).cast(pl.Datetime("ns", "UTC")),
            "equity": curve.equity,
            "fold": curve.fold,
        }
    ).write_parquet(path, compression="zstd")


def read_curve(path: Path, max_points: int) -> dict[str, Any]:
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
