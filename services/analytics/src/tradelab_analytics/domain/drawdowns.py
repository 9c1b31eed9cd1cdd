"""Drawdowns of an equity (or wealth) curve: the underwater curve and the worst periods."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.conventions import FloatArray, as_float_array


@dataclass(frozen=True)
class DrawdownPeriod:
    """One drawdown: from a peak to the first later value back at (or above) that peak.

    Attributes
    ----------
    start : int
        Index of the peak the drawdown starts from.
    trough : int
        Index of the lowest value within the period (the first one on ties).
    recovery : int or None
        First index after the trough whose value is at or above the peak; None if the curve
        never recovers.
    depth : float
        ``1 - value[trough] / value[start]``, a positive fraction.
    length : int
        Bars from ``start`` to ``recovery``, or to the last index when not recovered.
    """

    start: int
    trough: int
    recovery: int | None
    depth: float
    length: int


def underwater(equity: npt.ArrayLike) -> FloatArray:
    """Return the underwater curve ``v_t / max(v_0..v_t) - 1`` (zero or negative).

    Parameters
    ----------
    equity : array_like
        Equity (or wealth) values, oldest first; include the initial cash as the first value
        for drawdowns from the start to count.

    Returns
    -------
    numpy.ndarray
        Same length as ``equity``; 0 at new highs. Where the running peak is not positive the
        drawdown is undefined and reported as NaN.
    """
    values = as_float_array(equity)
    if values.size == 0:
        return values.copy()
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(peak > 0, values / peak - 1.0, np.nan)
    return np.asarray(out, dtype=np.float64)


def drawdown_periods(equity: npt.ArrayLike) -> list[DrawdownPeriod]:
    """Return every drawdown period of ``equity``, in time order.

    A period starts at the last peak before the curve drops below it and ends at the first
    value back at or above that peak (the recovery), or at the end of the data.

    Parameters
    ----------
    equity : array_like
        Equity values with a positive running peak.

    Returns
    -------
    list of DrawdownPeriod
        Empty when the curve never falls below its running peak.
    """
    values = as_float_array(equity)
    dd = underwater(values)
    below = np.nan_to_num(dd, nan=0.0) < 0.0
    periods: list[DrawdownPeriod] = []
    if not below.any():
        return periods
    # Edges of the runs of bars under water: a run [a, b) starts one bar after its peak.
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    last = values.size - 1
    for first_below, end in zip(starts, ends, strict=True):
        start = int(first_below) - 1
        trough = int(first_below + np.argmin(dd[first_below:end]))
        recovery = int(end) if end <= last else None
        length = (recovery if recovery is not None else last) - start
        depth = float(-dd[trough])
        periods.append(DrawdownPeriod(start, trough, recovery, depth, length))
    return periods


def worst_drawdowns(equity: npt.ArrayLike, count: int = 5) -> list[DrawdownPeriod]:
    """Return the ``count`` deepest drawdown periods, deepest first (earlier first on ties).

    Parameters
    ----------
    equity : array_like
        Equity values, as for :func:`drawdown_periods`.
    count : int, default 5
        How many periods at most.

    Returns
    -------
    list of DrawdownPeriod
    """
    periods = drawdown_periods(equity)
    ranked = sorted(periods, key=lambda period: (-period.depth, period.start))
    return ranked[:count]
