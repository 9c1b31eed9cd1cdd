"""Monthly and yearly returns agree with empyrical's calendar aggregation of the same returns."""

import empyrical  # type: ignore[import-untyped]  # ships no type information
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
import pytest

from services.analytics.tests.unit.series import random_returns
from tradelab_analytics.domain.periodic import monthly_returns, yearly_returns

INITIAL_CASH = 10_000.0


def daily_curve() -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Return business days, their returns and the equity that starts from the initial cash."""
    returns = random_returns(seed=3, bars=700)
    index = pd.bdate_range("2020-01-15", periods=returns.size, tz="UTC").as_unit("ns")
    equity = INITIAL_CASH * np.cumprod(1.0 + returns)
    return index, returns, equity


def test_monthly_returns_compound_within_each_calendar_month() -> None:
    index, returns, equity = daily_curve()
    time_ns = index.asi8
    table = monthly_returns(time_ns, equity, INITIAL_CASH)
    expected = empyrical.aggregate_returns(pd.Series(returns, index=index), "monthly")
    assert list(zip(table["year"], table["month"], strict=True)) == list(expected.index)
    np.testing.assert_allclose(table["return"].to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_yearly_returns_compound_within_each_calendar_year() -> None:
    index, returns, equity = daily_curve()
    table = yearly_returns(index.asi8, equity, INITIAL_CASH)
    expected = empyrical.aggregate_returns(pd.Series(returns, index=index), "yearly")
    assert table["year"].to_list() == list(expected.index)
    np.testing.assert_allclose(table["return"].to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_first_month_starts_from_initial_cash() -> None:
    jan = np.datetime64("2024-01-10", "ns").astype(np.int64)
    feb = np.datetime64("2024-02-01", "ns").astype(np.int64)
    table = monthly_returns(np.array([jan, feb]), np.array([110.0, 99.0]), 100.0)
    assert table.rows() == [(2024, 1, pytest.approx(0.10)), (2024, 2, pytest.approx(-0.10))]
