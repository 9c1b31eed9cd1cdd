"""``analyse`` combines every metric into one flat dictionary with stable names."""

import math

import empyrical  # type: ignore[import-untyped]  # ships no type information
import numpy as np
import pytest

from services.analytics.tests.unit.series import random_returns
from tradelab_analytics.domain.analysis import analyse

INITIAL_CASH = 10_000.0
EXPECTED_KEYS = [
    "periods_per_year", "bars", "final_equity",
    "total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "omega",
    "max_drawdown", "max_drawdown_duration", "longest_drawdown_duration", "average_drawdown",
    "ulcer_index", "stability", "var_95", "cvar_95", "parametric_var_95", "skew", "kurtosis",
    "tail_ratio", "alpha", "beta", "benchmark_return",
    "trades", "win_rate", "best_trade", "worst_trade", "avg_trade", "avg_win", "avg_loss",
    "largest_win", "largest_loss", "profit_factor", "expectancy", "sqn", "kelly",
    "max_trade_duration", "avg_trade_duration", "longest_winning_streak",
    "longest_losing_streak", "total_fees", "open_trades",
]  # fmt: skip
# Two closed trades and one still open at the end (its pnl is unrealised, exit fee NaN).
TRADES = {
    "pnl": np.array([120.0, -40.0, 300.0]),
    "return": np.array([0.012, -0.004, 0.03]),
    "bars_held": np.array([5, 3, 9]),
    "entry_fee": np.array([2.0, 2.0, 2.0]),
    "exit_fee": np.array([2.0, 2.0, np.nan]),
    "is_open": np.array([False, False, True]),
}


@pytest.fixture(scope="module")
def bars() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return 1,500 daily bar times, an equity curve and the asset's closes."""
    returns = random_returns(seed=5)
    equity = INITIAL_CASH * np.cumprod(1.0 + returns)
    close = 50.0 * np.cumprod(1.0 + 0.5 * returns + random_returns(seed=9) * 0.5)
    time_ns = np.datetime64("2015-01-02", "ns").astype(np.int64) + np.arange(returns.size) * (
        86_400 * 10**9
    )
    return time_ns, equity, close


def test_keys_are_stable_and_values_finite_or_none(bars: tuple[np.ndarray, ...]) -> None:
    time_ns, equity, close = bars
    metrics = analyse(equity, time_ns, TRADES, INITIAL_CASH, "1d", benchmark_close=close)
    assert list(metrics) == EXPECTED_KEYS
    assert all(value is None or math.isfinite(value) for value in metrics.values())


def test_returns_start_from_initial_cash_and_match_empyrical(bars: tuple[np.ndarray, ...]) -> None:
    time_ns, equity, close = bars
    metrics = analyse(equity, time_ns, TRADES, INITIAL_CASH, "1h", benchmark_close=close)
    returns = np.diff(np.concatenate(([INITIAL_CASH], equity))) / np.concatenate(
        ([INITIAL_CASH], equity[:-1])
    )
    benchmark = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
    alpha, beta = empyrical.alpha_beta(returns, benchmark, annualization=1_638.0)
    assert metrics["periods_per_year"] == 1_638.0
    assert metrics["total_return"] == pytest.approx(equity[-1] / INITIAL_CASH - 1.0, rel=1e-9)
    assert metrics["sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(returns, annualization=1_638.0), rel=1e-9
    )
    assert metrics["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert metrics["beta"] == pytest.approx(beta, rel=1e-9)
    assert metrics["benchmark_return"] == pytest.approx(close[-1] / close[0] - 1.0, rel=1e-9)


def test_open_trade_is_left_out_of_trade_statistics_but_its_fee_counts(
    bars: tuple[np.ndarray, ...],
) -> None:
    time_ns, equity, _ = bars
    metrics = analyse(equity, time_ns, TRADES, INITIAL_CASH, "1d")
    assert metrics["trades"] == 2
    assert metrics["open_trades"] == 1
    assert metrics["win_rate"] == 0.5
    assert metrics["largest_win"] == 120.0
    assert metrics["total_fees"] == 10.0
    assert metrics["alpha"] is None  # no benchmark given


def test_mismatched_lengths_are_refused(bars: tuple[np.ndarray, ...]) -> None:
    time_ns, equity, _ = bars
    with pytest.raises(ValueError, match="one value per bar"):
        analyse(equity, time_ns[:-1], TRADES, INITIAL_CASH, "1d")
