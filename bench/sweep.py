"""Benchmark a parameter sweep, ``sma_cross`` over a grid, tradelab's sweep against vectorbt.

On the seeded 100,000-bar one-minute series of ``bench/engine.py``, the grid fast 5..50 step 1
by slow 20..200 step 5 with fast < slow (1,590 combinations), fee 1 bp, next-open fills. Each
side computes, per combination, total return, max drawdown, Sharpe (98,280 one-minute bars a
year) and the number of closed trades:

- ours:     ``domain.sweep.sweep`` (parameter validation, the moving-average matrix, the
            kernel), with 1 and 2 numba threads (``numba.set_num_threads``);
- vectorbt: ``vbt.MA.run`` for the fast and the slow windows of every combination (vectorbt
            computes each distinct window once), ``ma_crossed_above/below`` shifted one bar,
            ``Portfolio.from_signals(price=open, ...)`` configured as in ``bench/engine.py``,
            then ``total_return()``, ``max_drawdown()``, ``sharpe_ratio()`` and
            ``trades.closed.count()`` (``trades.count()`` would count the open trade too).
            ``--vbt-columns N`` combinations at a time (default 200: same work, about 3 GB
            of RAM); ``--vbt-columns 0`` runs the whole grid at once, which took about 22 GB
            of this 24 GB machine (mind yours).

Each contender runs in its own subprocess so that its peak RSS (``ru_maxrss``, interpreter and
libraries included; "floor" is the RSS after imports and data) is its own. Ours: best of
``--repeat`` runs after a warm-up run; vectorbt: one run after a warm-up on a small grid. JIT
warm-up: ``compile_sweep_kernels()`` in the first process with an empty numba cache
(``NUMBA_CACHE_DIR`` in a temporary directory), then in the second, which finds it filled.
A few combinations are cross-checked: ours against vectorbt, max relative difference.

Run: ``uv run python bench/sweep.py [--bars N] [--repeat K] [--vbt-columns N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any

import numpy as np

SEED = 20240607
FEE_RATE = 0.0001
TIMEFRAME, PERIODS_PER_YEAR = "1m", 98_280
GRID = [(f, s) for s in range(20, 201, 5) for f in range(5, 51) if f < s]
CHECKED = [0, 1, 200, 400, 795, 1000, 1300, len(GRID) - 1]  # cross-checked combinations
TARGET_RATIO, TARGET_BAR_EVALS, TARGET_RSS_MIB = 100.0, 5e8, 1024.0


@dataclass
class Measurement:
    """What one contender's subprocess reports."""

    kind: str
    times: list[float]
    warmup_s: float
    import_s: float
    floor_rss_mib: float
    peak_rss_mib: float
    checked: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""


def synthetic_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The open and close of ``bench/engine.py``'s seeded one-minute random walk."""
    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.0003, n))
    return open_, close


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_ours(threads: int, n: int, repeat: int) -> Measurement:
    """Warm up (JIT), then time ``sweep`` over the whole grid ``repeat`` times."""
    started = time.perf_counter()
    import numba

    from tradelab_contracts.engine import EngineOptions
    from tradelab_engine.domain.bars import Bars
    from tradelab_engine.domain.sweep import compile_sweep_kernels, sweep

    imported = time.perf_counter()
    warmup = compile_sweep_kernels()
    open_, close = synthetic_arrays(n)
    flat = np.full(n, np.nan)
    bars = Bars(np.arange(n, dtype=np.int64) * 60 * 10**9, open_, close, close, close, flat)
    grid = [{"fast": f, "slow": s} for f, s in GRID]
    options = EngineOptions(fee_rate=FEE_RATE)
    floor = _rss_mib()
    numba.set_num_threads(threads)
    result = sweep(bars, "sma_cross", grid, options, TIMEFRAME)  # warm (page faults, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = sweep(bars, "sma_cross", grid, options, TIMEFRAME)
        times.append(time.perf_counter() - t0)
    checked = {
        "total_return": result.total_return[CHECKED].tolist(),
        "max_drawdown": result.max_drawdown[CHECKED].tolist(),
        "sharpe": result.sharpe[CHECKED].tolist(),
        "trades": result.trades[CHECKED].astype(float).tolist(),
    }
    return Measurement(
        f"ours-{threads}", times, warmup, imported - started, floor, _rss_mib(), checked
    )


def _vbt_block(vbt: Any, pd: Any, close: Any, open_: Any, pairs: list[tuple[int, int]]) -> Any:
    fast = vbt.MA.run(close, window=[f for f, _ in pairs], short_name="fast")
    slow = vbt.MA.run(close, window=[s for _, s in pairs], short_name="slow")
    entries = fast.ma_crossed_above(slow).vbt.signals.fshift(1)
    exits = fast.ma_crossed_below(slow).vbt.signals.fshift(1)
    pf = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=open_,
        fees=FEE_RATE,
        init_cash=100_000.0,
        size=np.inf,
        accumulate=False,
        direction="longonly",
        upon_long_conflict="ignore",
        freq="1min",
    )
    return pd.DataFrame(
        {
            "total_return": pf.total_return().to_numpy(),
            "max_drawdown": -pf.max_drawdown().to_numpy(),
            "sharpe": pf.sharpe_ratio(year_freq=pd.Timedelta(minutes=PERIODS_PER_YEAR)).to_numpy(),
            "trades": pf.trades.closed.count().to_numpy().astype(float),
        }
    )


