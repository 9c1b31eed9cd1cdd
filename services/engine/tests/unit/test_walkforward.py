"""Walk-forward: fold windows by hand, a test window against a full-history run masked by hand,
and a whole walk-forward of ``sma_cross`` on real GOOG bars against one done with vectorbt.

The vectorbt reference is built independently: ``vbt.MA.run`` over the bars up to each window's
end, ``ma_crossed_above/below`` shifted one bar for next-open fills, ``Portfolio.from_signals``
on the window alone; the best total return on each training window picks the parameters, the
test window's returns are chained by hand.
"""

import warnings
from typing import Any

import numpy as np
import pytest

from services.engine.tests.unit.market_data import goog_bars
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.optimization import Objective, WalkForward
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.optimize import evaluate_chunk
from tradelab_engine.domain.simulate import run_backtest
from tradelab_engine.domain.walkforward import (
    Fold,
    WalkForwardError,
    WindowRun,
    plan_folds,
    run_test,
    stitch,
    window,
)
from tradelab_engine.strategies.base import Signals
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters

with warnings.catch_warnings():  # vectorbt's import touches deprecated pandas/numpy APIs
    warnings.simplefilter("ignore")
    import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
    import vectorbt as vbt

OPTIONS = EngineOptions(fee_rate=0.001)
GRID = [{"fast": f, "slow": s} for f in (5, 10, 15, 20) for s in (30, 50, 70, 90)]


def test_rolling_folds_slide_by_the_test_length_and_the_last_test_may_be_short() -> None:
    folds = plan_folds(950, WalkForward(mode="rolling", train_bars=300, test_bars=100))
    assert folds == [
        Fold(0, 0, 300, 300, 400),
        Fold(1, 100, 400, 400, 500),
        Fold(2, 200, 500, 500, 600),
        Fold(3, 300, 600, 600, 700),
        Fold(4, 400, 700, 700, 800),
        Fold(5, 500, 800, 800, 900),
        Fold(6, 600, 900, 900, 950),
    ]


def test_anchored_folds_train_from_the_first_bar_and_step_may_leave_gaps() -> None:
    scheme = WalkForward(mode="anchored", train_bars=400, test_bars=100, step_bars=250)
    assert plan_folds(1000, scheme) == [
        Fold(0, 0, 400, 400, 500),
        Fold(1, 0, 650, 650, 750),
        Fold(2, 0, 900, 900, 1000),
    ]


@pytest.mark.parametrize(
    ("n_bars", "scheme", "message"),
    [
        (500, WalkForward(mode="rolling", train_bars=500, test_bars=10), "leaves none to test"),
        (900, WalkForward(mode="rolling", train_bars=100, test_bars=50, step_bars=20), "overlap"),
        (5000, WalkForward(mode="rolling", train_bars=2, test_bars=1), "at most 1,000"),
    ],
)
def test_schemes_that_do_not_fit_are_refused(
    n_bars: int, scheme: WalkForward, message: str
) -> None:
    with pytest.raises(WalkForwardError, match=message):
        plan_folds(n_bars, scheme)


def test_a_test_window_equals_a_full_history_run_with_signals_masked_before_it() -> None:
    bars = goog_bars()
    strategy = get_strategy("sma_cross")
    params = validate_parameters("sma_cross", {"fast": 10, "slow": 50})
    start, end = 700, 1000
    run = run_test(bars, strategy, params, start, end, OPTIONS, "1d")
    # Reference: signals on the whole history up to `end`, nothing allowed before `start`, so
    # the account is flat with its initial cash when the window opens.
    full = strategy.signals(window(bars, 0, end), params)
    entries, exits = full.entries.copy(), full.exits.copy()
    entries[:start] = False
    exits[:start] = False
    reference = run_backtest(window(bars, 0, end), Signals(entries, exits), OPTIONS)
    assert np.all(reference.equity[:start] == OPTIONS.initial_cash)
    np.testing.assert_allclose(run.equity, reference.equity[start:], rtol=1e-12)
    equity = reference.equity[start:]
    assert run.metrics["total_return"] == pytest.approx(equity[-1] / OPTIONS.initial_cash - 1)
    peak = np.maximum.accumulate(np.concatenate(([OPTIONS.initial_cash], equity)))
    drawdown = float(np.max(1 - np.concatenate(([OPTIONS.initial_cash], equity)) / peak))
    assert run.metrics["max_drawdown"] == pytest.approx(drawdown, rel=1e-12)
    assert run.metrics["trades"] is not None
    assert run.metrics["trades"] > 0


