"""The quality report finds each kind of problem, explains it and scores it."""

import json
import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tradelab_datasets.domain.gaps import count_gaps
from tradelab_datasets.domain.normalise import DuplicateInfo
from tradelab_datasets.domain.quality import WEIGHTS, QualityReport, assess_quality

FRIDAY = datetime(2024, 1, 5, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def bars(
    times: list[datetime], close: list[float] | None = None, **columns: list[float]
) -> pl.DataFrame:
    close = close or [100.0 + 0.1 * (i % 7) for i in range(len(times))]
    data: dict[str, pl.Series] = {"time": pl.Series(times, dtype=UTC_US)}
    for name in ("open", "high", "low"):
        if name in columns:
            data[name] = pl.Series(columns[name], dtype=pl.Float64)
    data["close"] = pl.Series(close, dtype=pl.Float64)
    if "volume" in columns:
        data["volume"] = pl.Series(columns["volume"], dtype=pl.Float64)
    return pl.DataFrame(data)


def report(frame: pl.DataFrame, timeframe: str = "1d", timezone: str = "UTC") -> QualityReport:
    return assess_quality(
        frame,
        timeframe=timeframe,
        duplicates=DuplicateInfo(),
        source_rows=frame.height,
        timezone=timezone,
    )


def weekdays(count: int, start: datetime = FRIDAY) -> list[datetime]:
    days = (start + timedelta(days=i) for i in range(count * 2))
    return [day for day in days if day.weekday() < 5][:count]


def session_minutes(day: datetime, start: str = "14:30", minutes: int = 390) -> list[datetime]:
    hour, minute = map(int, start.split(":"))
    open_ = day.replace(hour=hour, minute=minute)
    return [open_ + timedelta(minutes=i) for i in range(minutes)]


def test_clean_ohlcv_bars_score_100() -> None:
    times = weekdays(30)
    close = [100.0 + i for i in range(30)]
    frame = bars(
        times,
        close,
        open=[c - 0.5 for c in close],
        high=[c + 1 for c in close],
        low=[c - 1 for c in close],
        volume=[1000.0] * 30,
    )
    result = report(frame)
    assert result.score == 100.0
    assert {c.name for c in result.components} == set(WEIGHTS)


def test_ohlc_violation_is_counted() -> None:
    times = weekdays(10)
    close = [10.0] * 10
    high = [11.0] * 10
    high[3] = 9.0  # below open and close
    frame = bars(times, close, open=[10.0] * 10, high=high, low=[9.5] * 10)
    component = report(frame).component("ohlc_consistency")
    assert component.counts["rows"] == 1
    assert component.counts["high_below_open_or_close"] == 1
    assert component.counts["high_below_low"] == 1
    assert component.score < 100
    assert "1 of 10 bars" in component.explanation


def test_zero_volume_run_of_three_is_counted_but_shorter_runs_are_not() -> None:
    volume = [5.0, 0, 0, 0, 7, 0, 0, 8, 0, 9] + [10.0] * 20
    frame = bars(weekdays(30), volume=volume)
    component = report(frame).component("zero_volume_runs")
    assert component.counts == {"runs": 1, "bars": 3}
    assert component.score == pytest.approx(100 * (1 - 5 * 3 / 30))


def test_price_spike_is_detected_as_outlier() -> None:
    close = [100.0 * math.exp(0.01 * math.sin(i)) for i in range(200)]
    close[120] *= 1.8
    frame = bars(weekdays(200), close)
    component = report(frame).component("outliers")
    # The spike makes two extreme returns: up into it and down out of it.
    assert component.counts["flagged"] == 2
    assert component.score < 100


def test_ordinary_volatility_is_not_an_outlier() -> None:
    close = [100.0 * math.exp(0.02 * math.sin(i * 1.7)) for i in range(300)]
    assert report(bars(weekdays(300), close)).component("outliers").counts["flagged"] == 0


def test_gap_inside_a_session_counts_but_the_weekend_and_nights_do_not() -> None:
    monday = FRIDAY + timedelta(days=3)
    friday = session_minutes(FRIDAY)
    del friday[30:35]  # 15:00-15:04 missing on Friday
    times = friday + session_minutes(monday)
    gaps = count_gaps(pl.Series(times, dtype=UTC_US), "1m")
    assert gaps.missing_bars == 5
    assert gaps.gaps == 1
    assert gaps.closures == 1  # Friday close -> Monday open
    component = report(bars(times), "1m").component("gaps")
    assert component.counts["missing_bars"] == 5
    assert component.score < 100


def test_overnight_closures_are_judged_in_the_declared_timezone() -> None:
    # Tokyo 09:00-15:00 local is 00:00-06:00 UTC: sessions never cross a date in Tokyo.
    days = [datetime(2024, 1, d, tzinfo=UTC) for d in (9, 10, 11)]
    times = [t for day in days for t in session_minutes(day, "00:00", 360)]
    series = pl.Series(times, dtype=UTC_US)
    assert count_gaps(series, "1m", "Asia/Tokyo").missing_bars == 0


def test_recurring_lunch_break_is_a_closure_not_a_gap() -> None:
    days = [datetime(2024, 1, d, tzinfo=UTC) for d in (8, 9, 10, 11, 12)]
    times = [
        t
        for day in days
        for t in session_minutes(day, "01:00", 90) + session_minutes(day, "03:30", 150)
    ]
    gaps = count_gaps(pl.Series(times, dtype=UTC_US), "1m")
    assert gaps.missing_bars == 0
    assert gaps.closures >= 5


def test_round_the_clock_market_counts_a_missing_bar_at_midnight() -> None:
    hours = [FRIDAY + timedelta(hours=i) for i in range(72)]
    del hours[24]  # Saturday 00:00
    gaps = count_gaps(pl.Series(hours, dtype=UTC_US), "1h")
    assert gaps.missing_bars == 1


def test_daily_weekends_and_short_holidays_are_not_gaps_but_a_week_off_is() -> None:
    times = weekdays(40, datetime(2024, 3, 1, tzinfo=UTC))
    good_friday = datetime(2024, 3, 29, tzinfo=UTC)
    times = [t for t in times if t != good_friday]  # Thu -> Mon: 4 days, a closure
    hole = {datetime(2024, 4, d, tzinfo=UTC) for d in range(8, 13)}  # a whole week missing
    times = [t for t in times if t not in hole]
    gaps = count_gaps(pl.Series(times, dtype=UTC_US), "1d")
    assert gaps.missing_bars == 5
    assert gaps.gaps == 1


def test_negative_volume_and_zero_price_are_reported() -> None:
    close = [10.0, 0.0, 11.0, 12.0]
    frame = bars(weekdays(4), close, volume=[5.0, -1.0, 0.0, 3.0])
    component = report(frame).component("non_positive_prices")
    assert component.counts == {"prices": 1, "negative_volumes": 1}
    assert component.score == 0.0


def test_irregular_data_is_not_assessed_for_gaps() -> None:
    times = [FRIDAY + timedelta(minutes=7 * i) for i in range(50)]
    component = report(bars(times), "irregular").component("gaps")
    assert component.score == 100
    assert "not assessed" in component.explanation


def test_missing_values_and_duplicates_lower_the_score() -> None:
    close: list[float | None] = [1.0, None, 3.0, 4.0]
    frame = pl.DataFrame({"time": pl.Series(weekdays(4), dtype=UTC_US), "close": close})
    result = assess_quality(
        frame,
        timeframe="1d",
        duplicates=DuplicateInfo(exact_dropped=1, conflicting=1),
        source_rows=6,
    )
    assert result.component("missing_values").counts == {"missing": 1, "cells": 4}
    assert result.component("duplicates").counts == {"exact": 1, "conflicting": 1}
    assert result.component("duplicates").score == 0.0
    assert result.score < 80


def test_score_is_the_weighted_mean_of_components() -> None:
    result = report(bars(weekdays(20)))
    expected = sum(c.score * c.weight for c in result.components) / sum(WEIGHTS.values())
    assert result.score == pytest.approx(expected, abs=0.01)
    assert sum(WEIGHTS.values()) == 100


def test_report_is_json_serialisable_with_an_explanation_per_component() -> None:
    document = json.loads(json.dumps(report(bars(weekdays(20))).to_dict()))
    assert 0 <= document["score"] <= 100
    for component in document["components"]:
        assert component["explanation"]
        assert 0 <= component["score"] <= 100
        assert component["weight"] == WEIGHTS[component["name"]]
