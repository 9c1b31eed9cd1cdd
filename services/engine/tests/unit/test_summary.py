"""Summary statistics against hand computations (plain Python and numpy written in the test)."""

import itertools
import math
import statistics

import numpy as np
import pytest

from tradelab_contracts.engine import BacktestSummary
from tradelab_engine.domain.records import EXIT_OPEN_AT_END, EXIT_SIGNAL, empty_trades
from tradelab_engine.domain.summary import (
    infer_timeframe,
    max_drawdown,
    periods_per_year,
    sharpe_ratio,
    summarise,
)

MINUTE_NS = 60 * 10**9
DAY_NS = 1440 * MINUTE_NS


def test_max_drawdown_is_the_largest_fall_from_a_running_peak() -> None:
    equity = np.array([110.0, 99.0, 120.0, 90.0, 130.0])
    # Peaks 110 then 120; falls 11/110 = 0.1 and 30/120 = 0.25.
    assert max_drawdown(equity, 100.0) == pytest.approx(0.25, rel=1e-15)


def test_max_drawdown_counts_a_fall_from_the_initial_cash() -> None:
    assert max_drawdown(np.array([80.0, 90.0]), 100.0) == pytest.approx(0.2, rel=1e-15)
    assert max_drawdown(np.array([100.0, 101.0]), 100.0) == 0.0


def test_max_drawdown_exceeds_one_when_equity_turns_negative() -> None:
    assert max_drawdown(np.array([50.0, -50.0]), 100.0) == pytest.approx(1.5, rel=1e-15)


def test_sharpe_is_mean_over_sample_std_of_simple_returns_annualised() -> None:
    equity = [100.0, 110.0, 99.0, 120.0]
    values = [100.0, *equity]  # the initial cash comes first
    returns = [b / a - 1.0 for a, b in itertools.pairwise(values)]
    assert returns == pytest.approx([0.0, 0.1, -0.1, 21.0 / 99.0])
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252.0)
    assert sharpe_ratio(np.array(equity), 100.0, 252.0) == pytest.approx(expected, rel=1e-12)


def test_sharpe_is_none_without_variance_or_with_one_return() -> None:
    assert sharpe_ratio(np.array([100.0, 100.0, 100.0]), 100.0, 252.0) is None
    assert sharpe_ratio(np.array([105.0]), 100.0, 252.0) is None


def test_sharpe_is_none_once_equity_is_not_positive() -> None:
    assert sharpe_ratio(np.array([50.0, -10.0, 20.0]), 100.0, 252.0) is None


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        ("1m", 252 * 390),
        ("5m", 252 * 78),
        ("15m", 252 * 26),
        ("30m", 252 * 13),
        ("1h", 252 * 6.5),
        ("4h", 252 * 6.5 / 4),
        ("1d", 252),
        ("1w", 52),
        ("1mo", 12),
        ("2d", 126),
        ("irregular", 252),
        ("nonsense", 252),
        (None, 252),
    ],
)
def test_periods_per_year(timeframe: str | None, expected: float) -> None:
    assert periods_per_year(timeframe) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("step_ns", "expected"),
    [
        (MINUTE_NS, "1m"),
        (5 * MINUTE_NS, "5m"),
        (60 * MINUTE_NS, "1h"),
        (4 * 60 * MINUTE_NS, "4h"),
        (DAY_NS, "1d"),
        (7 * DAY_NS, "1w"),
        (30 * DAY_NS, "1mo"),
        (3 * MINUTE_NS, "irregular"),
    ],
)
def test_infer_timeframe_from_the_median_spacing(step_ns: int, expected: str) -> None:
    time = np.arange(50, dtype=np.int64) * step_ns
    assert infer_timeframe(time) == expected


def test_infer_timeframe_ignores_weekend_gaps_and_needs_two_times() -> None:
    days = np.array([0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14], dtype=np.int64) * DAY_NS
    assert infer_timeframe(days) == "1d"
    assert infer_timeframe(np.array([5], dtype=np.int64)) == "irregular"


def test_summarise_matches_hand_figures_and_the_contract() -> None:
    equity = np.array([100.0, 100.0, 104.0, 98.0, 103.0, 103.0])
    position = np.array([0.0, 2.0, 2.0, 2.0, 0.0, 1.0])
    trades = empty_trades(2)
    trades["is_open"] = [False, True]
    trades["exit_reason"] = [EXIT_SIGNAL, EXIT_OPEN_AT_END]
    time = np.arange(6, dtype=np.int64) * DAY_NS
    summary = summarise(equity, position, trades, initial_cash=100.0, fees_paid=1.5, time=time)

    values = np.concatenate(([100.0], equity))
    returns = np.diff(values) / values[:-1]
    expected_sharpe = returns.mean() / returns.std(ddof=1) * np.sqrt(252.0)
    assert summary.final_equity == 103.0
    assert summary.total_return == pytest.approx(0.03, rel=1e-12)
    assert summary.max_drawdown == pytest.approx(6.0 / 104.0, rel=1e-12)
    assert summary.sharpe == pytest.approx(expected_sharpe, rel=1e-12)
    assert summary.trades == 1  # the open trade is not counted
    assert summary.exposure == pytest.approx(4 / 6, rel=1e-15)
    assert summary.fees_paid == 1.5
    assert summary.metrics == {"open_trades": 1.0, "both_hit_bars": 0.0, "periods_per_year": 252.0}
    contract = BacktestSummary.model_validate(summary.__dict__)
    assert contract.sharpe == summary.sharpe
