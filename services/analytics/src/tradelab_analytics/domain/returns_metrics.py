"""Performance and risk-adjusted metrics of per-bar simple returns.

Every function takes a 1-D array of simple returns ``r`` (one per bar, oldest first) and returns
a float, or None where the metric is undefined: too few returns, a zero denominator, or a
non-finite input (equity at or below zero). ``periods`` is bars per year
(:func:`~tradelab_analytics.domain.conventions.periods_per_year`); ``risk_free`` is an annual
rate, compounded down to a per-bar rate. Formulas: docs/metrics.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.conventions import (
    DDOF,
    FloatArray,
    as_float_array,
    finite_or_none,
    per_period_rate,
)
from tradelab_analytics.domain.drawdowns import drawdown_periods, underwater


def _valid(returns: npt.ArrayLike, minimum: int) -> FloatArray | None:
    """Return the returns as an array, or None with fewer than ``minimum`` or any non-finite."""
    r = as_float_array(returns)
    if r.size < minimum or not np.isfinite(r).all():
        return None
    return r


def wealth(returns: npt.ArrayLike) -> FloatArray:
    """Return the growth of 1: ``[1, (1 + r_0), (1 + r_0)(1 + r_1), ...]`` (length n + 1)."""
    r = as_float_array(returns)
    return np.concatenate(([1.0], np.cumprod(1.0 + r)))


def total_return(returns: npt.ArrayLike) -> float | None:
    """Return the compounded return ``prod(1 + r) - 1`` (0 for no returns)."""
    r = _valid(returns, 0)
    return None if r is None else finite_or_none(np.prod(1.0 + r) - 1.0)


def cagr(returns: npt.ArrayLike, periods: float) -> float | None:
    """Return the compound annual growth rate ``(1 + total) ** (periods / n) - 1``.

    None with no returns or when the final wealth is not positive.
    """
    r = _valid(returns, 1)
    if r is None:
        return None
    final = float(np.prod(1.0 + r))
    return None if final <= 0 else finite_or_none(final ** (periods / r.size) - 1.0)


def annual_volatility(returns: npt.ArrayLike, periods: float) -> float | None:
    """Return ``std(r, ddof=1) * sqrt(periods)``; None with fewer than two returns."""
    r = _valid(returns, 2)
    return None if r is None else finite_or_none(np.std(r, ddof=DDOF) * np.sqrt(periods))


def sharpe(returns: npt.ArrayLike, periods: float, risk_free: float = 0.0) -> float | None:
    """Return ``mean(x) / std(x, ddof=1) * sqrt(periods)`` with ``x = r - rf_bar``.

    None with fewer than two returns or zero dispersion.
    """
    r = _valid(returns, 2)
    if r is None:
        return None
    excess = r - per_period_rate(risk_free, periods)
    if np.ptp(r) == 0.0:
        return None
    return finite_or_none(np.mean(excess) / np.std(excess, ddof=DDOF) * np.sqrt(periods))


def downside_deviation(
    returns: npt.ArrayLike, periods: float, risk_free: float = 0.0
) -> float | None:
    """Return the annualised target semi-deviation ``sqrt(mean(min(x, 0)^2) * periods)``."""
    r = _valid(returns, 1)
    if r is None:
        return None
    shortfall = np.minimum(r - per_period_rate(risk_free, periods), 0.0)
    return finite_or_none(np.sqrt(np.mean(shortfall**2) * periods))


def sortino(returns: npt.ArrayLike, periods: float, risk_free: float = 0.0) -> float | None:
    """Return ``mean(x) * periods / downside_deviation``; None with no downside or < 2 returns."""
    r = _valid(returns, 2)
    downside = downside_deviation(returns, periods, risk_free)
    if r is None or downside is None or downside == 0.0:
        return None
    excess = r - per_period_rate(risk_free, periods)
    return finite_or_none(np.mean(excess) * periods / downside)


def max_drawdown(returns: npt.ArrayLike) -> float | None:
    """Return the largest fall of the wealth curve from its running peak, a positive fraction.

    The wealth curve starts at 1 before the first return, so a first-bar loss counts.
    """
    r = _valid(returns, 1)
    return None if r is None else finite_or_none(-np.min(underwater(wealth(r))))


def calmar(returns: npt.ArrayLike, periods: float) -> float | None:
    """Return ``cagr / max_drawdown``; None without a drawdown."""
    growth = cagr(returns, periods)
    depth = max_drawdown(returns)
    if growth is None or depth is None or depth == 0.0:
        return None
    return finite_or_none(growth / depth)


def omega(returns: npt.ArrayLike, periods: float, risk_free: float = 0.0) -> float | None:
    """Return ``sum(max(x, 0)) / sum(max(-x, 0))`` with ``x = r - rf_bar``; None without losses."""
    r = _valid(returns, 2)
    if r is None:
        return None
    excess = r - per_period_rate(risk_free, periods)
    losses = -excess[excess < 0.0].sum()
    return None if losses <= 0.0 else finite_or_none(excess[excess > 0.0].sum() / losses)


def drawdown_summary(returns: npt.ArrayLike) -> dict[str, float | None]:
    """Return the drawdown figures of the wealth curve of ``returns``.

    Returns
    -------
    dict
        ``max_drawdown_duration``: bars from the peak of the deepest drawdown to its recovery
        (or to the last bar); ``longest_drawdown_duration``: the longest such period of any
        drawdown; ``average_drawdown``: mean depth of all drawdown periods (0 without any).
        All None for non-finite returns.
    """
    names = ("max_drawdown_duration", "longest_drawdown_duration", "average_drawdown")
    r = _valid(returns, 0)
    if r is None:
        return dict.fromkeys(names)
    periods = drawdown_periods(wealth(r))
    if not periods:
        return dict.fromkeys(names, 0.0)
    deepest = max(periods, key=lambda period: period.depth)
    return {
        "max_drawdown_duration": float(deepest.length),
        "longest_drawdown_duration": float(max(period.length for period in periods)),
        "average_drawdown": float(np.mean([period.depth for period in periods])),
    }


def ulcer_index(returns: npt.ArrayLike) -> float | None:
    """Return ``sqrt(mean(d_t^2))`` over the n bars, d_t the underwater value (fraction)."""
    r = _valid(returns, 1)
    return None if r is None else finite_or_none(np.sqrt(np.mean(underwater(wealth(r))[1:] ** 2)))


def stability(returns: npt.ArrayLike) -> float | None:
    """Return R² of a straight-line fit of the cumulative log returns against time."""
    r = _valid(returns, 2)
    if r is None or np.any(r <= -1.0):
        return None
    cumulative = np.cumsum(np.log1p(r))
    if np.ptp(cumulative) == 0.0:
        return None
    return finite_or_none(np.corrcoef(np.arange(r.size), cumulative)[0, 1] ** 2)


def exposure(position: npt.ArrayLike) -> float | None:
    """Return the fraction of bars holding a non-zero position at the close; None for no bars."""
    held = as_float_array(position)
    return None if held.size == 0 else float(np.count_nonzero(held) / held.size)
