"""Rolling Sharpe ratio and volatility agree with quantstats and a hand computation; the
returns histogram with numpy's.

quantstats (pandas' rolling mean and std) is compared at windows of 5 bars and more: pandas'
online update loses about 3e-9 relative on 3-bar windows of these returns, more than the
tolerance, so the shortest windows are checked against a direct computation instead.
"""

import statistics
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
import pytest
import quantstats.stats as quantstats_stats

from services.analytics.tests.unit.series import SERIES, FloatArray, random_returns
from tradelab_analytics.domain.rolling import (
    returns_histogram,
    rolling_sharpe,
    rolling_volatility,
)
from tradelab_analytics.domain.run_analysis import rolling_series

REL = 1e-9
PERIODS = 252
qs: Any = quantstats_stats  # untyped functions, reached through Any

series = pytest.mark.parametrize("returns", list(SERIES.values()), ids=list(SERIES))
windows = pytest.mark.parametrize("window", [5, 21, 126])


def as_series(values: FloatArray) -> pd.Series:
    """Return ``values`` as a business-daily pandas Series, as quantstats expects."""
    return pd.Series(values, index=pd.bdate_range("2015-01-02", periods=values.size))


def direct_std(returns: FloatArray, window: int) -> FloatArray:
    """Return the sample std of every full window, computed window by window."""
    views = np.lib.stride_tricks.sliding_window_view(returns, window)
    return np.asarray(views.std(axis=1, ddof=1), dtype=np.float64)


@series
@windows
def test_rolling_sharpe_matches_quantstats(returns: FloatArray, window: int) -> None:
    expected = qs.rolling_sharpe(
        as_series(returns), rolling_period=window, periods_per_year=PERIODS, prepare_returns=False
    )
    got = rolling_sharpe(returns, window, PERIODS)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=REL, atol=0.0)


@series
@windows
def test_rolling_volatility_matches_quantstats(returns: FloatArray, window: int) -> None:
    expected = qs.rolling_volatility(
        as_series(returns), rolling_period=window, periods_per_year=PERIODS, prepare_returns=False
    )
    got = rolling_volatility(returns, window, PERIODS)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=REL, atol=0.0)


def test_rolling_sharpe_takes_the_per_bar_risk_free_rate_as_quantstats_does() -> None:
    returns = SERIES["random_1500_daily"]
    expected = qs.rolling_sharpe(
        as_series(returns), rf=0.03, rolling_period=63, periods_per_year=PERIODS
    )
    got = rolling_sharpe(returns, 63, PERIODS, risk_free=0.03)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=REL, atol=0.0)


def test_window_of_three_by_hand() -> None:
    returns = np.array([0.01, -0.02, 0.015, 0.0, -0.005])
    sharpe = rolling_sharpe(returns, 3, PERIODS)
    volatility = rolling_volatility(returns, 3, PERIODS)
    assert np.isnan(sharpe[:2]).all()
    assert np.isnan(volatility[:2]).all()
    for end in range(2, 5):
        window = returns[end - 2 : end + 1].tolist()
        std = statistics.stdev(window)
        assert volatility[end] == pytest.approx(std * PERIODS**0.5, rel=1e-12)
        assert sharpe[end] == pytest.approx(statistics.mean(window) / std * PERIODS**0.5, rel=1e-12)


@pytest.mark.parametrize("window", [2, 3, 32, 33, 200])
def test_short_and_long_windows_match_a_window_by_window_std(window: int) -> None:
    # A drifting, fat-tailed series: a 0.5 % jump in level between halves.
    returns = np.concatenate((random_returns(seed=1, bars=3_000), random_returns(seed=2) + 0.005))
    got = rolling_volatility(returns, window, 1.0)
    np.testing.assert_allclose(got[window - 1 :], direct_std(returns, window), rtol=1e-12)


def test_nearly_flat_windows_keep_their_small_dispersion() -> None:
    # Returns near 1 % that differ only in the tenth digit: summing squares would cancel.
    rng = np.random.default_rng(5)
    returns = 0.01 + 1e-10 * rng.standard_normal(2_000)
    for window in (2, 50):
        got = rolling_volatility(returns, window, 1.0)
        np.testing.assert_allclose(got[window - 1 :], direct_std(returns, window), rtol=1e-6)


def test_a_window_holding_a_nan_is_nan_and_later_windows_recover() -> None:
    returns = random_returns(bars=40)
    returns[10] = np.nan
    got = rolling_volatility(returns, 5, PERIODS)
    assert np.isnan(got[10:15]).all()
    assert np.isfinite(got[4:10]).all()
    assert np.isfinite(got[15:]).all()
    np.testing.assert_allclose(got[15:], direct_std(returns[11:], 5) * PERIODS**0.5, rtol=1e-12)


def test_a_flat_window_has_zero_volatility_and_no_sharpe_ratio() -> None:
    returns = np.array([0.01, 0.01, 0.01, 0.02, 0.01])
    assert rolling_volatility(returns, 3, PERIODS)[2] == 0.0
    assert np.isnan(rolling_sharpe(returns, 3, PERIODS)[2])
    assert np.isfinite(rolling_sharpe(returns, 3, PERIODS)[3:]).all()


def test_series_shorter_than_the_window_is_all_nan() -> None:
    assert np.isnan(rolling_sharpe([0.01, 0.02], 5, PERIODS)).all()
    assert rolling_volatility([], 5, PERIODS).size == 0


def test_window_under_two_bars_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        rolling_sharpe([0.01, 0.02, 0.03], 1, PERIODS)


def test_histogram_counts_the_finite_returns_as_numpy_does() -> None:
    returns = random_returns(bars=500)
    returns[[3, 50, 70]] = [np.nan, np.inf, -np.inf]
    edges, counts = returns_histogram(returns, bins=30)
    finite = returns[np.isfinite(returns)]
    expected_counts, expected_edges = np.histogram(finite, bins=30)
    assert counts.dtype == np.int64
    assert counts.sum() == finite.size == 497
    np.testing.assert_array_equal(counts, expected_counts)
    np.testing.assert_array_equal(edges, expected_edges)


def test_rolling_series_starts_at_the_first_full_window_and_is_thinned() -> None:
    returns = random_returns(seed=9, bars=5_000)
    equity = np.asarray(10_000.0 * np.cumprod(1.0 + returns), dtype=np.float64)
    times = np.arange(returns.size, dtype=np.int64) * 86_400 * 10**9
    series = rolling_series(times, equity, 10_000.0, 252.0, window=63, max_points=400)
    assert series["window"] == 63
    assert len(series["time"]) == len(series["sharpe"]) == len(series["volatility"]) <= 400
    assert series["time"][0].startswith("1970-03-04")  # bar 62: the first full window
    expected = rolling_volatility(returns, 63, 252.0)
    assert series["volatility"][0] == pytest.approx(expected[62], rel=1e-12)
    assert series["volatility"][-1] == pytest.approx(expected[-1], rel=1e-12)
    short = rolling_series(times[:10], equity[:10], 10_000.0, 252.0, window=63)
    assert short["time"] == []
