"""Moving-average kernels (SMA, EMA, WMA), TA-Lib compatible.

Conventions shared by every indicator kernel in this package:

- Inputs are contiguous ``float64`` arrays, oldest bar first, and must be finite. A NaN inside
  the data propagates through the running sums exactly as it does in TA-Lib.
- Outputs have the input's length. Warm-up positions hold NaN, at exactly the positions where
  TA-Lib leaves them NaN (its "lookback"); a series shorter than the warm-up is all NaN.
- Running sums are updated in TA-Lib's order of operations, so results agree with TA-Lib to
  rounding (the tests hold them to 1e-9 relative).
- The ``*_into`` helpers write into a preallocated output and read only the valid part of the
  input; they let indicators built on other indicators (MACD, STOCH) skip the input's own
  warm-up without copying.
"""

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True, nogil=True)
def sma_into_nb(x: FloatArray, n: int, start: int, out: FloatArray) -> None:
    """Write the n-bar simple moving average of ``x[start:]`` into ``out``.

    ``out[t]`` is the mean of ``x[t-n+1..t]`` for ``t >= start + n - 1``; earlier positions of
    ``out`` are left untouched.
    """
    if n < 1:
        raise ValueError("SMA window must be at least 1")
    first = start + n - 1
    if first >= len(x):
        return
    total = 0.0
    for i in range(start, first):
        total += x[i]
    for i in range(first, len(x)):
        total += x[i]
        out[i] = total / n
        total -= x[i - n + 1]


@njit(cache=True, nogil=True)
def sma_1d_nb(close: FloatArray, n: int) -> FloatArray:
    """Simple moving average over the last ``n`` bars, current bar included.

    Parameters
    ----------
    close : FloatArray
        Input series.
    n : int
        Window length, at least 1.

    Returns
    -------
    FloatArray
        ``out[t] = mean(close[t-n+1..t])``; NaN for ``t < n - 1`` (as ``talib.SMA``).
    """
    out = np.full(len(close), np.nan)
    sma_into_nb(close, n, 0, out)
    return out


@njit(cache=True, nogil=True)
def ema_into_nb(x: FloatArray, n: int, k: float, seed_end: int, out: FloatArray) -> None:
    """Write an exponential moving average of ``x`` with smoothing ``k`` into ``out``.

    TA-Lib's seeding: the EMA at ``seed_end`` is the simple mean of ``x[seed_end-n+1..seed_end]``
    (which must all be valid); after it, ``ema = (x - ema) * k + ema``. Positions before
    ``seed_end`` are left untouched.
    """
    if n < 1:
        raise ValueError("EMA window must be at least 1")
    if seed_end >= len(x):
        return
    total = 0.0
    for i in range(seed_end - n + 1, seed_end + 1):
        total += x[i]
    ema = total / n
    out[seed_end] = ema
    for i in range(seed_end + 1, len(x)):
        ema = (x[i] - ema) * k + ema
        out[i] = ema


@njit(cache=True, nogil=True)
def ema_1d_nb(close: FloatArray, n: int) -> FloatArray:
    """Exponential moving average with ``k = 2 / (n + 1)``, seeded as TA-Lib does.

    Parameters
    ----------
    close : FloatArray
        Input series.
    n : int
        Period, at least 1.

    Returns
    -------
    FloatArray
        ``out[n-1]`` is the SMA of the first ``n`` closes, then
        ``out[t] = out[t-1] + k * (close[t] - out[t-1])``; NaN before ``n - 1`` (as ``talib.EMA``).
    """
    if n < 1:
        raise ValueError("EMA period must be at least 1")
    out = np.full(len(close), np.nan)
    ema_into_nb(close, n, 2.0 / (n + 1), n - 1, out)
    return out


@njit(cache=True, nogil=True)
def wma_1d_nb(close: FloatArray, n: int) -> FloatArray:
    """Linearly weighted moving average: weight ``n`` on the current bar down to 1.

    Parameters
    ----------
    close : FloatArray
        Input series.
    n : int
        Window length, at least 1.

    Returns
    -------
    FloatArray
        ``out[t] = sum(w * close[t-n+w] for w in 1..n) / (n (n + 1) / 2)``; NaN for
        ``t < n - 1`` (as ``talib.WMA``, whose running-sum update this follows).
    """
    if n < 1:
        raise ValueError("WMA window must be at least 1")
    size = len(close)
    out = np.full(size, np.nan)
    if n - 1 >= size:
        return out
    if n == 1:
        out[:] = close
        return out
    divider = n * (n + 1) // 2
    weighted = 0.0  # sum of w * close over the window
    plain = 0.0  # sum of close over the window
    for i in range(n - 1):
        plain += close[i]
        weighted += close[i] * (i + 1)
    trailing = 0.0
    for i in range(n - 1, size):
        plain += close[i]
        plain -= trailing
        weighted += close[i] * n
        trailing = close[i - n + 1]
        out[i] = weighted / divider
        weighted -= plain
    return out
