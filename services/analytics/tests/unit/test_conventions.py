"""Periods per year follow the engine's table; the risk-free rate compounds per bar."""

import pytest

from tradelab_analytics.domain.conventions import per_period_rate, periods_per_year


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        ("1m", 98_280.0),
        ("5m", 19_656.0),
        ("15m", 6_552.0),
        ("30m", 3_276.0),
        ("1h", 1_638.0),
        ("4h", 409.5),
        ("1d", 252.0),
        ("2d", 126.0),
        ("1w", 52.0),
        ("1mo", 12.0),
        ("irregular", 252.0),
        (None, 252.0),
        ("bogus", 252.0),
    ],
)
def test_periods_per_year_matches_engine_table(timeframe: str | None, expected: float) -> None:
    assert periods_per_year(timeframe) == expected


def test_annual_risk_free_compounds_back_to_the_annual_rate() -> None:
    assert (1 + per_period_rate(0.05, 252.0)) ** 252 == pytest.approx(1.05, rel=1e-12)
    assert per_period_rate(0.0, 252.0) == 0.0