def measure_vectorbt(n: int, columns: int) -> Measurement:
    """Warm up on a small grid, then run the whole grid once (in blocks of ``columns``, or all
    at once when ``columns`` is 0)."""
    columns = columns or len(GRID)
    started = time.perf_counter()
    with warnings.catch_warnings():  # vectorbt's import touches deprecated pandas/numpy APIs
        warnings.simplefilter("ignore")
        import pandas as pd
        import vectorbt as vbt
    imported = time.perf_counter()
    open_a, close_a = synthetic_arrays(n)
    close, open_ = pd.Series(close_a), pd.Series(open_a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        _vbt_block(vbt, pd, close.iloc[:1000], open_.iloc[:1000], GRID[:3])
        warmup = time.perf_counter() - t0
        floor = _rss_mib()
        t0 = time.perf_counter()
        frames = []
        for k in range(0, len(GRID), columns):
            frames.append(_vbt_block(vbt, pd, close, open_, GRID[k : k + columns]))
            gc.collect()  # vectorbt's objects hold reference cycles: free a block's arrays
        elapsed = time.perf_counter() - t0
    result = pd.concat(frames, ignore_index=True)
    checked = {name: result[name].to_numpy()[CHECKED].tolist() for name in result.columns}
    blocks = (len(GRID) + columns - 1) // columns
    note = "whole grid at once" if blocks == 1 else f"{blocks} blocks of {columns} columns"
    return Measurement(
        "vectorbt", [elapsed], warmup, imported - started, floor, _rss_mib(), checked, note
    )


def _in_subprocess(args: list[str], cache_dir: str | None) -> Measurement:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir} if cache_dir else None
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return Measurement(**json.loads(done.stdout.strip().splitlines()[-1]))


def _max_rel_diff(ours: list[float], theirs: list[float]) -> float:
    a, b = np.asarray(ours), np.asarray(theirs)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _report(n: int, results: list[Measurement], versions: dict[str, str]) -> None:
    combos = len(GRID)
    vbt_rate = combos / min(results[-1].times)
    print(
        f"numba {versions['numba']}, vectorbt {versions['vectorbt']}, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, {n:,} bars, sma_cross grid fast "
        f"5..50 x slow 20..200 step 5, fast < slow: {combos:,} combinations, fee {FEE_RATE:g}"
    )
    print(
        f"{'contender':<10}{'best s':>9}{'comb/s':>10}{'bar-evals/s':>14}{'vs vbt':>9}"
        f"{'floor MiB':>11}{'peak MiB':>10}"
    )
    for r in results:
        best = min(r.times)
        print(
            f"{r.kind:<10}{best:>9.3f}{combos / best:>10,.0f}{combos * n / best:>14.3g}"
            f"{combos / best / vbt_rate:>8.1f}x{r.floor_rss_mib:>11.0f}{r.peak_rss_mib:>10.0f}"
        )
    ours = results[1]
    best = min(ours.times)
    ratio, evals = combos / best / vbt_rate, combos * n / best
    for label, met in (
        (f"{TARGET_RATIO:g}x vectorbt's combinations/s: {ratio:.0f}x", ratio >= TARGET_RATIO),
        (
            f"{TARGET_BAR_EVALS:.0e} bar-evaluations/s, 2 threads: {evals:.3g}",
            evals >= TARGET_BAR_EVALS,
        ),
        (
            f"peak RSS under {TARGET_RSS_MIB:g} MiB: {ours.peak_rss_mib:.0f} MiB",
            max(r.peak_rss_mib for r in results[:2]) < TARGET_RSS_MIB,
        ),
    ):
        print(f"target {label} -> {'met' if met else 'NOT met'}")
    print(f"vectorbt ran {results[-1].note}")
    diffs = {
        name: _max_rel_diff(results[0].checked[name], results[-1].checked[name])
        for name in results[0].checked
    }
    print(
        f"cross-check on {len(CHECKED)} combinations, max relative difference ours vs vectorbt: "
        + ", ".join(f"{name} {d:.1e}" for name, d in diffs.items())
    )
    print(
        f"JIT warm-up (compile_sweep_kernels): {results[0].warmup_s:.2f} s with an empty numba "
        f"cache, {results[1].warmup_s:.2f} s with the cache filled (imports "
        f"{results[0].import_s:.2f} s); vectorbt's first small run {results[-1].warmup_s:.2f} s"
    )


def main() -> None:
    """Run each contender in its own subprocess and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--vbt-columns", type=int, default=200, help="vectorbt block size (0: the whole grid)"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind = args.measure
        measured = (
            measure_vectorbt(args.bars, args.vbt_columns)
            if kind == "vectorbt"
            else measure_ours(int(kind.removeprefix("ours-")), args.bars, args.repeat)
        )
        print(json.dumps(asdict(measured)))
        return
    common = ["--bars", str(args.bars), "--repeat", str(args.repeat)]
    with tempfile.TemporaryDirectory(prefix="tradelab-numba-") as cache_dir:
        results = [
            _in_subprocess([*common, "--measure", kind], cache_dir) for kind in ("ours-1", "ours-2")
        ]
        vbt_args = [*common, "--vbt-columns", str(args.vbt_columns), "--measure", "vectorbt"]
    results.append(_in_subprocess(vbt_args, None))  # vectorbt keeps its own numba cache
    _report(args.bars, results, {name: version(name) for name in ("numba", "vectorbt")})


if __name__ == "__main__":
    main()
