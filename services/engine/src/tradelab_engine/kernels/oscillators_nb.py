"""Oscillator kernels: RSI, MACD and the slow stochastic, TA-Lib compatible.

See :mod:`tradelab_engine.kernels.ma_nb` for the conventions shared by every indicator kernel.
"""

import numpy as np
from numba import njit

from tradelab_engine.kernels.bands_nb import rolling_max_1d_nb, rolling_min_1d_nb
from tradelab_engine.kernels.ma_nb import FloatArray, ema_into_nb, sma_into_nb

NEUTRAL = 50.0
"""Value of RSI and %K when they are 0/0 (no price movement at all)."""


@njit(cache=True, nogil=True)
def _rsi_value(gain: float, loss: float) -> float:
    total = gain + loss
    if total == 0.0:
        return NEUTRAL
    return 100.0 * (gain / total)


@njit(cache=True, nogil=True)
def rsi_1d_nb(close: FloatArray, n: int) -> FloatArray:
    """Relative Strength Index with Wilder smoothing, seeded as TA-Lib does.

    Parameters
    ----------
    close : FloatArray
        Input series.
    n : int
        Period, at least 2.

    Returns
    -------
    FloatArray
        RSI in [0, 100]; NaN for ``t < n`` (as ``talib.RSI``). The first value uses the plain
        means of the gains and losses of the first ``n`` changes; after that
        ``avg = (avg * (n - 1) + change) / n``; ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``.

    Notes
    -----
    Deliberate difference from TA-Lib: when ``avg_gain + avg_loss`` is exactly zero (a flat
    window) the RSI is 50, where TA-Lib returns 0, which would make a halted or stale price look
    maximally oversold to a reversion rule. Otherwise identical.
    """
    if n < 2:
        raise ValueError("RSI period must be at least 2")
    out = np.full(len(close), np.nan)
    if n >= len(close):
        return out
    gain = 0.0
    loss = 0.0
    for t in range(1, n + 1):
        change = close[t] - close[t - 1]
        if change < 0:
            loss -= change
        else:
            gain += change
    loss /= n
    gain /= n
    out[n] = _rsi_value(gain, loss)
    for t in range(n + 1, len(close)):
        change = close[t] - close[t - 1]
        loss *= n - 1
        gain *= n - 1
        if change < 0:
            loss -= change
        else:
            gain += change
        loss /= n
        gain /= n
        out[t] = _rsi_value(gain, loss)
    return out


@njit(cache=True, nogil=True)
def macd_1d_nb(
    close: FloatArray, fast: int, slow: int, signal: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram with TA-Lib's alignment.

    Parameters
    ----------
    close : FloatArray
        Input series.
    fast, slow : int
        EMA periods, at least 2; swapped if ``slow < fast`` (as TA-Lib does).
    signal : int
        Period of the signal EMA, at least 1.

    Returns
    -------
    tuple of FloatArray
        ``(macd, signal_line, hist)``, all NaN for ``t < slow + signal - 2`` (as ``talib.MACD``).

    Notes
    -----
    TA-Lib's alignment, followed here: both EMAs are seeded at bar ``slow - 1``, the slow one
    with the mean of the first ``slow`` closes and the fast one with the mean of the ``fast``
    closes ending there. The fast EMA therefore differs from ``talib.EMA(close, fast)`` at the
    start (the difference decays geometrically). The signal line is an EMA of the MACD line
    seeded with the mean of its first ``signal`` values; the MACD line is reported only from
    where the signal line exists.
    """
    if fast < 2 or slow < 2 or signal < 1:
        raise ValueError("MACD periods must be >= 2 (fast, slow) and >= 1 (signal)")
    if slow < fast:
        fast, slow = slow, fast
    size = len(close)
    fast_ema = np.full(size, np.nan)
    slow_ema = np.full(size, np.nan)
    ema_into_nb(close, fast, 2.0 / (fast + 1), slow - 1, fast_ema)
    ema_into_nb(close, slow, 2.0 / (slow + 1), slow - 1, slow_ema)
    line = fast_ema - slow_ema
    signal_line = np.full(size, np.nan)
    first = slow + signal - 2
    ema_into_nb(line, signal, 2.0 / (signal + 1), first, signal_line)
    line[: min(first, size)] = np.nan
    return line, signal_line, line - signal_line


@njit(cache=True, nogil=True)
def stoch_1d_nb(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    fastk: int,
    slowk: int,
    slowd: int,
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic oscillator, as ``talib.STOCH`` with simple moving averages.

    Parameters
    ----------
    high, low, close : FloatArray
        Bar highs, lows and closes.
    fastk : int
        Look-back of the raw %K range, at least 1.
    slowk, slowd : int
        SMA periods smoothing raw %K into slow %K, and slow %K into slow %D; at least 1.

    Returns
    -------
    tuple of FloatArray
        ``(slow_k, slow_d)``, both NaN for ``t < fastk + slowk + slowd - 3`` (TA-Lib's lookback,
        also applied to %K). Raw ``%K = 100 * (close - LL) / (HH - LL)`` over the last
        ``fastk`` bars, current bar included.

    Notes
    -----
    Deliberate difference from TA-Lib: a flat window (``HH == LL``) gives raw %K 50, where
    TA-Lib gives 0 (which would read as maximally oversold).
    """
    if fastk < 1 or slowk < 1 or slowd < 1:
        raise ValueError("stochastic periods must be at least 1")
    size = len(close)
    highest = rolling_max_1d_nb(high, fastk)
    lowest = rolling_min_1d_nb(low, fastk)
    raw = np.full(size, np.nan)
    for t in range(fastk - 1, size):
        diff = (highest[t] - lowest[t]) / 100.0
        raw[t] = (close[t] - lowest[t]) / diff if diff != 0.0 else NEUTRAL
    slow_k = np.full(size, np.nan)
    sma_into_nb(raw, slowk, fastk - 1, slow_k)
    slow_d = np.full(size, np.nan)
    sma_into_nb(slow_k, slowd, fastk + slowk - 2, slow_d)
    slow_k[: min(fastk + slowk + slowd - 3, size)] = np.nan
    return slow_k, slow_d
