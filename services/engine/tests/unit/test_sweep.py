"""Parameter sweeps equal one ``run_backtest`` + summary per combination.

Reference: the single-run simulator (itself checked against vectorbt in test_vs_vectorbt.py).
Datasets: real GOOG daily bars and a 100,000-bar seeded random walk. Every metric is compared
to 1e-9 relative (the kernel is in fact bit-identical, tested once exactly), trades exactly.
"""

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import pydantic
import pytest

from services.engine.tests.unit.market_data import goog_bars, random_walk_bars
from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.simulate import kernel_params, run_backtest
from tradelab_engine.domain.summary import Summary
from tradelab_engine.domain.sweep import (
    CHUNK_BARS,
    SweepResult,
    compile_sweep_kernels,
    plan_blocks,
    supports,
    sweep,
)
from tradelab_engine.kernels.ma_nb import ema_1d_nb, sma_1d_nb
from tradelab_engine.kernels.sweep_nb import MA_EXPONENTIAL, MA_SIMPLE, ma_chunk_nb, sweep_cross_nb
from tradelab_engine.strategies.base import UnknownStrategyError
from tradelab_engine.strategies.catalogue import STRATEGIES

RTOL = 1e-9
MAX_THREADS: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at import

GRID = [
    {"fast": fast, "slow": slow}
    for fast in range(5, 21, 5)
    for slow in range(30, 61, 10)
    if fast < slow
]

DATASETS: dict[str, Callable[[], Bars]] = {
    "goog": goog_bars,
    "synthetic_100k": lambda: random_walk_bars(100_000, seed=20240607),
}

OPTIONS = {
    "defaults": EngineOptions(),
    "fees_slippage_whole_units": EngineOptions(fee_rate=0.001, slippage_bps=5, whole_units=True),
}

VARIANTS = {
    "fill_at_close": EngineOptions(fee_rate=0.001, fill_at="close"),
    "short_reversal": EngineOptions(fee_rate=0.001, slippage_bps=3, allow_short=True),
    "short_at_close": EngineOptions(fee_rate=0.0005, allow_short=True, fill_at="close"),
    "fixed_fee": EngineOptions(fee_rate=0.001, fixed_fee=2.0, whole_units=True),
    "fixed_units": EngineOptions(fee_rate=0.001, sizing="units", size=300.0),
    "half_of_cash": EngineOptions(fee_rate=0.001, slippage_bps=5, size=0.5),
}


def single_runs(
    bars: Bars, strategy: str, grid: list[dict[str, Any]], options: EngineOptions
) -> list[Summary]:
    model = STRATEGIES[strategy]
    return [
        run_backtest(bars, model.signals(bars, model.params_model(**combo)), options).summary
        for combo in grid
    ]


def assert_matches(result: SweepResult, summaries: list[Summary]) -> None:
    assert len(result) == len(summaries)
    for name in ("final_equity", "total_return", "max_drawdown", "exposure"):
        expected = [getattr(s, name) for s in summaries]
        np.testing.assert_allclose(getattr(result, name), expected, rtol=RTOL, atol=0, err_msg=name)
    sharpe = [np.nan if s.sharpe is None else s.sharpe for s in summaries]
    np.testing.assert_allclose(result.sharpe, sharpe, rtol=RTOL, atol=0, err_msg="sharpe")
    np.testing.assert_array_equal(result.trades, [s.trades for s in summaries])


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("strategy", ["sma_cross", "ema_cross"])
def test_kernel_metrics_equal_single_runs(strategy: str, dataset: str, options: str) -> None:
    bars = DATASETS[dataset]()
    result = sweep(bars, strategy, GRID, OPTIONS[options], timeframe=None)
    assert result.method == "kernel"
    summaries = single_runs(bars, strategy, GRID, OPTIONS[options])
    assert_matches(result, summaries)
    assert min(s.trades for s in summaries) > 5  # the grid trades


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_kernel_option_variants_equal_single_runs(dataset: str, variant: str) -> None:
    bars = DATASETS[dataset]()
    result = sweep(bars, "sma_cross", GRID, VARIANTS[variant], timeframe="1d")
    assert result.method == "kernel"
    assert_matches(result, single_runs(bars, "sma_cross", GRID, VARIANTS[variant]))


