"""Preview of a normalised dataset: rows from both ends and per-column statistics."""

import math
from typing import Any

import polars as pl

from tradelab_contracts.datasets_rpc import DatasetPreview

STATISTICS = ("count", "null_count", "mean", "std", "min", "max")


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.with_columns(
        pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ").alias("time")
    ).to_dicts()
    return rows


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def preview(frame: pl.DataFrame, rows: int) -> DatasetPreview:
    """Return the first and last ``rows`` rows and statistics of every numeric column.

    ``std`` is the sample standard deviation (ddof=1), as polars computes it.
    """
    summary: dict[str, dict[str, float | None]] = {}
    for name in frame.columns:
        column = frame[name]
        if not column.dtype.is_numeric():
            continue
        summary[name] = {
            "count": float(column.len() - column.null_count()),
            "null_count": float(column.null_count()),
            "mean": _finite(column.mean()),  # type: ignore[arg-type]
            "std": _finite(column.std()),  # type: ignore[arg-type]
            "min": _finite(column.min()),  # type: ignore[arg-type]
            "max": _finite(column.max()),  # type: ignore[arg-type]
        }
    return DatasetPreview(
        head=_rows(frame.head(rows)), tail=_rows(frame.tail(rows)), summary=summary
    )
