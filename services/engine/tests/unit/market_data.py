"""Test data shared by the engine's reference tests: a seeded random walk and real GOOG bars.

GOOG is read with the csv module, independently of the datasets service's parser.
"""

import csv
import importlib.resources
from functools import cache
from pathlib import Path

import numpy as np

from tradelab_engine.domain.bars import Bars


def random_walk_bars(size: int = 5000, seed: int = 20240501) -> Bars:
    """Geometric random walk with an open gap and intrabar highs/lows around open and close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, size)))
    open_ = np.r_[close[0], close[:-1]] * (1.0 + rng.normal(0.0, 0.002, size))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.005, size)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.005, size)))
    return Bars(np.arange(size, dtype=np.int64), open_, high, low, close, np.full(size, np.nan))


@cache
def goog_bars() -> Bars:
    """Real daily GOOG bars 2004-2013 (the ``backtesting`` package's test data), times in ns."""
    path = Path(str(importlib.resources.files("backtesting.test") / "GOOG.csv"))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]  # header: ,Open,High,Low,Close,Volume
    time = np.array([np.datetime64(r[0], "ns") for r in rows]).astype(np.int64)
    open_, high, low, close, volume = (np.array([float(r[k]) for r in rows]) for k in range(1, 6))
    return Bars(time, open_, high, low, close, volume)
