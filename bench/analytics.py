"""Benchmark the analysis of one 1,000,000-bar backtest, tradelab's analytics against quantstats.

On the same seeded run (a random-walk close on 1-minute bars, 09:30-16:00 sessions on business
days, ~10 years; a long-only strategy in 10,000 non-overlapping trades at random bars, the last
one still open, 0.2 bp fees; its equity curve), each side starts from the same arrays and
computes the same set of metrics, timed alike:

- ours:       ``analyse(equity, time_ns, trades, initial_cash, "1m", benchmark_close=close)``,
              every metric of docs/metrics.md;
- quantstats: per-bar returns and the benchmark's buy-and-hold returns built from the same
              arrays as pandas Series on a DatetimeIndex, then ``quantstats.stats`` functions
              with ``periods`` = our 98,280 1-minute bars a year: on the bar returns ``comp``,
              ``cagr``, ``volatility``, ``sharpe``, ``sortino``, ``calmar``, ``omega``,
              ``max_drawdown``, ``to_drawdown_series`` + ``drawdown_details`` (average and
              longest drawdown), ``ulcer_index``, ``value_at_risk``,
              ``conditional_value_at_risk(method="historical")``, ``skew``, ``kurtosis``,
              ``tail_ratio``, ``greeks`` (alpha, beta against the benchmark) and ``comp`` of the
              benchmark; on the closed trades' returns (indexed by exit time) ``win_rate``,
              ``avg_win``, ``avg_loss``, ``best``, ``worst``, ``avg_return``,
              ``kelly_criterion``, ``consecutive_wins``, ``consecutive_losses``; on their pnl
              ``profit_factor`` and ``avg_return`` (expectancy). quantstats' returns cache is
              cleared at the start of each run, as for a fresh series.

Ours only (no quantstats counterpart, not timed on its side): stability, historical VaR,
SQN, trade durations, total fees, max drawdown duration.

Best of ``--repeat`` runs after one warm-up run each, the two sides interleaved; prints bars/s,
the ratio, quantstats' slowest calls (from its fastest run), the peak memory of each side's
analysis (``tracemalloc``, in a separate pass: memory allocated while analysing, the inputs
excluded) and the metrics side by side, with a check that Sharpe, max drawdown and volatility
agree to 1e-9 relative.

Run: ``uv run python bench/analytics.py [--bars N] [--trades K] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
import quantstats
import quantstats.stats as quantstats_stats
import quantstats.utils as quantstats_utils

from tradelab_analytics.domain.analysis import analyse
from tradelab_analytics.domain.conventions import periods_per_year

# Several quantstats functions carry no annotations; reached through Any, mypy accepts the calls.
qs: Any = quantstats_stats
qs_utils: Any = quantstats_utils

SEED = 20240611
INITIAL_CASH = 10_000.0
FEE_RATE = 0.00002  # 0.2 bp a side: entries are random, at 1 bp fees alone sink it
DRIFT, VOLATILITY = 1e-6, 5e-4  # per minute: ~10 % a year, ~16 % annualised volatility
TIMEFRAME = "1m"
PERIODS = periods_per_year(TIMEFRAME)  # 98,280 = 252 sessions x 390 minutes
SESSION_OPEN_MINUTE, SESSION_MINUTES = 9 * 60 + 30, 390
REL = 1e-9
HEADLINE = ("sharpe", "max_drawdown", "annual_volatility")
OURS_ONLY = (
    "stability, var_95 (historical), sqn, max/avg trade duration, total_fees, open_trades, "
    "max_drawdown_duration"
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# (our key, how quantstats' figure was brought to our convention, or why it differs)
COMPARED = (
    ("total_return", ""),
    ("cagr", "years = bars / periods in both (quantstats 0.0.86)"),
    ("annual_volatility", ""),
    ("sharpe", ""),
    ("sortino", ""),
    ("calmar", ""),
    ("omega", ""),
    ("max_drawdown", "sign flipped"),
    ("average_drawdown", "-mean of drawdown_details' depths / 100"),
    ("longest_drawdown_duration", "units differ: ours bars, quantstats calendar days"),
    ("ulcer_index", "quantstats x sqrt((n - 1) / n): it divides by n - 1"),
    ("parametric_var_95", "value_at_risk (Gaussian)"),
    ("cvar_95", "historical: returns <= 5 % quantile, = ours without ties"),
    ("skew", ""),
    ("kurtosis", ""),
    ("tail_ratio", ""),
    ("beta", ""),
    ("alpha", "differs: quantstats (mean r - beta mean b) x P, ours (1 + ...) ** P - 1"),
    ("benchmark_return", ""),
    ("win_rate", ""),
    ("avg_win", ""),
    ("avg_loss", ""),
    ("best_trade", ""),
    ("worst_trade", ""),
    ("avg_trade", ""),
    ("kelly", ""),
    ("profit_factor", "on pnl"),
    ("expectancy", "avg_return on pnl (drops zeros: none here)"),
    ("longest_winning_streak", ""),
    ("longest_losing_streak", ""),
)


@dataclass(frozen=True)
class Run:
    """One backtest's outputs as the analytics service reads them, plus the trades' exit bars."""

    time_ns: IntArray
    close: FloatArray
    equity: FloatArray
    trades: dict[str, npt.NDArray[Any]]
    exit_bar: IntArray


def session_times(n: int) -> IntArray:
    """Times (int64 ns) of ``n`` 1-minute bars, 09:30-16:00 on business days from 2015-01-05."""
    days = pd.bdate_range("2015-01-05", periods=-(-n // SESSION_MINUTES)).as_unit("ns").asi8
    minutes = (SESSION_OPEN_MINUTE + np.arange(SESSION_MINUTES, dtype=np.int64)) * 60 * 10**9
    times: IntArray = (days[:, None] + minutes[None, :]).ravel()[:n]
    return times


def synthetic_run(n: int, n_trades: int) -> Run:
    """Seeded random-walk close and a long-only strategy, all in for each of ``n_trades``.

    Trades sit between ``2 * n_trades`` distinct random bars (entry, exit, entry, ...); the last
    one is still open at the last bar. Entries and exits fill at the close and pay
    ``FEE_RATE`` of the value traded, so a trade's return is ``pnl / equity before entry``.
    """
    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(DRIFT, VOLATILITY, n)))
    marks = np.sort(rng.choice(np.arange(1, n), size=2 * n_trades, replace=False))
    entry, exit_bar = marks[0::2], marks[1::2].copy()
    exit_bar[-1] = n - 1
    is_open = np.zeros(n_trades, dtype=bool)
    is_open[-1] = True
    cover = np.zeros(n + 1, dtype=np.int64)
    cover[entry + 1] += 1  # held from the bar after the entry through the exit bar
    cover[exit_bar + 1] -= 1
    held = np.cumsum(cover)[:n] > 0
    growth = np.where(held, np.concatenate(([1.0], close[1:] / close[:-1])), 1.0)
    growth[entry] *= 1.0 - FEE_RATE
    growth[exit_bar[~is_open]] *= 1.0 - FEE_RATE
    equity = (INITIAL_CASH * np.cumprod(growth)).astype(np.float64, copy=False)
    before = np.concatenate(([INITIAL_CASH], equity))[entry]  # equity at the previous close
    pnl = equity[exit_bar] - before
    exit_value = np.where(is_open, equity[exit_bar], equity[exit_bar] / (1.0 - FEE_RATE))
    trades = {
        "pnl": pnl,
        "return": pnl / before,
        "bars_held": (exit_bar - entry).astype(np.int64),
        "is_open": is_open,
        "entry_fee": before * FEE_RATE,
        "exit_fee": np.where(is_open, np.nan, exit_value * FEE_RATE),
    }
    return Run(session_times(n), close, equity, trades, exit_bar)


def run_ours(run: Run) -> dict[str, float | None]:
    """Every metric with tradelab's analytics, called as the service calls it."""
    return analyse(
        run.equity, run.time_ns, run.trades, INITIAL_CASH, TIMEFRAME, benchmark_close=run.close
    )


