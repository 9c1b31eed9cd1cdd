"""What Monte Carlo studies read and write in the object store: a finished run's trade and bar
returns (the files ``results_writer`` wrote), and every simulated outcome."""

from pathlib import Path

import numpy as np
import polars as pl

from tradelab_engine.domain.bars import FloatArray


def closed_trade_returns(path: Path) -> FloatArray:
    """Return the ``return`` of every closed trade of a run, in order (the open one is left out:
    its return is not realised)."""
    frame = pl.read_parquet(path, columns=["return", "is_open"])
    closed = frame.filter(~pl.col("is_open"))
    return np.ascontiguousarray(closed["return"].to_numpy(), dtype=np.float64)


def bar_returns(path: Path, initial_cash: float) -> FloatArray:
    """Return a run's simple return per bar, the first one from the initial cash (as in the
    backtest summary).

    Raises
    ------
    ValueError
        When equity is not positive throughout (returns are undefined then).
    """
    equity = pl.read_parquet(path, columns=["equity"])["equity"].to_numpy().astype(np.float64)
    values = np.concatenate(([initial_cash], equity))
    if len(equity) == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        msg = "the run's equity is not positive throughout, so its bar returns are undefined"
        raise ValueError(msg)
    return np.ascontiguousarray(values[1:] / values[:-1] - 1.0)


def write_outcomes(
    path: Path, final_equity: FloatArray, max_drawdown: FloatArray, initial_cash: float
) -> None:
    """Write one row per simulation: its index, final equity, total return and max drawdown."""
    pl.DataFrame(
        {
            "simulation": np.arange(len(final_equity), dtype=np.int64),
            "final_equity": final_equity,
            "total_return": final_equity / initial_cash - 1.0,
            "max_drawdown": max_drawdown,
        }
    ).write_parquet(path, compression="zstd")


def row_count(path: Path) -> int:
    """Rows of a Parquet file, from its footer (no column is read)."""
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())
