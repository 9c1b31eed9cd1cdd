"""Metrics relative to a benchmark: buy-and-hold returns, alpha and beta (CAPM regression)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.conventions import (
    FloatArray,
    as_float_array,
    finite_or_none,
    per_period_rate,
)

_MIN_VARIANCE = 1.0e-30  # below this the benchmark is flat and beta is undefined


def buy_and_hold_returns(close: npt.ArrayLike) -> FloatArray:
    """Return the per-bar returns of holding the asset bought at the first close.

    Parameters
    ----------
    close : array_like
        Closing prices, one per bar.

    Returns
    -------
    numpy.ndarray
        One return per bar: 0 for the first bar (bought at its close), then
        ``close_t / close_(t-1) - 1``; NaN where the previous close is not positive.
    """
    prices = as_float_array(close)
    if prices.size == 0:
        return prices.copy()
    previous = prices[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = np.where(previous > 0, prices[1:] / previous - 1.0, np.nan)
    return np.concatenate(([0.0], rest))


def alpha_beta(
    returns: npt.ArrayLike,
    benchmark: npt.ArrayLike,
    periods: float,
    risk_free: float = 0.0,
) -> tuple[float | None, float | None]:
    """Return the annualised alpha and the beta of ``returns`` against ``benchmark`` returns.

    ``beta = cov(r, b) / var(b)`` (population moments of the excess returns over the per-bar
    risk-free rate); ``alpha = (1 + mean(x - beta * y)) ** periods - 1`` with ``x``, ``y`` the
    excess returns of the strategy and the benchmark.

    Parameters
    ----------
    returns, benchmark : array_like
        Per-bar simple returns of the same bars (same length).
    periods : float
        Bars per year.
    risk_free : float, default 0
        Annual risk-free rate.

    Returns
    -------
    tuple of (float or None, float or None)
        ``(alpha, beta)``; both None with fewer than two bars, a non-finite value or a flat
        benchmark.
    """
    r = as_float_array(returns)
    b = as_float_array(benchmark)
    if r.size != b.size:
        msg = f"returns ({r.size}) and benchmark ({b.size}) differ in length"
        raise ValueError(msg)
    if r.size < 2 or not (np.isfinite(r).all() and np.isfinite(b).all()):
        return None, None
    rf = per_period_rate(risk_free, periods)
    x = r - rf
    y = b - rf
    y_centred = y - np.mean(y)
    variance = float(np.mean(y_centred**2))
    if variance < _MIN_VARIANCE:
        return None, None
    beta = float(np.mean(y_centred * x)) / variance
    alpha = (1.0 + float(np.mean(x - beta * y))) ** periods - 1.0
    return finite_or_none(alpha), finite_or_none(beta)
