"""Walk-forward analysis: split the bars into folds, test each fold's best on the bars after it,
stitch the test windows into one out-of-sample equity curve (pure; I/O is the caller's).

Fold ``k`` trains on ``[train_start, train_end)`` and tests on ``[train_end, test_end)``, with
``train_end = train_bars + k * step`` (``step`` defaults to ``test_bars``). Rolling folds train on
the last ``train_bars`` bars; anchored folds train from bar 0. Folds continue while a test bar is
left; the last test window may be shorter. Test windows must not overlap (``step >= test_bars``)
so the stitched curve has one value per bar.

A test window's signals are computed on every bar up to its end, so indicators enter it warmed
up exactly as they would be live; trading starts flat on the window's first bar and a position
still open at its end is valued at its last close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.optimization import WalkForward
from tradelab_engine.strategies.base import Signals, Strategy

from .bars import Bars, FloatArray, IntArray
from .simulate import run_backtest
from .summary import infer_timeframe, max_drawdown, periods_per_year, sharpe_ratio

MAX_FOLDS = 1000
"""Most folds one walk-forward optimisation may have."""


class WalkForwardError(ValueError):
    """The scheme does not fit the data (too few bars, overlapping tests, too many folds)."""


@dataclass(frozen=True)
class Fold:
    """One fold's half-open bar ranges."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def plan_folds(n_bars: int, scheme: WalkForward) -> list[Fold]:
    """The folds of ``scheme`` over ``n_bars`` bars, in order."""
    step = scheme.step_bars or scheme.test_bars
    if step < scheme.test_bars:
        msg = (
            f"step_bars ({step}) is below test_bars ({scheme.test_bars}): test windows would "
            "overlap and the out-of-sample curve would count bars twice"
        )
        raise WalkForwardError(msg)
    if scheme.train_bars >= n_bars:
        msg = (
            f"the dataset has {n_bars:,} bars: a {scheme.train_bars:,}-bar training window "
            "leaves none to test on"
        )
        raise WalkForwardError(msg)
    count = -(-(n_bars - scheme.train_bars) // step)  # folds whose test window starts in range
    if count > MAX_FOLDS:
        msg = f"the scheme makes {count:,} folds over {n_bars:,} bars; at most {MAX_FOLDS:,}"
        raise WalkForwardError(msg)
    folds = []
    for k in range(count):
        train_end = scheme.train_bars + k * step
        train_start = 0 if scheme.mode == "anchored" else train_end - scheme.train_bars
        test_end = min(train_end + scheme.test_bars, n_bars)
        folds.append(Fold(k, train_start, train_end, train_end, test_end))
    return folds


def window(bars: Bars, start: int, end: int) -> Bars:
    """Bars ``[start, end)`` as contiguous columns."""

    def cut(column: FloatArray) -> FloatArray:
        return np.ascontiguousarray(column[start:end])

    return Bars(
        np.ascontiguousarray(bars.time[start:end]),
        cut(bars.open),
        cut(bars.high),
        cut(bars.low),
        cut(bars.close),
        cut(bars.volume),
    )


@dataclass(frozen=True)
class WindowRun:
    """One fold's out-of-sample run: its equity per test bar and headline metrics."""

    equity: FloatArray
    metrics: dict[str, float | None]


def run_test(
    bars: Bars,
    strategy: Strategy,
    params: BaseModel,
    test_start: int,
    test_end: int,
    options: EngineOptions,
    timeframe: str | None,
) -> WindowRun:
    """Run ``strategy`` with ``params`` on bars ``[test_start, test_end)``.

    ``strategy`` is a catalogue ``Strategy`` and ``params`` its validated parameter model; the
    signals are computed on every bar before ``test_end`` and cut to the window.
    """
    signals = strategy.signals(window(bars, 0, test_end), params)
    cut = Signals(signals.entries[test_start:], signals.exits[test_start:])
    result = run_backtest(window(bars, test_start, test_end), cut, options, timeframe=timeframe)
    summary = result.summary
    metrics: dict[str, float | None] = {
        "final_equity": summary.final_equity,
        "total_return": summary.total_return,
        "max_drawdown": summary.max_drawdown,
        "sharpe": summary.sharpe,
        "trades": float(summary.trades),
        "exposure": summary.exposure,
    }
    return WindowRun(result.equity, metrics)


@dataclass(frozen=True)
class Stitched:
    """The test windows chained into one curve, as if each fold reinvested the last's equity."""

    time: IntArray
    equity: FloatArray
    fold: IntArray
    metrics: dict[str, float | None]


def stitch(
    runs: Sequence[tuple[int, WindowRun | None, IntArray]],
    initial_cash: float,
    timeframe: str | None,
) -> Stitched:
    """Chain the folds' test runs into one out-of-sample equity curve.

    ``runs`` holds per fold ``(fold_index, run, test_times)``; a fold without a run (no
    combination qualified on its training window) stays in cash. Fold ``k``'s curve is scaled
    by the equity the folds before it ended with over ``initial_cash``.
    """
    times, values, folds = [], [], []
    level = initial_cash
    trades = 0.0
    exposed = 0.0
    for index, run, test_times in runs:
        if run is None:
            curve = np.full(len(test_times), initial_cash)
        else:
            curve = run.equity
            trades += run.metrics["trades"] or 0.0
            exposed += (run.metrics["exposure"] or 0.0) * len(curve)
        scaled = curve * (level / initial_cash)
        times.append(test_times)
        values.append(scaled)
        folds.append(np.full(len(curve), index, dtype=np.int64))
        level = float(scaled[-1]) if len(scaled) else level
    equity = np.concatenate(values) if values else np.empty(0)
    time = np.concatenate(times) if times else np.empty(0, dtype=np.int64)
    frame = timeframe if timeframe is not None else infer_timeframe(time)
    metrics: dict[str, float | None] = {
        "final_equity": level,
        "total_return": level / initial_cash - 1.0,
        "max_drawdown": max_drawdown(equity, initial_cash) if len(equity) else 0.0,
        "sharpe": sharpe_ratio(equity, initial_cash, periods_per_year(frame))
        if len(equity)
        else None,
        "trades": trades,
        "exposure": exposed / len(equity) if len(equity) else 0.0,
    }
    fold = np.concatenate(folds) if folds else np.empty(0, dtype=np.int64)
    return Stitched(time, equity, fold, metrics)
