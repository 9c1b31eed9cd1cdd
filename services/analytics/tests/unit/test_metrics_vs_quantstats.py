"""Metrics that quantstats also computes agree with it on the same numbers.

quantstats takes a pandas Series with a daily index. Its ulcer index divides the sum of squared
drawdowns by n - 1 where ours takes the mean over n (Martin's definition, a deliberate
difference), so the test rescales by sqrt((n - 1) / n). Its win rate leaves zero returns out;
trade arrays here have none, so it agrees with ours (zero trades: see test_trade_metrics.py).
"""

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
import pytest
import quantstats.stats as quantstats_stats

from services.analytics.tests.unit.series import SERIES, FloatArray
from tradelab_analytics.domain import distribution_metrics as dist
from tradelab_analytics.domain import returns_metrics as rets
from tradelab_analytics.domain.trade_metrics import longest_streak, trade_metrics

REL = 1e-9
# Several quantstats functions carry no annotations; reached through Any, mypy accepts the calls.
qs: Any = quantstats_stats

series = pytest.mark.parametrize("returns", list(SERIES.values()), ids=list(SERIES))


def as_series(values: FloatArray) -> pd.Series:
    """Return ``values`` as a business-daily pandas Series, as quantstats expects."""
    return pd.Series(values, index=pd.bdate_range("2015-01-02", periods=values.size))


@series
def test_skew_and_excess_kurtosis_match_quantstats(returns: FloatArray) -> None:
    assert dist.skew(returns) == pytest.approx(qs.skew(as_series(returns)), rel=REL)
    assert dist.kurtosis(returns) == pytest.approx(qs.kurtosis(as_series(returns)), rel=REL)


@series
def test_parametric_var_matches_quantstats_gaussian_var(returns: FloatArray) -> None:
    expected = qs.value_at_risk(as_series(returns), confidence=0.95)
    assert dist.parametric_var(returns) == pytest.approx(expected, rel=REL)


@series
def test_tail_ratio_matches_quantstats(returns: FloatArray) -> None:
    assert dist.tail_ratio(returns) == pytest.approx(qs.tail_ratio(as_series(returns)), rel=REL)


@series
def test_ulcer_index_is_quantstats_rescaled_from_n_minus_one_to_n(returns: FloatArray) -> None:
    n = returns.size
    expected = qs.ulcer_index(as_series(returns)) * np.sqrt((n - 1) / n)
    assert rets.ulcer_index(returns) == pytest.approx(expected, rel=REL)


def test_trade_win_rate_kelly_profit_factor_and_streak_match_quantstats() -> None:
    # Trade returns without zeros, used both as returns and as pnl (same formulas).
    trade_returns = SERIES["random_1500_daily"][:200]
    assert np.count_nonzero(trade_returns) == trade_returns.size
    got = trade_metrics(
        trade_returns, trade_returns, np.ones(trade_returns.size), np.zeros(trade_returns.size)
    )
    trades = as_series(trade_returns)
    assert got["win_rate"] == pytest.approx(qs.win_rate(trades), rel=REL)
    assert got["avg_win"] == pytest.approx(qs.avg_win(trades), rel=REL)
    assert got["avg_loss"] == pytest.approx(qs.avg_loss(trades), rel=REL)
    assert got["kelly"] == pytest.approx(qs.kelly_criterion(trades), rel=REL)
    assert got["profit_factor"] == pytest.approx(qs.profit_factor(trades), rel=REL)
    assert got["longest_winning_streak"] == qs.consecutive_wins(trades)
    assert got["longest_losing_streak"] == qs.consecutive_losses(trades)
    assert longest_streak(trade_returns > 0) == qs.consecutive_wins(trades)
