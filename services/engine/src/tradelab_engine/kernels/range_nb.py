"""Range-based kernels: true range, ATR and ADX (Wilder), TA-Lib compatible.

See :mod:`tradelab_engine.kernels.ma_nb` for the conventions shared by every indicator kernel.
"""

import numpy as np
from numba import njit

from tradelab_engine.kernels.ma_nb import FloatArray


@njit(cache=True, nogil=True)
def _true_range(high: FloatArray, low: FloatArray, close: FloatArray, t: int) -> float:
    greatest: float = high[t] - low[t]
    up = abs(close[t - 1] - high[t])
    if up > greatest:
        greatest = up
    down = abs(low[t] - close[t - 1])
    if down > greatest:
        greatest = down
    return greatest


@njit(cache=True, nogil=True)
def true_range_1d_nb(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range ``max(high - low, |high - prev close|, |low - prev close|)``.

    Returns
    -------
    FloatArray
        NaN at bar 0, which has no previous close (as ``talib.TRANGE``).
    """
    out = np.full(len(close), np.nan)
    for t in range(1, len(close)):
        out[t] = _true_range(high, low, close, t)
    return out


@njit(cache=True, nogil=True)
def atr_1d_nb(high: FloatArray, low: FloatArray, close: FloatArray, n: int) -> FloatArray:
    """Average true range with Wilder smoothing, seeded as TA-Lib does.

    Parameters
    ----------
    high, low, close : FloatArray
        Bar highs, lows and closes.
    n : int
        Period, at least 1.

    Returns
    -------
    FloatArray
        ``out[n]`` is the mean true range of bars ``1..n``; after it
        ``out[t] = (out[t-1] * (n - 1) + TR[t]) / n``. NaN for ``t < n`` (as ``talib.ATR``).
    """
    if n < 1:
        raise ValueError("ATR period must be at least 1")
    out = np.full(len(close), np.nan)
    if n >= len(close):
        return out
    atr = 0.0
    for t in range(1, n + 1):
        atr += _true_range(high, low, close, t)
    atr /= n
    out[n] = atr
    for t in range(n + 1, len(close)):
        atr *= n - 1
        atr += _true_range(high, low, close, t)
        atr /= n
        out[t] = atr
    return out


@njit(cache=True, nogil=True)
def _directional_move(high: FloatArray, low: FloatArray, t: int) -> tuple[float, float]:
    """Return ``(+DM, -DM)`` of bar ``t``: only the larger positive move counts, ties count none."""
    up = high[t] - high[t - 1]
    down = low[t - 1] - low[t]
    if down > 0 and up < down:
        return 0.0, down
    if up > 0 and up > down:
        return up, 0.0
    return 0.0, 0.0


@njit(cache=True, nogil=True)
def _dx(plus_dm: float, minus_dm: float, tr: float) -> float:
    """Directional index from smoothed sums; NaN where it is 0/0."""
    if tr == 0.0:
        return np.nan
    minus_di = 100.0 * (minus_dm / tr)
    plus_di = 100.0 * (plus_dm / tr)
    total = minus_di + plus_di
    if total == 0.0:
        return np.nan
    return 100.0 * (abs(minus_di - plus_di) / total)


@njit(cache=True, nogil=True)
def _wilder_step(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    t: int,
    n: int,
    sums: tuple[float, float, float],
) -> tuple[float, float, float]:
    """Advance the Wilder sums ``(+DM, -DM, TR)`` by bar ``t``: ``s - s / n + today``."""
    plus, minus, tr = sums
    up, down = _directional_move(high, low, t)
    plus = plus - plus / n + up
    minus = minus - minus / n + down
    tr = tr - (tr / n) + _true_range(high, low, close, t)
    return plus, minus, tr


@njit(cache=True, nogil=True)
def adx_1d_nb(high: FloatArray, low: FloatArray, close: FloatArray, n: int) -> FloatArray:
    """Average directional index (Wilder), seeded as ``talib.ADX``.

    Parameters
    ----------
    high, low, close : FloatArray
        Bar highs, lows and closes.
    n : int
        Period, at least 2.

    Returns
    -------
    FloatArray
        ADX in [0, 100]; NaN for ``t < 2 n - 1`` (as ``talib.ADX``). The +DM, -DM and TR sums
        start as plain sums over bars ``1..n-1`` and are then smoothed with
        ``s = s - s / n + today``; the first ADX is the mean DX of bars ``n..2n-1``, then
        ``adx = (adx * (n - 1) + dx) / n``. A bar whose DX is 0/0 (no range, or no directional
        movement) leaves the ADX unchanged and adds nothing to the first mean.

    Notes
    -----
    "0/0" means exactly zero, as in TA-Lib 0.8; older TA-Lib releases treated any magnitude
    below 1e-8 as zero, which flattened instruments whose ranges are that small.
    """
    if n < 2:
        raise ValueError("ADX period must be at least 2")
    out = np.full(len(close), np.nan)
    first = 2 * n - 1
    if first >= len(close):
        return out
    plus = minus = tr = 0.0
    for t in range(1, n):
        up, down = _directional_move(high, low, t)
        plus += up
        minus += down
        tr += _true_range(high, low, close, t)
    sums = (plus, minus, tr)
    sum_dx = 0.0
    for t in range(n, first + 1):
        sums = _wilder_step(high, low, close, t, n, sums)
        dx = _dx(sums[0], sums[1], sums[2])
        if not np.isnan(dx):
            sum_dx += dx
    adx = sum_dx / n
    out[first] = adx
    for t in range(first + 1, len(close)):
        sums = _wilder_step(high, low, close, t, n, sums)
        dx = _dx(sums[0], sums[1], sums[2])
        if not np.isnan(dx):
            adx = (adx * (n - 1) + dx) / n
        out[t] = adx
    return out