class Laps:
    """Calls functions and adds up the wall time spent in each, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Return ``fn(*args, **kwargs)``, its time added to ``name``."""
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        return result


def _series(run: Run) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Bar returns, benchmark returns, closed trades' returns and pnl, as quantstats takes them."""
    index = pd.DatetimeIndex(run.time_ns.view("M8[ns]"))
    values = np.concatenate(([INITIAL_CASH], run.equity))
    returns = pd.Series(values[1:] / values[:-1] - 1.0, index=index)
    benchmark = np.concatenate(([0.0], run.close[1:] / run.close[:-1] - 1.0))
    closed = ~run.trades["is_open"]
    exits = index[run.exit_bar[closed]]
    return (
        returns,
        pd.Series(benchmark, index=index),
        pd.Series(run.trades["return"][closed], index=exits),
        pd.Series(run.trades["pnl"][closed], index=exits),
    )


def _quantstats_returns(lap: Laps, r: pd.Series, bench: pd.Series) -> dict[str, float]:
    """The returns metrics quantstats computes, in our conventions where they differ."""
    details = lap(
        "drawdown_details", qs.drawdown_details, lap("to_drawdown_series", qs.to_drawdown_series, r)
    )
    greeks = lap("greeks", qs.greeks, r, bench, periods=PERIODS)
    n = r.size
    return {
        "total_return": lap("comp", qs.comp, r),
        "cagr": lap("cagr", qs.cagr, r, periods=PERIODS),
        "annual_volatility": lap("volatility", qs.volatility, r, periods=PERIODS),
        "sharpe": lap("sharpe", qs.sharpe, r, periods=PERIODS),
        "sortino": lap("sortino", qs.sortino, r, periods=PERIODS),
        "calmar": lap("calmar", qs.calmar, r, periods=PERIODS),
        "omega": lap("omega", qs.omega, r, periods=PERIODS),
        "max_drawdown": -lap("max_drawdown", qs.max_drawdown, r),
        "average_drawdown": -details["max drawdown"].mean() / 100.0,
        "longest_drawdown_duration": details["days"].max(),
        "ulcer_index": lap("ulcer_index", qs.ulcer_index, r) * np.sqrt((n - 1) / n),
        "parametric_var_95": lap("value_at_risk", qs.value_at_risk, r, confidence=0.95),
        "cvar_95": lap(
            "conditional_value_at_risk", qs.conditional_value_at_risk, r, method="historical"
        ),
        "skew": lap("skew", qs.skew, r),
        "kurtosis": lap("kurtosis", qs.kurtosis, r),
        "tail_ratio": lap("tail_ratio", qs.tail_ratio, r),
        "beta": greeks["beta"],
        "alpha": greeks["alpha"],
        "benchmark_return": lap("comp", qs.comp, bench),
    }


