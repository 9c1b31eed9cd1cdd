"""Return series shared by the reference tests: seeded random daily returns and a short one."""

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

HAND_RETURNS: FloatArray = np.array(
    [0.01, -0.02, 0.015, 0.0, -0.005, 0.03, -0.01, 0.02, -0.025, 0.005, 0.012, -0.003]
)
"""A short hand-made series with a flat bar, gains and losses."""


def random_returns(seed: int = 7, bars: int = 1_500) -> FloatArray:
    """Return seeded fat-tailed daily returns (Student t, 4 degrees of freedom)."""
    rng = np.random.default_rng(seed)
    return np.asarray(0.0004 + 0.01 * rng.standard_t(4, bars) / np.sqrt(2.0), dtype=np.float64)


def random_benchmark(returns: FloatArray, seed: int = 11) -> FloatArray:
    """Return benchmark returns correlated with ``returns``."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0002, 0.008, returns.size)
    return np.asarray(0.6 * returns + noise, dtype=np.float64)


SERIES = {"random_1500_daily": random_returns(), "hand_made_12": HAND_RETURNS}
