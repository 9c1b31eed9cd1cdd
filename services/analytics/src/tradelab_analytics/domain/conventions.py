"""Shared conventions: periods per year, the risk-free rate, array types, undefined values.

The table of periods per year is the engine's (``docs/engine.md``), duplicated on purpose:
services never import each other.
"""

from __future__ import annotations

import math
import re
from typing import Final, SupportsFloat

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TRADING_DAYS: Final = 252.0
SESSION_HOURS: Final = 6.5  # regular US equity session, 09:30-16:00
WEEKS: Final = 52.0
MONTHS: Final = 12.0
DDOF: Final = 1
"""Sample standard deviation everywhere a standard deviation of returns is taken."""

_TIMEFRAME = re.compile(r"^([1-9][0-9]*)(m|h|d|w|mo)$")
_PER_UNIT: Final = {
    "m": TRADING_DAYS * SESSION_HOURS * 60.0,
    "h": TRADING_DAYS * SESSION_HOURS,
    "d": TRADING_DAYS,
    "w": WEEKS,
    "mo": MONTHS,
}


def periods_per_year(timeframe: str | None) -> float:
    """Return how many bars of ``timeframe`` make a year.

    Parameters
    ----------
    timeframe : str or None
        ``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``, ``"1w"``, ``"1mo"``, any ``N`` multiple of those
        units, ``"irregular"`` or None.

    Returns
    -------
    float
        ``1m`` 98,280, ``5m`` 19,656, ``15m`` 6,552, ``30m`` 3,276 (252 sessions x 390 minutes /
        N); ``1h`` 1,638, ``4h`` 409.5; ``Nd`` 252/N; ``Nw`` 52/N; ``Nmo`` 12/N; anything else 252.
    """
    match = _TIMEFRAME.match(timeframe or "")
    if match is None:
        return TRADING_DAYS
    return _PER_UNIT[match.group(2)] / float(match.group(1))


def per_period_rate(annual_rate: float, periods: float) -> float:
    """Return the per-bar rate that compounds to ``annual_rate`` over ``periods`` bars.

    Parameters
    ----------
    annual_rate : float
        Annual rate as a fraction (0.03 for 3 %); must exceed -1.
    periods : float
        Bars per year.

    Returns
    -------
    float
        ``(1 + annual_rate) ** (1 / periods) - 1``.
    """
    return float((1.0 + annual_rate) ** (1.0 / periods) - 1.0)


def finite_or_none(value: SupportsFloat) -> float | None:
    """Return ``value`` as a float, or None when it is NaN or infinite."""
    number = float(value)
    return number if math.isfinite(number) else None


def as_float_array(values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as a 1-D float64 array (no copy when it already is one)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        msg = f"expected a 1-D array, got {array.ndim} dimensions"
        raise ValueError(msg)
    return array


def returns_from_equity(equity: npt.ArrayLike, initial_cash: float | None = None) -> FloatArray:
    """Return per-bar simple returns ``v_t / v_{t-1} - 1`` of an equity curve.

    Parameters
    ----------
    equity : array_like
        Equity at each bar's close.
    initial_cash : float, optional
        Equity before the first bar; when given it is prepended, so the first bar has a return
        (the engine's convention: one return per bar).

    Returns
    -------
    numpy.ndarray
        Simple returns; NaN where the previous equity is not positive.
    """
    values = as_float_array(equity)
    if initial_cash is not None:
        values = np.concatenate(([float(initial_cash)], values))
    previous = values[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(previous > 0, values[1:] / previous - 1.0, np.nan)
    return np.asarray(out, dtype=np.float64)