def _quantstats_trades(lap: Laps, returns: pd.Series, pnl: pd.Series) -> dict[str, float]:
    """The trade statistics quantstats computes, fed the closed trades' returns and pnl."""
    return {
        "win_rate": lap("win_rate", qs.win_rate, returns),
        "avg_win": lap("avg_win", qs.avg_win, returns),
        "avg_loss": lap("avg_loss", qs.avg_loss, returns),
        "best_trade": lap("best", qs.best, returns),
        "worst_trade": lap("worst", qs.worst, returns),
        "avg_trade": lap("avg_return", qs.avg_return, returns),
        "kelly": lap("kelly_criterion", qs.kelly_criterion, returns),
        "profit_factor": lap("profit_factor", qs.profit_factor, pnl),
        "expectancy": lap("avg_return", qs.avg_return, pnl),
        "longest_winning_streak": lap("consecutive_wins", qs.consecutive_wins, returns),
        "longest_losing_streak": lap("consecutive_losses", qs.consecutive_losses, returns),
    }


def run_quantstats(run: Run) -> tuple[dict[str, float], dict[str, float]]:
    """The same metrics with quantstats; returns them and the seconds spent in each call."""
    qs_utils._PREPARE_RETURNS_CACHE.clear()  # a fresh series: nothing cached from a prior run
    lap = Laps()
    returns, benchmark, trade_returns, trade_pnl = lap("Series construction", _series, run)
    metrics = {
        **_quantstats_returns(lap, returns, benchmark),
        **_quantstats_trades(lap, trade_returns, trade_pnl),
    }
    return {name: float(value) for name, value in metrics.items()}, lap.seconds