def test_stitching_chains_each_fold_from_where_the_last_ended() -> None:
    cash = 1000.0
    times = [np.array([0, 1, 2]), np.array([3, 4]), np.array([5, 6])]
    runs = [
        (0, _fake_run([1000.0, 1100.0, 1200.0]), times[0]),
        (1, None, times[1]),  # nothing qualified on fold 1's training window: stays in cash
        (2, _fake_run([900.0, 1050.0]), times[2]),
    ]
    curve = stitch(runs, cash, "1d")
    np.testing.assert_allclose(curve.equity, [1000, 1100, 1200, 1200, 1200, 1080, 1260])
    assert curve.fold.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert curve.metrics["total_return"] == pytest.approx(1.2 * 1.05 - 1)
    assert curve.metrics["max_drawdown"] == pytest.approx(1 - 1080 / 1200)
    returns = np.diff(np.concatenate(([cash], curve.equity))) / np.concatenate(
        ([cash], curve.equity[:-1])
    )
    assert curve.metrics["sharpe"] == pytest.approx(
        returns.mean() / returns.std(ddof=1) * np.sqrt(252)
    )
    assert curve.metrics["trades"] == 5.0


def _fake_run(equity: list[float]) -> WindowRun:
    metrics: dict[str, float | None] = {"trades": float(len(equity)), "exposure": 1.0}
    return WindowRun(np.array(equity), metrics)


def _vbt_returns(bars: Bars, start: int, end: int, pairs: list[dict[str, int]]) -> Any:
    """vectorbt total return of each pair on bars [start, end), indicators on bars [0, end)."""
    close = pd.Series(bars.close[:end])
    with warnings.catch_warnings():  # vectorbt's kernels use numba's deprecated reflected lists
        warnings.simplefilter("ignore")
        fast = vbt.MA.run(close, window=[p["fast"] for p in pairs], short_name="fast")
        slow = vbt.MA.run(close, window=[p["slow"] for p in pairs], short_name="slow")
    entries = fast.ma_crossed_above(slow).vbt.signals.fshift(1).iloc[start:end]
    exits = fast.ma_crossed_below(slow).vbt.signals.fshift(1).iloc[start:end]
    entries.iloc[0] = False  # a signal on the bar before the window fills outside it
    exits.iloc[0] = False
    pf = vbt.Portfolio.from_signals(
        close.iloc[start:end],
        entries,
        exits,
        price=pd.Series(bars.open[start:end], index=close.index[start:end]),
        fees=OPTIONS.fee_rate,
        init_cash=OPTIONS.initial_cash,
        size=np.inf,
        accumulate=False,
        direction="longonly",
        upon_long_conflict="ignore",
        freq="1D",
    )
    return np.atleast_1d(np.asarray(pf.total_return()))


def test_a_walk_forward_matches_one_done_with_vectorbt() -> None:
    bars = goog_bars()
    folds = plan_folds(len(bars), WalkForward(mode="rolling", train_bars=500, test_bars=250))
    assert len(folds) == 7
    strategy = get_strategy("sma_cross")
    objective = Objective(metric="total_return")
    runs = []
    chained = 1.0
    for fold in folds:
        train = window(bars, fold.train_start, fold.train_end)
        rows = evaluate_chunk(train, "sma_cross", GRID, 0, OPTIONS, "1d", objective, None)
        ours = max(rows, key=lambda r: (r.objective, -r.index))
        vbt_train = _vbt_returns(train, 0, len(train), GRID)
        best = int(np.argmax(vbt_train))  # argmax keeps the first of equal values, as we do
        assert ours.parameters == GRID[best]
        np.testing.assert_allclose(
            np.array([r.objective for r in rows], dtype=float), vbt_train, rtol=1e-9
        )
        params = validate_parameters("sma_cross", ours.parameters)
        run = run_test(bars, strategy, params, fold.test_start, fold.test_end, OPTIONS, "1d")
        vbt_test = _vbt_returns(bars, fold.test_start, fold.test_end, [GRID[best]])[0]
        assert run.metrics["total_return"] == pytest.approx(vbt_test, rel=1e-9, abs=1e-12)
        chained *= 1 + vbt_test
        runs.append((fold.index, run, bars.time[fold.test_start : fold.test_end]))
    curve = stitch(runs, OPTIONS.initial_cash, "1d")
    assert curve.metrics["total_return"] == pytest.approx(chained - 1, rel=1e-9)
    assert len(curve.equity) == len(bars) - 500
