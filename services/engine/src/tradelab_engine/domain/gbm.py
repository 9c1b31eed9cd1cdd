"""Price paths from geometric Brownian motion fitted to a dataset, and a strategy run on each.

Model, per bar: dS/S = mu dt + sigma dW, so log returns are i.i.d. normal with mean
``mu - sigma^2 / 2`` and standard deviation ``sigma``. The fit takes the log returns of the
dataset's closes: ``sigma`` is their sample standard deviation (ddof=1) and ``mu`` their mean plus
``sigma^2 / 2``. A simulated path starts at the dataset's first close and adds one drawn log
return per bar (exact discretisation, no Euler error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tradelab_engine.domain.bars import FloatArray
from tradelab_engine.domain.montecarlo import StreamFn, StreamOutcomes, fan_steps, path_outcomes

EquityOf = Callable[[FloatArray], FloatArray]
"""Run the strategy on closes; return its equity at each bar's close (one value per bar)."""


@dataclass(frozen=True)
class GbmFit:
    """Per-bar drift and volatility of a geometric Brownian motion, and the bars they came from."""

    mu: float
    sigma: float
    bars: int

    @property
    def log_drift(self) -> float:
        """Mean log return per bar, ``mu - sigma^2 / 2``."""
        return self.mu - self.sigma**2 / 2


def fit_gbm(close: FloatArray) -> GbmFit:
    """Fit per-bar ``mu`` and ``sigma`` to positive closes (at least three bars).

    Raises
    ------
    ValueError
        With fewer than three closes, or a close that is not positive and finite.
    """
    prices = np.asarray(close, dtype=np.float64)
    if len(prices) < 3:
        msg = "fitting a price model needs at least three bars"
        raise ValueError(msg)
    if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        msg = "fitting a price model needs positive, finite closes"
        raise ValueError(msg)
    log_returns = np.diff(np.log(prices))
    sigma = float(np.std(log_returns, ddof=1))
    return GbmFit(mu=float(np.mean(log_returns)) + sigma**2 / 2, sigma=sigma, bars=len(prices))


def gbm_closes(rng: np.random.Generator, fit: GbmFit, start: float, bars: int) -> FloatArray:
    """One simulated path of ``bars`` closes starting at ``start`` (draws ``bars - 1`` normals)."""
    steps = fit.log_drift + fit.sigma * rng.standard_normal(bars - 1)
    return start * np.exp(np.concatenate(([0.0], np.cumsum(steps))))


def gbm_stream(
    fit: GbmFit, *, start: float, bars: int, initial_cash: float, equity_of: EquityOf
) -> StreamFn:
    """Simulate paths of ``bars`` closes and run the strategy (``equity_of``) on each.

    A path's equity series is the initial cash, then the strategy's equity at each bar's close,
    so it has ``bars`` steps.
    """
    if bars < 2:
        msg = "a simulated path needs at least two bars"
        raise ValueError(msg)
    sampled = fan_steps(bars)

    def simulate(rng: np.random.Generator, count: int) -> StreamOutcomes:
        final, worst = np.empty(count), np.empty(count)
        fan = np.empty((count, len(sampled)), dtype=np.float32)
        for row in range(count):
            equity = equity_of(gbm_closes(rng, fit, start, bars))
            path = np.concatenate(([initial_cash], equity))
            final[row], worst[row], fan[row] = path_outcomes(path, sampled)
        return StreamOutcomes(final, worst, fan)

    return simulate