def test_kernel_is_bit_identical_to_the_summary() -> None:
    bars = goog_bars()
    options = OPTIONS["fees_slippage_whole_units"]
    result = sweep(bars, "sma_cross", GRID, options)
    summaries = single_runs(bars, "sma_cross", GRID, options)
    for name in ("final_equity", "total_return", "max_drawdown", "sharpe", "exposure"):
        np.testing.assert_array_equal(getattr(result, name), [getattr(s, name) for s in summaries])


@pytest.mark.parametrize("dataset", DATASETS)
def test_best_combination_by_sharpe_is_the_best_single_run(dataset: str) -> None:
    bars = DATASETS[dataset]()
    options = OPTIONS["fees_slippage_whole_units"]
    summaries = single_runs(bars, "sma_cross", GRID, options)
    best_single = max(range(len(GRID)), key=lambda k: summaries[k].sharpe or -np.inf)
    assert sweep(bars, "sma_cross", GRID, options).best("sharpe") == best_single


FALLBACKS: dict[str, tuple[str, list[dict[str, Any]], EngineOptions]] = {
    "rsi_reversion": (
        "rsi_reversion",
        [{"period": p, "lower": lo} for p in (7, 14, 21) for lo in (25.0, 30.0)],
        EngineOptions(fee_rate=0.001),
    ),
    "sma_cross_with_stop_loss": (
        "sma_cross",
        GRID,
        EngineOptions(fee_rate=0.001, slippage_bps=5, stop_loss=0.03),
    ),
    "ema_cross_with_trailing_stop": ("ema_cross", GRID, EngineOptions(trailing_stop=0.05)),
}


