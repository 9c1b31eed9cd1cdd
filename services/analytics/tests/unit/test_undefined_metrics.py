"""Undefined metrics come back as None, never NaN or infinity."""

import math

import numpy as np
import pytest

from tradelab_analytics.domain import distribution_metrics as dist
from tradelab_analytics.domain import returns_metrics as rets
from tradelab_analytics.domain.analysis import analyse
from tradelab_analytics.domain.benchmark_metrics import alpha_beta
from tradelab_analytics.domain.conventions import returns_from_equity

NO_TRADES: dict[str, list[float]] = {"pnl": [], "return": [], "bars_held": [], "is_open": []}


def test_flat_returns_have_no_ratio_but_zero_risk() -> None:
    flat = np.zeros(50)
    assert rets.annual_volatility(flat, 252) == 0.0
    assert rets.max_drawdown(flat) == 0.0
    for value in (
        rets.sharpe(flat, 252),
        rets.sortino(flat, 252),
        rets.calmar(flat, 252),
        rets.omega(flat, 252),
        rets.stability(flat),
        dist.skew(flat),
        dist.kurtosis(flat),
        dist.tail_ratio(flat),
    ):
        assert value is None


def test_constant_positive_returns_have_no_sharpe_despite_rounding() -> None:
    # 0.001 repeated has a float std of about 1e-19; the ratio would be a huge meaningless number.
    assert rets.sharpe(np.full(100, 0.001), 252) is None


def test_too_few_returns_give_none() -> None:
    one = np.array([0.01])
    assert rets.annual_volatility(one, 252) is None
    assert rets.sharpe(one, 252) is None
    assert rets.cagr(np.array([], dtype=np.float64), 252) is None
    assert dist.kurtosis(np.array([0.01, -0.02, 0.03])) is None
    assert alpha_beta(one, one, 252) == (None, None)


def test_flat_benchmark_has_no_beta() -> None:
    returns = np.array([0.01, -0.02, 0.03])
    assert alpha_beta(returns, np.zeros(3), 252) == (None, None)


def test_equity_through_zero_makes_returns_undefined() -> None:
    returns = returns_from_equity(np.array([50.0, 0.0, 10.0]), initial_cash=100.0)
    assert np.isnan(returns[-1])
    assert rets.sharpe(returns, 252) is None
    assert rets.max_drawdown(returns) is None


@pytest.mark.parametrize(
    "equity",
    [np.full(30, 1_000.0), np.array([1_000.0]), np.array([900.0, 0.0, -50.0])],
    ids=["flat", "single_bar", "bankrupt"],
)
def test_analyse_never_returns_nan_or_infinity(equity: np.ndarray) -> None:
    time_ns = np.arange(equity.size, dtype=np.int64) * 86_400 * 10**9
    metrics = analyse(
        equity, time_ns, NO_TRADES, 1_000.0, "1d", benchmark_close=np.ones(equity.size)
    )
    assert all(value is None or math.isfinite(value) for value in metrics.values())
    assert metrics["trades"] == 0
    assert metrics["win_rate"] is None
    assert metrics["sharpe"] is None
    assert metrics["beta"] is None