def best_times(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, Any]]:
    """Warm each run up once, then time them in turn ``repeat`` times (interleaved, so that
    load from other programs hits both alike); return each one's fastest time and its result."""
    best = {name: (float("inf"), fn()) for name, fn in runs.items()}
    for _ in range(repeat):
        for name, fn in runs.items():
            started = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - started
            if elapsed < best[name][0]:
                best[name] = (elapsed, result)
    return best


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak memory traced by ``tracemalloc`` while ``fn`` runs (allocations before excluded)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _relative(ours: float | None, theirs: float) -> float:
    """Relative difference of our figure to quantstats' (inf when ours is undefined)."""
    if ours is None:
        return float("inf")
    return abs(ours - theirs) / abs(theirs) if theirs else abs(ours)


def _report_metrics(ours: Mapping[str, float | None], theirs: Mapping[str, float]) -> None:
    print(f"{'metric':<27}{'tradelab':>20}{'quantstats':>20}{'rel diff':>10}  note")
    for name, note in COMPARED:
        value = ours[name]
        shown = "None" if value is None else f"{value:.12g}"
        print(
            f"{name:<27}{shown:>20}{theirs[name]:>20.12g}"
            f"{_relative(value, theirs[name]):>10.1e}  {note}"
        )
    agree = all(_relative(ours[name], theirs[name]) <= REL for name in HEADLINE)
    print(f"headline metrics agree ({', '.join(HEADLINE)} to {REL:g} relative): {agree}")


def _report(args: argparse.Namespace, run: Run, timed: dict[str, tuple[float, Any]]) -> None:
    ours_s, ours = timed["ours"]
    qs_s, (theirs, laps) = timed["quantstats"]
    peaks = {
        "ours": peak_mib(lambda: run_ours(run)),
        "quantstats": peak_mib(lambda: run_quantstats(run)),
    }
    open_trades = int(run.trades["is_open"].sum())
    print(
        f"numpy {np.__version__}, pandas {pd.__version__}, quantstats {quantstats.__version__}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.bars:,} bars "
        f"({TIMEFRAME}, {PERIODS:,.0f} a year), {args.trades:,} trades ({open_trades} open), "
        f"best of {args.repeat}"
    )
    print(f"{'analysis':<12}{'best s':>10}{'bars/s':>14}{'peak MiB':>10}")
    for name, label, seconds in (("ours", "tradelab", ours_s), ("quantstats", "quantstats", qs_s)):
        print(f"{label:<12}{seconds:>10.4f}{args.bars / seconds:>14,.0f}{peaks[name]:>10.1f}")
    print(f"quantstats timed: {', '.join(laps)}")
    print(f"ours only, no quantstats counterpart: {OURS_ONLY}")
    slowest = sorted(laps.items(), key=lambda item: -item[1])[:4]
    print("quantstats' slowest calls: " + ", ".join(f"{n} {s:.3f} s" for n, s in slowest))
    print(
        f"speed-up: {qs_s / ours_s:.1f}x quantstats "
        f"({(qs_s - laps['greeks']) / ours_s:.1f}x leaving out quantstats' greeks)"
    )
    _report_metrics(ours, theirs)


def main() -> None:
    """Generate the run, time both sides and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    run = synthetic_run(args.bars, args.trades)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timed = best_times(
            {"ours": lambda: run_ours(run), "quantstats": lambda: run_quantstats(run)},
            args.repeat,
        )
        _report(args, run, timed)


if __name__ == "__main__":
    main()
