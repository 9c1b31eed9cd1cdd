"""Backtest results -> Parquet files in the object store (the data plane)."""

from pathlib import Path

import numpy as np
import polars as pl

from tradelab_engine.domain.bars import FloatArray, IntArray
from tradelab_engine.domain.records import NAT_NS


def write_equity(
    path: Path,
    time: IntArray,
    close: FloatArray,
    equity: FloatArray,
    cash: FloatArray,
    position: FloatArray,
) -> None:
    """Write the per-bar curve (time UTC, the asset's close, equity, cash, position, drawdown).

    The close travels with the equity so analytics can benchmark against buy-and-hold and draw
    trades on the price without reading the dataset."""
    peak = np.maximum.accumulate(equity)
    drawdown = np.where(peak > 0, equity / peak - 1.0, 0.0)
    pl.DataFrame(
        {
            "time": pl.Series(time, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
            "close": close,
            "equity": equity,
            "cash": cash,
            "position": position,
            "drawdown": drawdown,
        }
    ).write_parquet(path, compression="zstd")


def write_trades(path: Path, trades: np.ndarray) -> None:
    """Write the trade records (a structured array) as one Parquet table."""
    columns = {name: trades[name] for name in trades.dtype.names or ()}
    frame = pl.DataFrame(columns)
    for name in ("entry_time", "exit_time"):
        if name in frame.columns:
            # An open trade's exit_time is NaT (int64 minimum): null in the file.
            as_time = pl.col(name).cast(pl.Datetime("ns", "UTC"))
            frame = frame.with_columns(
                pl.when(pl.col(name) == NAT_NS).then(None).otherwise(as_time).alias(name)
            )
    frame.write_parquet(path, compression="zstd")
