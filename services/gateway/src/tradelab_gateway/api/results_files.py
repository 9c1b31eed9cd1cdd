"""Reading result Parquet files for the API: downsampled equity, paged trades (JSON-ready)."""

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    frame = frame.with_columns(
        pl.col(c).dt.strftime(TIME_FORMAT) for c, t in frame.schema.items() if t.is_temporal()
    )
    rows = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                row[key] = None  # JSON has no NaN: an open trade's exit is null
    return rows


def equity_points(path: Path, points: int | None) -> tuple[int, list[dict[str, Any]]]:
    """Return the curve's length and its rows, thinned evenly to ``points`` (ends kept)."""
    frame = pl.read_parquet(path)
    total = frame.height
    if points is not None and points < total:
        index = np.unique(np.linspace(0, total - 1, points).round().astype(np.int64))
        frame = frame[index]
    return total, _json_rows(frame)


def trade_rows(path: Path, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """Return the number of trades and one page of them."""
    frame = pl.read_parquet(path)
    return frame.height, _json_rows(frame.slice(offset, limit))
