"""Detect the bar size of a series from the spacing of its timestamps.

The median of the positive time deltas is compared with each known bar size, within 5 %.
Using the median makes closures irrelevant: daily bars that skip weekends and holidays are
still mostly one day apart, minute bars with overnight breaks mostly one minute apart.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

IRREGULAR = "irregular"
_TOLERANCE = 0.05
TIMEFRAMES: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    # Nominal month (365.25 / 12 days); detection accepts any 28-31 day median.
    "1mo": timedelta(days=30.4375),
}
_MONTH_RANGE = (timedelta(days=28), timedelta(days=31))


def detect_timeframe(time: pl.Series) -> str:
    """Return ``1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w, 1mo`` or ``irregular``.

    Parameters
    ----------
    time
        Sorted timestamps (``Datetime``).
    """
    deltas = time.to_physical().diff()
    positive = deltas.filter(deltas > 0)
    median = positive.quantile(0.5, "midpoint")
    if median is None:
        return IRREGULAR
    spacing = timedelta(microseconds=median)
    if _MONTH_RANGE[0] <= spacing <= _MONTH_RANGE[1]:
        return "1mo"
    for label, step in TIMEFRAMES.items():
        if abs(spacing - step) <= step * _TOLERANCE:
            return label
    return IRREGULAR


def timeframe_step(timeframe: str) -> timedelta | None:
    """Return the nominal spacing of ``timeframe``, or None when it is irregular or unknown."""
    return TIMEFRAMES.get(timeframe)