@pytest.mark.parametrize("case", FALLBACKS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_fallback_equals_single_runs(dataset: str, case: str) -> None:
    bars = DATASETS[dataset]()
    strategy, grid, options = FALLBACKS[case]
    assert not supports(strategy, options)
    result = sweep(bars, strategy, grid, options)
    assert result.method == "per_run"
    assert_matches(result, single_runs(bars, strategy, grid, options))


def test_one_and_two_threads_give_identical_results() -> None:
    bars = DATASETS["synthetic_100k"]()
    options = OPTIONS["fees_slippage_whole_units"]
    grid = [{"fast": f, "slow": s} for f in range(5, 51, 3) for s in range(20, 201, 15) if f < s]
    one = sweep(bars, "sma_cross", grid, options, threads=1)
    two = sweep(bars, "sma_cross", grid, options, threads=min(2, MAX_THREADS))
    for name in ("final_equity", "total_return", "max_drawdown", "sharpe", "trades", "exposure"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)


def test_threads_setting_is_restored() -> None:
    before = numba.get_num_threads()
    sweep(goog_bars(), "sma_cross", GRID[:2], EngineOptions(), threads=1)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("kind", [MA_SIMPLE, MA_EXPONENTIAL])
@pytest.mark.parametrize("chunk", [1, 37, 1000])
def test_chunked_averages_are_bit_identical_to_the_indicator_kernels(chunk: int, kind: int) -> None:
    close = goog_bars().close
    reference = sma_1d_nb if kind == MA_SIMPLE else ema_1d_nb
    for window in (2, 10, 50, 3000):  # 3000: longer than the data
        row, carry = np.empty(len(close)), 0.0
        for start in range(0, len(close), chunk):
            stop = min(start + chunk, len(close))
            carry = ma_chunk_nb(close, window, kind, start, stop, carry, row, start)
        np.testing.assert_array_equal(row, reference(close, window))


@pytest.mark.parametrize("chunk", [1, 2, 37, 4096])
def test_kernel_results_do_not_depend_on_the_chunk_size(chunk: int) -> None:
    bars = goog_bars()
    params = kernel_params(EngineOptions(fee_rate=0.001, allow_short=True))
    windows = np.array([5, 10, 30, 60], dtype=np.int64)
    fast_rows, slow_rows = np.array([0, 1, 0]), np.array([2, 3, 3])
    outs = []
    for size in (chunk, len(bars)):
        out = np.empty((3, 6))
        sweep_cross_nb(
            bars.close, bars.open, windows, MA_SIMPLE, fast_rows, slow_rows, params, 1e5, size, out
        )
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.all(outs[0][:, 4] > 10)  # trades


def test_small_memory_budget_evaluates_blocks_with_the_same_results() -> None:
    bars = goog_bars()
    options = OPTIONS["fees_slippage_whole_units"]
    whole = sweep(bars, "ema_cross", GRID, options)
    budget = 3 * 2 * 8 * (CHUNK_BARS + 1)  # three windows' two buffers of averages
    blocks = sweep(bars, "ema_cross", GRID, options, memory_budget=budget)
    for name in ("final_equity", "max_drawdown", "sharpe", "trades", "exposure"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(blocks, name), err_msg=name)


def test_plan_blocks_covers_every_combination_within_the_window_limit() -> None:
    fast = np.array([c["fast"] for c in GRID] * 2, dtype=np.int64)
    slow = np.array([c["slow"] for c in GRID] * 2, dtype=np.int64)
    blocks = plan_blocks(fast, slow, max_windows=3, max_combinations=5)
    assert len(blocks) > 1
    np.testing.assert_array_equal(np.sort(np.concatenate(blocks)), np.arange(len(fast)))
    for block in blocks:
        assert len(block) <= 5
        assert len(np.union1d(fast[block], slow[block])) <= 3
    assert [len(b) for b in plan_blocks(fast, slow, 100, 100)] == [len(fast)]


def test_averages_longer_than_the_data_never_trade() -> None:
    bars = Bars.from_close(goog_bars().close[:50])
    grid = [{"fast": 10, "slow": 60}, {"fast": 5, "slow": 20}]
    result = sweep(bars, "sma_cross", grid, EngineOptions(), timeframe="1d")
    assert result.trades[0] == 0
    assert np.isnan(result.sharpe[0])  # no return varies: the summary's None
    assert_matches(result, single_runs(bars, "sma_cross", grid, EngineOptions()))


@pytest.mark.parametrize("fill_at", ["next_open", "close"])
def test_a_short_losing_more_than_the_cash_matches_single_runs(fill_at: str) -> None:
    # Flat, a slow fall (the averages cross below: short), then a jump to three times the price:
    # equity turns negative, so returns are undefined (Sharpe None) and drawdown exceeds 1.
    close = np.concatenate([np.full(30, 100.0), np.linspace(100.0, 80.0, 30), np.full(40, 300.0)])
    bars = Bars.from_close(close)
    options = EngineOptions.model_validate({"allow_short": True, "fill_at": fill_at})
    grid = [{"fast": 2, "slow": 5}, {"fast": 3, "slow": 8}]
    result = sweep(bars, "sma_cross", grid, options, timeframe="1d")
    assert np.all(result.max_drawdown > 1.0)
    assert np.all(np.isnan(result.sharpe))
    assert_matches(result, single_runs(bars, "sma_cross", grid, options))


def test_one_bar_and_no_combinations() -> None:
    one_bar, grid = Bars.from_close(np.array([100.0])), [{"fast": 2, "slow": 3}]
    result = sweep(one_bar, "sma_cross", grid, EngineOptions())
    assert_matches(result, single_runs(one_bar, "sma_cross", grid, EngineOptions()))
    assert len(sweep(goog_bars(), "sma_cross", [], EngineOptions())) == 0


def test_invalid_input_is_refused() -> None:
    bars = goog_bars()
    with pytest.raises(pydantic.ValidationError):
        sweep(bars, "sma_cross", [{"fast": 30, "slow": 20}], EngineOptions())
    with pytest.raises(UnknownStrategyError):
        sweep(bars, "no_such_strategy", GRID, EngineOptions())
    with pytest.raises(ValueError, match="zero bars"):
        sweep(Bars.from_close(np.array([])), "sma_cross", GRID, EngineOptions())
    nan = np.array([np.nan])
    undefined = SweepResult(nan, nan, nan, nan, np.array([0]), np.array([0.0]), "kernel")
    with pytest.raises(ValueError, match="no combination has a sharpe"):
        undefined.best("sharpe")


def test_compile_sweep_kernels_reports_seconds() -> None:
    assert compile_sweep_kernels() >= 0.0
