"""Trade statistics on a hand-built list of seven closed trades, every figure worked by hand."""

import math

import numpy as np
import pytest

from tradelab_analytics.domain.trade_metrics import (
    TRADE_METRIC_NAMES,
    longest_streak,
    trade_metrics,
)

# Outcomes: win, loss, scratch (pnl 0: neither), win, loss, loss, win.
PNL = np.array([100.0, -50.0, 0.0, 200.0, -25.0, -25.0, 150.0])
RETURNS = np.array([0.10, -0.05, 0.0, 0.20, -0.025, -0.025, 0.15])
BARS_HELD = np.array([3, 5, 1, 10, 2, 2, 4])
FEES = np.array([1.0] * 7 + [np.nan])  # an open trade's missing exit fee is skipped


@pytest.fixture(scope="module")
def metrics() -> dict[str, float | None]:
    return trade_metrics(PNL, RETURNS, BARS_HELD, FEES)


def test_win_rate_counts_scratch_trade_in_denominator(
    metrics: dict[str, float | None],
) -> None:
    assert metrics["trades"] == 7
    assert metrics["win_rate"] == pytest.approx(3 / 7)


def test_best_worst_average_trade_returns(metrics: dict[str, float | None]) -> None:
    assert metrics["best_trade"] == pytest.approx(0.20)
    assert metrics["worst_trade"] == pytest.approx(-0.05)
    assert metrics["avg_trade"] == pytest.approx(0.35 / 7)
    assert metrics["avg_win"] == pytest.approx(0.45 / 3)
    assert metrics["avg_loss"] == pytest.approx(-0.10 / 3)


def test_largest_pnl_profit_factor_and_expectancy(metrics: dict[str, float | None]) -> None:
    assert metrics["largest_win"] == 200.0
    assert metrics["largest_loss"] == -50.0
    assert metrics["profit_factor"] == pytest.approx(450 / 100)
    assert metrics["expectancy"] == pytest.approx(350 / 7)


def test_sqn_and_kelly_from_hand_moments(metrics: dict[str, float | None]) -> None:
    # Deviations from the mean 0.05: .05 -.1 -.05 .15 -.075 -.075 .1; squares sum to 0.05875.
    assert metrics["sqn"] == pytest.approx(0.05 / math.sqrt(0.05875 / 6) * math.sqrt(7))
    # Payoff 0.15 / (0.1 / 3) = 4.5; Kelly = 3/7 - (4/7) / 4.5 = 19/63.
    assert metrics["kelly"] == pytest.approx(19 / 63)


def test_durations_streaks_and_fees(metrics: dict[str, float | None]) -> None:
    assert metrics["max_trade_duration"] == 10
    assert metrics["avg_trade_duration"] == pytest.approx(27 / 7)
    assert metrics["longest_winning_streak"] == 1
    assert metrics["longest_losing_streak"] == 2
    assert metrics["total_fees"] == 7.0


def test_no_trades_gives_none_except_counts() -> None:
    empty = np.array([], dtype=np.float64)
    metrics = trade_metrics(empty, empty, empty, empty)
    assert list(metrics) == list(TRADE_METRIC_NAMES)
    counts = {"trades", "total_fees", "longest_winning_streak", "longest_losing_streak"}
    assert {name: metrics[name] for name in counts} == dict.fromkeys(counts, 0.0)
    assert all(metrics[name] is None for name in TRADE_METRIC_NAMES if name not in counts)


def test_all_winning_trades_leave_loss_ratios_undefined() -> None:
    pnl = np.array([10.0, 20.0])
    metrics = trade_metrics(pnl, pnl / 100, np.array([1, 2]), np.zeros(2))
    assert metrics["win_rate"] == 1.0
    assert metrics["avg_loss"] is None
    assert metrics["profit_factor"] is None
    assert metrics["kelly"] is None
    assert metrics["largest_loss"] is None


def test_identical_trades_have_no_sqn() -> None:
    pnl = np.array([5.0, 5.0, 5.0])
    assert trade_metrics(pnl, pnl / 50, np.ones(3), np.zeros(3))["sqn"] is None


def test_streak_counts_longest_run_of_true() -> None:
    assert longest_streak([True, True, False, True, True, True, False]) == 3
    assert longest_streak([]) == 0
