"""The bar size is read off the spacing of the timestamps."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tradelab_datasets.domain.timeframe import detect_timeframe, timeframe_step

START = datetime(2024, 1, 1, tzinfo=UTC)


def times(values: list[datetime]) -> pl.Series:
    return pl.Series("time", values, dtype=pl.Datetime("us", "UTC"))


def regular(step: timedelta, count: int = 200) -> pl.Series:
    return times([START + i * step for i in range(count)])


@pytest.mark.parametrize(
    ("step", "label"),
    [
        (timedelta(minutes=1), "1m"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=15), "15m"),
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=4), "4h"),
        (timedelta(days=1), "1d"),
        (timedelta(weeks=1), "1w"),
    ],
)
def test_regular_series_gets_its_bar_size(step: timedelta, label: str) -> None:
    assert detect_timeframe(regular(step)) == label
    assert timeframe_step(label) == step


def test_daily_bars_skipping_weekends_and_holidays_are_still_daily() -> None:
    days = [START + timedelta(days=i) for i in range(120)]
    trading = [d for d in days if d.weekday() < 5 and d.day != 15]
    assert detect_timeframe(times(trading)) == "1d"


def test_month_start_series_is_monthly() -> None:
    months = [datetime(2020 + i // 12, i % 12 + 1, 1, tzinfo=UTC) for i in range(36)]
    assert detect_timeframe(times(months)) == "1mo"


def test_month_end_series_is_monthly() -> None:
    month_ends = [
        datetime(2020 + (i + 1) // 12, (i + 1) % 12 + 1, 1, tzinfo=UTC) - timedelta(days=1)
        for i in range(24)
    ]
    assert detect_timeframe(times(month_ends)) == "1mo"


def test_minute_bars_with_overnight_breaks_are_one_minute() -> None:
    sessions = [
        START + timedelta(days=day, hours=14, minutes=30 + minute)
        for day in range(3)
        for minute in range(390)
    ]
    assert detect_timeframe(times(sessions)) == "1m"


def test_slightly_jittered_hourly_stamps_are_still_hourly() -> None:
    jittered = [START + timedelta(hours=i, seconds=(i % 3) * 30) for i in range(100)]
    assert detect_timeframe(times(jittered)) == "1h"


def test_spacing_matching_no_bar_size_is_irregular() -> None:
    assert detect_timeframe(regular(timedelta(minutes=7))) == "irregular"
    assert detect_timeframe(regular(timedelta(hours=2))) == "irregular"
    assert timeframe_step("irregular") is None
