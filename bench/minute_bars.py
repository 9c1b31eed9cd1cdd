"""What several bench scripts upload: a seeded random walk of one-minute bars as CSV, the series
``tests/e2e/helpers.py`` builds. The scripts beside it import it (``python bench/x.py`` puts
``bench/`` on the path)."""

import io

import numpy as np


def minute_bars_csv(n: int, seed: int) -> bytes:
    """A random-walk series of ``n`` one-minute bars as CSV."""
    return bars_csv(n, seed, "m")


def bars_csv(n: int, seed: int, unit: str) -> bytes:
    """A random-walk series of ``n`` bars of one ``unit`` (numpy's: ``m``, ``h``, ``D``) as CSV."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high, low = np.maximum(open_, close) * 1.0005, np.minimum(open_, close) * 0.9995
    times = np.datetime64("2024-01-02T00:00") + np.arange(n).astype(f"timedelta64[{unit}]")
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    for row in zip(times, open_, high, low, close, strict=True):
        out.write(f"{row[0]}Z,{row[1]:.6f},{row[2]:.6f},{row[3]:.6f},{row[4]:.6f},1000\n")
    return out.getvalue().encode()
