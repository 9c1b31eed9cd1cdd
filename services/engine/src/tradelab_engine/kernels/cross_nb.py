"""Crossing detectors used by signal rules."""

import numpy as np
from numba import njit

from tradelab_engine.kernels.ma_nb import BoolArray, FloatArray


@njit(cache=True, nogil=True)
def crossed_above_1d_nb(a: FloatArray, b: FloatArray) -> BoolArray:
    """True at ``t`` where ``a[t] > b[t]`` and ``a[t-1] <= b[t-1]``.

    Bar 0 is never a cross, and neither is any bar where ``a`` or ``b`` is NaN at ``t`` or
    ``t - 1`` (every comparison with NaN is false).
    """
    out = np.zeros(len(a), dtype=np.bool_)
    for t in range(1, len(a)):
        out[t] = a[t] > b[t] and a[t - 1] <= b[t - 1]
    return out


@njit(cache=True, nogil=True)
def crossed_below_1d_nb(a: FloatArray, b: FloatArray) -> BoolArray:
    """True at ``t`` where ``a[t] < b[t]`` and ``a[t-1] >= b[t-1]``; NaN never crosses."""
    out = np.zeros(len(a), dtype=np.bool_)
    for t in range(1, len(a)):
        out[t] = a[t] < b[t] and a[t - 1] >= b[t - 1]
    return out
