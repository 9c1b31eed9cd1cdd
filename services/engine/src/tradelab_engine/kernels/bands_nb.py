"""Rolling extremes, Bollinger Bands and the Donchian channel.

See :mod:`tradelab_engine.kernels.ma_nb` for the conventions shared by every indicator kernel.
"""

import numpy as np
from numba import njit

from tradelab_engine.kernels.ma_nb import FloatArray, sma_1d_nb


@njit(cache=True, nogil=True)
def rolling_max_1d_nb(x: FloatArray, n: int) -> FloatArray:
    """Highest value of ``x[t-n+1..t]`` (current bar included); NaN for ``t < n - 1``.

    Same result as ``talib.MAX``. The extreme's position is remembered and the window is only
    rescanned when that position leaves it, so the cost is close to linear on market data.
    """
    if n < 1:
        raise ValueError("window must be at least 1")
    out = np.full(len(x), np.nan)
    best_idx = -1
    best = np.nan
    for t in range(n - 1, len(x)):
        lo = t - n + 1
        if best_idx < lo:
            best_idx = lo
            best = x[lo]
            for i in range(lo + 1, t + 1):
                if x[i] >= best:
                    best_idx = i
                    best = x[i]
        elif x[t] >= best:
            best_idx = t
            best = x[t]
        out[t] = best
    return out


@njit(cache=True, nogil=True)
def rolling_min_1d_nb(x: FloatArray, n: int) -> FloatArray:
    """Lowest value of ``x[t-n+1..t]`` (current bar included); NaN for ``t < n - 1``.

    Same result as ``talib.MIN``; see :func:`rolling_max_1d_nb` for the method.
    """
    if n < 1:
        raise ValueError("window must be at least 1")
    out = np.full(len(x), np.nan)
    best_idx = -1
    best = np.nan
    for t in range(n - 1, len(x)):
        lo = t - n + 1
        if best_idx < lo:
            best_idx = lo
            best = x[lo]
            for i in range(lo + 1, t + 1):
                if x[i] <= best:
                    best_idx = i
                    best = x[i]
        elif x[t] <= best:
            best_idx = t
            best = x[t]
        out[t] = best
    return out


@njit(cache=True, nogil=True)
def bbands_1d_nb(
    close: FloatArray, n: int, nbdev_up: float, nbdev_dn: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands: SMA(n) plus/minus a multiple of the population standard deviation.

    Parameters
    ----------
    close : FloatArray
        Input series.
    n : int
        Window length, at least 1.
    nbdev_up, nbdev_dn : float
        Multiples of the standard deviation added for the upper band and subtracted for the
        lower band.

    Returns
    -------
    tuple of FloatArray
        ``(upper, middle, lower)``, NaN for ``t < n - 1`` (as ``talib.BBANDS`` with
        ``matype=0``).

    Notes
    -----
    The variance is the two-pass ``mean((close - middle) ** 2)`` over each window; TA-Lib 0.8
    agrees with it to rounding, even on nearly flat high-priced series. Older TA-Lib releases
    used running sums ``mean(close ** 2) - middle ** 2``, which cancel catastrophically there,
    and zeroed any variance below 1e-8; this kernel does neither. Cost is
    ``O(len(close) * n)``.
    """
    middle = sma_1d_nb(close, n)
    upper = np.full(len(close), np.nan)
    lower = np.full(len(close), np.nan)
    for t in range(n - 1, len(close)):
        mean = middle[t]
        sq = 0.0
        for i in range(t - n + 1, t + 1):
            d = close[i] - mean
            sq += d * d
        std = np.sqrt(sq / n)
        upper[t] = mean + nbdev_up * std
        lower[t] = mean - nbdev_dn * std
    return upper, middle, lower


@njit(cache=True, nogil=True)
def donchian_1d_nb(high: FloatArray, low: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    """Donchian channel over the last ``n`` bars, CURRENT BAR INCLUDED.

    Parameters
    ----------
    high, low : FloatArray
        Bar highs and lows.
    n : int
        Window length, at least 1.

    Returns
    -------
    tuple of FloatArray
        ``(upper, lower)`` with ``upper[t] = max(high[t-n+1..t])`` and
        ``lower[t] = min(low[t-n+1..t])``; NaN for ``t < n - 1``.

    Notes
    -----
    Because the current bar is inside the window, a close can never exceed ``upper[t]``. A
    breakout rule compares ``close[t]`` with the channel of the previous ``n`` bars, which is
    ``upper[t - 1]`` (:func:`tradelab_engine.strategies.donchian` does exactly that).
    """
    return rolling_max_1d_nb(high, n), rolling_min_1d_nb(low, n)
