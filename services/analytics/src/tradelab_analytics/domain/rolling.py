"""Rolling-window statistics of per-bar returns and their histogram, in O(n).

A window holding a non-finite return gives NaN, as do the first ``window - 1`` bars. Standard
deviations are sample ones (ddof=1), annualised by ``sqrt(periods)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.conventions import DDOF, FloatArray, as_float_array, per_period_rate

_DIRECT_WINDOW = 32
"""Up to this many bars a window's variance is summed bar by bar (two passes, exact to
rounding); longer windows use block sums, whose error only grows where a window is nearly flat
far from its neighbours' mean."""


def _direct_moments(values: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Return each full window's mean and sum of squared deviations, summing bar by bar."""
    n = values.size
    total = np.zeros(n - window + 1)
    for offset in range(window):
        total += values[offset : n - window + 1 + offset]
    mean = total / window
    squares = np.zeros_like(mean)
    for offset in range(window):
        deviation = values[offset : n - window + 1 + offset] - mean
        squares += deviation * deviation
    return mean, squares


def _blocked_moments(values: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Return each full window's mean and sum of squared deviations, from block sums.

    The bars are cut into blocks of ``window``; each block is centred on its own mean and
    summed from its start. A window is the tail of one block (re-centred on the next block's
    mean) and the head of the next, so it adds only local numbers and the rounding error stays
    at the scale of the neighbouring blocks however long or drifting the series is.
    """
    n = values.size
    blocks = np.concatenate((values, np.full(-n % window, values[-1]))).reshape(-1, window)
    centre = blocks.mean(axis=1)
    deviation = blocks - centre[:, None]
    p1 = np.cumsum(deviation, axis=1)
    p2 = np.cumsum(deviation * deviation, axis=1)
    tail1 = p1[:-1, -1:] - p1[:-1]  # block k - 1 after offset j: window - 1 - j bars
    tail2 = p2[:-1, -1:] - p2[:-1]
    shift = (centre[:-1] - centre[1:])[:, None]
    tail_bars = np.arange(window - 1, -1, -1, dtype=np.float64)
    s1 = np.concatenate(([p1[0, -1]], (p1[1:] + tail1 + tail_bars * shift).ravel()))
    s2 = np.concatenate(
        ([p2[0, -1]], (p2[1:] + tail2 + 2.0 * shift * tail1 + tail_bars * shift**2).ravel())
    )
    full = n - window + 1  # windows ending at bars window - 1 .. n - 1
    s1, s2 = s1[:full], s2[:full]
    mean = s1 / window + np.repeat(centre, window)[window - 1 : n]
    return mean, np.maximum(s2 - s1 * s1 / window, 0.0)


def _window_counts(flags: npt.NDArray[np.bool_], window: int) -> npt.NDArray[np.int64]:
    """Return how many ``flags`` are set in the window ending at each bar (exact integers)."""
    total = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    counts = np.zeros(flags.size, dtype=np.int64)
    counts[window - 1 :] = total[window:] - total[: total.size - window]
    return counts


def _rolling_mean_std(returns: npt.ArrayLike, window: int) -> tuple[FloatArray, FloatArray]:
    """Return the rolling mean and sample standard deviation of ``returns``."""
    r = as_float_array(returns)
    if window < DDOF + 1:
        msg = f"window must be at least {DDOF + 1}, got {window}"
        raise ValueError(msg)
    if r.size < window:
        empty = np.full(r.size, np.nan)
        return empty, empty.copy()
    finite = np.isfinite(r)
    clean = np.where(finite, r, 0.0)
    moments = _direct_moments if window <= _DIRECT_WINDOW else _blocked_moments
    full_mean, squares = moments(clean, window)
    mean = np.concatenate((np.full(window - 1, np.nan), full_mean))
    variance = np.concatenate((np.full(window - 1, np.nan), squares / (window - DDOF)))
    # A window whose values are all equal has no dispersion at all, not a rounding residue.
    changes = np.concatenate(([False], clean[1:] != clean[:-1]))
    variance[_window_counts(changes, window - 1) == 0] = 0.0
    invalid = _window_counts(~finite, window) > 0
    invalid[: window - 1] = True
    mean = np.where(invalid, np.nan, mean)
    return mean, np.where(invalid, np.nan, np.sqrt(variance))


def rolling_volatility(returns: npt.ArrayLike, window: int, periods: float) -> FloatArray:
    """Return the annualised volatility ``std(r, ddof=1) * sqrt(periods)`` of each window.

    Parameters
    ----------
    returns : array_like
        Per-bar simple returns, oldest first.
    window : int
        Bars per window, at least 2.
    periods : float
        Bars per year.

    Returns
    -------
    numpy.ndarray
        Same length as ``returns``; NaN for the first ``window - 1`` bars and for windows
        holding a non-finite return.
    """
    _, std = _rolling_mean_std(returns, window)
    return np.asarray(std * np.sqrt(periods), dtype=np.float64)


def rolling_sharpe(
    returns: npt.ArrayLike, window: int, periods: float, risk_free: float = 0.0
) -> FloatArray:
    """Return the annualised Sharpe ratio of each window, as ``returns_metrics.sharpe`` does.

    Parameters
    ----------
    returns : array_like
        Per-bar simple returns, oldest first.
    window : int
        Bars per window, at least 2.
    periods : float
        Bars per year.
    risk_free : float, default 0
        Annual risk-free rate, compounded down to a per-bar rate.

    Returns
    -------
    numpy.ndarray
        ``mean(x) / std(x, ddof=1) * sqrt(periods)`` over each window, ``x = r - rf_bar``; NaN
        as for :func:`rolling_volatility` and where a window has no dispersion.
    """
    mean, std = _rolling_mean_std(returns, window)
    excess = mean - per_period_rate(risk_free, periods)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(std > 0.0, excess / std * np.sqrt(periods), np.nan)
    return np.asarray(ratio, dtype=np.float64)


def returns_histogram(
    returns: npt.ArrayLike, bins: int = 50
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Return the histogram of the finite returns.

    Parameters
    ----------
    returns : array_like
        Per-bar simple returns; NaN and infinite values are left out.
    bins : int, default 50
        Number of equal-width bins between the smallest and the largest finite return.

    Returns
    -------
    tuple of numpy.ndarray
        ``(edges, counts)`` as :func:`numpy.histogram` gives them: ``bins + 1`` edges and
        ``bins`` counts summing to the number of finite returns.
    """
    r = as_float_array(returns)
    counts, edges = np.histogram(r[np.isfinite(r)], bins=bins)
    return np.asarray(edges, dtype=np.float64), counts.astype(np.int64)
