"""Chunked runs equal one-shot runs; progress, cancellation, input checks and warm-up."""

import math

import numpy as np
import pytest

from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.simulate import (
    BacktestCancelled,
    BacktestResult,
    compile_kernels,
    run_backtest,
)
from tradelab_engine.strategies.base import Signals

N = 5_000


def random_bars(n: int, seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.004, n))
    wick = np.abs(rng.normal(0.0, 0.006, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    return Bars(np.arange(n, dtype=np.int64) * 60 * 10**9, open_, high, low, close, close * 0.0)


def random_signals(n: int, seed: int, p: float = 0.03) -> Signals:
    rng = np.random.default_rng(seed)
    return Signals(rng.random(n) < p, rng.random(n) < p)


OPTION_SETS = [
    EngineOptions(fee_rate=0.001),
    EngineOptions(
        fee_rate=0.0005,
        slippage_bps=3,
        allow_short=True,
        stop_loss=0.01,
        take_profit=0.015,
        trailing_stop=0.008,
    ),
    EngineOptions(
        fill_at="close",
        fixed_fee=1.0,
        whole_units=True,
        stop_loss=0.02,
        both_hit_rule="target_first",
        take_profit=0.01,
    ),
    EngineOptions(sizing="units", size=50.0, allow_short=True, trailing_stop=0.01),
]


def assert_identical(a: BacktestResult, b: BacktestResult) -> None:
    np.testing.assert_array_equal(a.equity, b.equity)
    np.testing.assert_array_equal(a.cash, b.cash)
    np.testing.assert_array_equal(a.position, b.position)
    assert a.trades.tobytes() == b.trades.tobytes()
    assert a.summary == b.summary


@pytest.mark.parametrize("options", OPTION_SETS)
def test_run_in_37_chunks_equals_run_in_one_chunk(options: EngineOptions) -> None:
    bars, sig = random_bars(N, 1), random_signals(N, 2)
    whole = run_backtest(bars, sig, options, chunk_bars=N)
    assert len(whole.trades) > 20
    chunked = run_backtest(bars, sig, options, chunk_bars=math.ceil(N / 37))
    assert_identical(whole, chunked)
    assert_identical(whole, run_backtest(bars, sig, options, chunk_bars=1))


def test_on_chunk_reports_progress_after_each_chunk() -> None:
    calls: list[tuple[int, int]] = []

    def on_chunk(done: int, total: int) -> bool:
        calls.append((done, total))
        return True

    run_backtest(
        random_bars(1000, 1),
        random_signals(1000, 2),
        EngineOptions(),
        chunk_bars=300,
        on_chunk=on_chunk,
    )
    assert calls == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]


def test_on_chunk_returning_false_cancels_the_run() -> None:
    calls: list[int] = []

    def on_chunk(done: int, total: int) -> bool:
        calls.append(done)
        return done < 200

    with pytest.raises(BacktestCancelled) as caught:
        run_backtest(
            random_bars(1000, 1),
            random_signals(1000, 2),
            EngineOptions(),
            chunk_bars=100,
            on_chunk=on_chunk,
        )
    assert calls == [100, 200]
    assert (caught.value.done_bars, caught.value.total_bars) == (200, 1000)


def test_signals_of_the_wrong_length_are_refused() -> None:
    sig = Signals(np.zeros(9, dtype=np.bool_), np.zeros(9, dtype=np.bool_))
    with pytest.raises(ValueError, match="entries"):
        run_backtest(random_bars(10, 1), sig, EngineOptions())


def test_zero_bars_and_zero_chunk_size_are_refused() -> None:
    empty = np.zeros(0, dtype=np.bool_)
    with pytest.raises(ValueError, match="zero bars"):
        run_backtest(random_bars(0, 1), Signals(empty, empty), EngineOptions())
    with pytest.raises(ValueError, match="chunk_bars"):
        run_backtest(random_bars(5, 1), random_signals(5, 1), EngineOptions(), chunk_bars=0)


def test_timeframe_is_inferred_from_bar_times_when_not_given() -> None:
    result = run_backtest(random_bars(100, 1), random_signals(100, 2), EngineOptions())
    assert result.summary.metrics["periods_per_year"] == 252 * 390  # one-minute bars


def test_compile_kernels_runs_and_reports_seconds() -> None:
    seconds = compile_kernels()
    assert 0.0 <= seconds < 120.0
