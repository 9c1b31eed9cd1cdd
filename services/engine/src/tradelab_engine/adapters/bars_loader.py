"""Normalised dataset Parquet -> :class:`Bars` (polars -> numpy happens here, never in kernels)."""

from pathlib import Path

import numpy as np
import polars as pl

from tradelab_engine.domain.bars import Bars


def bar_count(path: Path) -> int:
    """The bars of a dataset file, from its Parquet metadata (nothing else is read)."""
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def load_bars(path: Path) -> Bars:
    """Read a dataset written by the datasets service (time in UTC, float64 prices).

    Close-only data gets open = high = low = close, so fills at the "next open" are at the next
    close (documented in docs/engine.md).
    """
    frame = pl.read_parquet(path)
    close = frame["close"].to_numpy().astype(np.float64)

    def column(name: str, fallback: np.ndarray) -> np.ndarray:
        if name not in frame.columns:
            return fallback.copy()
        values = frame[name].to_numpy().astype(np.float64)
        return np.where(np.isnan(values), fallback, values)

    volume = (
        frame["volume"].to_numpy().astype(np.float64)
        if "volume" in frame.columns
        else np.full(len(close), np.nan)
    )
    time = frame["time"].dt.epoch("ns").to_numpy().astype(np.int64)
    return Bars(
        time=np.ascontiguousarray(time),
        open=np.ascontiguousarray(column("open", close)),
        high=np.ascontiguousarray(column("high", close)),
        low=np.ascontiguousarray(column("low", close)),
        close=np.ascontiguousarray(close),
        volume=np.ascontiguousarray(volume),
    )
