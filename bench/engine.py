"""Benchmark one ``sma_cross(10, 50)`` backtest, tradelab's engine against vectorbt.

On the same seeded 1,000,000-bar OHLC series, each side runs the whole pipeline, timed alike:
signals (two SMAs and their crossings), the simulation with 0.1 % fees and next-open fills, and
the results materialised (equity curve as a numpy array, trade records as a structured array).

- ours:     ``STRATEGIES["sma_cross"].signals`` + ``run_backtest`` (equity, cash, position,
            trade records and summary);
- vectorbt: ``vbt.MA.run`` x2 + ``ma_crossed_above/below`` + signals shifted one bar +
            ``Portfolio.from_signals(price=open, ...)`` + ``pf.value()`` +
            ``pf.trades.records_arr`` (``records_readable`` would add pandas formatting on
            top; the structured array is the like-for-like output).

Best of ``--repeat`` runs after one warm-up run each, the two sides interleaved; prints
bars/second, the ratio (target at least 5x), and our JIT warm-up: the first call of the same
pipeline on 1,000 bars in a fresh subprocess with an empty numba cache (``NUMBA_CACHE_DIR`` in
a temporary directory), then again in a second process that finds that cache filled.

Run: ``uv run python bench/engine.py [--bars N] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.simulate import run_backtest
from tradelab_engine.strategies.catalogue import STRATEGIES

with warnings.catch_warnings():  # vectorbt's import touches deprecated pandas/numpy APIs
    warnings.simplefilter("ignore")
    import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
    import vectorbt as vbt

SEED = 20240607
FAST, SLOW = 10, 50
OPTIONS = EngineOptions(fee_rate=0.0001)  # 1 bp: 0.1 % would eat all equity over ~14k trades
TARGET_RATIO = 5.0

_WARMUP_SCRIPT = """
import json, time
t0 = time.perf_counter()
import numpy as np
from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.simulate import run_backtest
from tradelab_engine.strategies.catalogue import STRATEGIES
t1 = time.perf_counter()
strategy = STRATEGIES["sma_cross"]
bars = Bars.from_close(100.0 + np.sin(np.arange(1000) / 20.0))
signals = strategy.signals(bars, strategy.params_model(fast=10, slow=50))
run_backtest(bars, signals, EngineOptions(fee_rate=0.0001))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1}))
"""


def synthetic_bars(n: int) -> Bars:
    """Seeded geometric random walk with gaps at the open and wicks, one-minute bars."""
    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.0003, n))
    wick = np.abs(rng.normal(0.0, 0.0005, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    time_ns = np.arange(n, dtype=np.int64) * 60 * 10**9
    return Bars(time_ns, open_, high, low, close, np.full(n, np.nan))


def run_ours(bars: Bars) -> tuple[float, int]:
    """Signals, simulation, equity and trade records with tradelab's engine."""
    strategy = STRATEGIES["sma_cross"]
    signals = strategy.signals(bars, strategy.params_model(fast=FAST, slow=SLOW))
    result = run_backtest(bars, signals, OPTIONS)
    return float(result.equity[-1]), len(result.trades)


def run_vectorbt(close: pd.Series, open_: pd.Series) -> tuple[float, int]:
    """The same backtest with vectorbt, configured to our semantics (docs/engine.md)."""
    fast = vbt.MA.run(close, FAST)
    slow = vbt.MA.run(close, SLOW)
    entries = fast.ma_crossed_above(slow).vbt.signals.fshift(1)
    exits = fast.ma_crossed_below(slow).vbt.signals.fshift(1)
    pf = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=open_,
        fees=OPTIONS.fee_rate,
        init_cash=OPTIONS.initial_cash,
        size=np.inf,
        accumulate=False,
        direction="longonly",
        upon_long_conflict="ignore",
    )
    equity = pf.value().to_numpy()
    trades = pf.trades.records_arr
    return float(equity[-1]), len(trades)


def best_times(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, Any]]:
    """Warm each run up once, then time them in turn ``repeat`` times (interleaved, so that
    load from other programs hits both alike); return each one's fastest time and a result."""
    results = {name: fn() for name, fn in runs.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            started = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - started)
    return {name: (min(times[name]), results[name]) for name in runs}


def jit_warmup(cache_dir: str) -> dict[str, float]:
    """First call of the pipeline in a fresh interpreter using ``cache_dir`` as numba cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    done = subprocess.run(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, "-c", _WARMUP_SCRIPT], env=env, check=True, capture_output=True, text=True
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    """Time both sides and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bars = synthetic_bars(args.bars)
    close, open_ = pd.Series(bars.close), pd.Series(bars.open)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timed = best_times(
            {"ours": lambda: run_ours(bars), "vectorbt": lambda: run_vectorbt(close, open_)},
            args.repeat,
        )
    ours_s, (ours_equity, ours_trades) = timed["ours"]
    vbt_s, (vbt_equity, vbt_trades) = timed["vectorbt"]
    with tempfile.TemporaryDirectory(prefix="tradelab-numba-") as cache_dir:
        cold = jit_warmup(cache_dir)
        cached = jit_warmup(cache_dir)

    print(
        f"numba {numba.__version__}, vectorbt {vbt.__version__}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.bars:,} bars, "
        f"sma_cross({FAST}, {SLOW}), fees {OPTIONS.fee_rate:g}, best of {args.repeat}"
    )
    print(f"{'engine':<10}{'best s':>10}{'bars/s':>16}{'trades':>8}{'final equity':>18}")
    for name, seconds, equity, trades in (
        ("tradelab", ours_s, ours_equity, ours_trades),
        ("vectorbt", vbt_s, vbt_equity, vbt_trades),
    ):
        print(f"{name:<10}{seconds:>10.4f}{args.bars / seconds:>16,.0f}{trades:>8}{equity:>18.6f}")
    ratio = vbt_s / ours_s
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"speed-up: {ratio:.1f}x vectorbt ({verdict} the {TARGET_RATIO:g}x target)")
    agree = ours_trades == vbt_trades and np.isclose(ours_equity, vbt_equity, rtol=1e-9)
    print(f"results agree with vectorbt (trades, final equity to 1e-9): {agree}")
    print(
        f"JIT warm-up, fresh process: {cold['first_call_s']:.2f} s first call with an empty "
        f"numba cache, {cached['first_call_s']:.2f} s with the cache filled "
        f"(imports {cold['import_s']:.2f} s / {cached['import_s']:.2f} s)"
    )


if __name__ == "__main__":
    main()
