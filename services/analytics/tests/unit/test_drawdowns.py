"""Underwater curve and drawdown periods of a hand-made equity curve."""

import numpy as np
import pytest

from tradelab_analytics.domain.drawdowns import (
    DrawdownPeriod,
    drawdown_periods,
    underwater,
    worst_drawdowns,
)
from tradelab_analytics.domain.returns_metrics import drawdown_summary

# Peaks at 1 (110) and 5 (120); recovered at 4 and 8; the last drawdown (from 121) never recovers.
EQUITY = np.array([100.0, 110.0, 99.0, 105.0, 110.0, 120.0, 90.0, 96.0, 121.0, 100.0])


def test_underwater_is_value_over_running_peak_minus_one() -> None:
    expected = [
        0,
        0,
        99 / 110 - 1,
        105 / 110 - 1,
        0,
        0,
        90 / 120 - 1,
        96 / 120 - 1,
        0,
        100 / 121 - 1,
    ]
    np.testing.assert_allclose(underwater(EQUITY), expected, rtol=1e-12, atol=1e-15)


def test_periods_run_from_peak_to_recovery_or_end() -> None:
    periods = drawdown_periods(EQUITY)
    assert [(p.start, p.trough, p.recovery, p.length) for p in periods] == [
        (1, 2, 4, 3),
        (5, 6, 8, 3),
        (8, 9, None, 1),
    ]
    assert [p.depth for p in periods] == pytest.approx([0.1, 0.25, 21 / 121])


def test_worst_drawdowns_are_deepest_first_and_capped() -> None:
    worst = worst_drawdowns(EQUITY, count=2)
    assert worst == [
        DrawdownPeriod(start=5, trough=6, recovery=8, depth=1 - 90 / 120, length=3),
        DrawdownPeriod(start=8, trough=9, recovery=None, depth=-(100 / 121 - 1), length=1),
    ]
    assert len(worst_drawdowns(EQUITY)) == 3


def test_rising_curve_has_no_drawdown() -> None:
    assert drawdown_periods(np.array([1.0, 2.0, 2.0, 3.0])) == []
    assert drawdown_periods(np.array([], dtype=np.float64)) == []


def test_drawdown_summary_of_the_returns_of_the_hand_curve() -> None:
    returns = EQUITY[1:] / EQUITY[:-1] - 1.0  # wealth starts at 1 = EQUITY[0] / 100
    summary = drawdown_summary(returns)
    assert summary["max_drawdown_duration"] == 3
    assert summary["longest_drawdown_duration"] == 3
    assert summary["average_drawdown"] == pytest.approx((0.1 + 0.25 + 21 / 121) / 3)
