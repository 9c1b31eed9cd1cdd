"""Shape and tail of the distribution of per-bar returns: VaR, CVaR, skew, kurtosis, tails.

Inputs are 1-D arrays of simple returns; results are per-bar figures (not annualised), as
returns (so a 95 % VaR is normally negative), or None where undefined. Formulas:
docs/metrics.md.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.conventions import DDOF, FloatArray, as_float_array, finite_or_none


def _valid(returns: npt.ArrayLike, minimum: int) -> FloatArray | None:
    """Return the returns as an array, or None with fewer than ``minimum`` or any non-finite."""
    r = as_float_array(returns)
    if r.size < minimum or not np.isfinite(r).all():
        return None
    return r


def historical_var(returns: npt.ArrayLike, confidence: float = 0.95) -> float | None:
    """Return the ``1 - confidence`` quantile of the returns (numpy linear interpolation)."""
    r = _valid(returns, 1)
    return None if r is None else finite_or_none(np.percentile(r, 100.0 * (1.0 - confidence)))


def historical_cvar(returns: npt.ArrayLike, confidence: float = 0.95) -> float | None:
    """Return the mean of the ``floor((n - 1) * (1 - confidence)) + 1`` lowest returns."""
    r = _valid(returns, 1)
    if r is None:
        return None
    cutoff = int((r.size - 1) * (1.0 - confidence))
    return finite_or_none(np.mean(np.partition(r, cutoff)[: cutoff + 1]))


def parametric_var(returns: npt.ArrayLike, confidence: float = 0.95) -> float | None:
    """Return the Gaussian VaR ``mean(r) + z_(1 - confidence) * std(r, ddof=1)``."""
    r = _valid(returns, 2)
    if r is None:
        return None
    z = NormalDist().inv_cdf(1.0 - confidence)
    return finite_or_none(np.mean(r) + z * np.std(r, ddof=DDOF))


def skew(returns: npt.ArrayLike) -> float | None:
    """Return the adjusted Fisher-Pearson sample skewness G1; None for n < 3 or no dispersion.

    ``G1 = sqrt(n (n - 1)) / (n - 2) * m3 / m2^1.5`` with ``mk`` the k-th central moment
    (divided by n).
    """
    r = _valid(returns, 3)
    if r is None or np.ptp(r) == 0.0:
        return None
    n = float(r.size)
    deviation = r - np.mean(r)
    squared = deviation * deviation  # products, not **: a float power is ~10x slower
    m2 = np.mean(squared)
    m3 = np.mean(squared * deviation)
    return finite_or_none(np.sqrt(n * (n - 1.0)) / (n - 2.0) * m3 / m2**1.5)


def kurtosis(returns: npt.ArrayLike) -> float | None:
    """Return the sample excess kurtosis G2 (unbiased under normality); None for n < 4 or flat.

    ``G2 = (n - 1) / ((n - 2)(n - 3)) * ((n + 1) * m4 / m2^2 - 3 (n - 1))``.
    """
    r = _valid(returns, 4)
    if r is None or np.ptp(r) == 0.0:
        return None
    n = float(r.size)
    deviation = r - np.mean(r)
    squared = deviation * deviation
    m2 = np.mean(squared)
    m4 = np.mean(squared * squared)
    g2 = (n - 1.0) / ((n - 2.0) * (n - 3.0)) * ((n + 1.0) * m4 / m2**2 - 3.0 * (n - 1.0))
    return finite_or_none(g2)


def tail_ratio(returns: npt.ArrayLike) -> float | None:
    """Return ``|95th percentile| / |5th percentile|``; None when the 5th percentile is 0."""
    r = _valid(returns, 1)
    if r is None:
        return None
    lower = abs(float(np.percentile(r, 5.0)))
    return None if lower == 0.0 else finite_or_none(abs(float(np.percentile(r, 95.0))) / lower)
