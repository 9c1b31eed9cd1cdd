"""Time values in every accepted notation end up as the same UTC instants."""

from datetime import UTC, datetime

import polars as pl
import pytest

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_contracts.datasets import DatasetRejectReason as Reason
from tradelab_datasets.domain import IngestError, ingest_file
from tradelab_datasets.domain.timestamps import UTC_TIME, parse_time

from .conftest import WriteUpload

NEW_YEAR = datetime(2024, 1, 1, tzinfo=UTC)  # epoch 1704067200


def parsed(values: list[str] | list[int], timezone: str = "UTC") -> list[datetime]:
    series = parse_time(pl.Series("time", values), timezone)
    assert series.dtype == UTC_TIME
    return series.to_list()


def test_epoch_seconds_are_recognised_by_magnitude() -> None:
    assert parsed([1704067200, 1704067260]) == [NEW_YEAR, NEW_YEAR.replace(minute=1)]


def test_epoch_milliseconds_are_recognised_by_magnitude() -> None:
    assert parsed([1704067200000, 1704067260500]) == [
        NEW_YEAR,
        NEW_YEAR.replace(minute=1, microsecond=500_000),
    ]


def test_epoch_numbers_ignore_the_declared_timezone() -> None:
    assert parsed([1704067200], "America/New_York") == [NEW_YEAR]


def test_epoch_milliseconds_in_a_csv_are_read(write_upload: WriteUpload) -> None:
    result = ingest_file(write_upload("timestamp,close\n1704067200000,1\n1704067260000,2\n"))
    assert result.start == NEW_YEAR
    assert result.timeframe == "1m"


def test_iso_offsets_are_converted_to_utc() -> None:
    assert parsed(["2024-01-02T09:30:00-05:00", "2024-01-02T15:31:00+01:00"]) == [
        datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
        datetime(2024, 1, 2, 14, 31, tzinfo=UTC),
    ]


def test_iso_z_suffix_and_fractional_seconds_are_read() -> None:
    assert parsed(["2024-01-02T14:30:00.250Z", "2024-01-02T14:31:00Z"]) == [
        datetime(2024, 1, 2, 14, 30, 0, 250_000, tzinfo=UTC),
        datetime(2024, 1, 2, 14, 31, tzinfo=UTC),
    ]


def test_naive_times_default_to_utc() -> None:
    assert parsed(["2024-01-02 09:30:00", "2024-01-02 09:31:00"])[0] == datetime(
        2024, 1, 2, 9, 30, tzinfo=UTC
    )


def test_naive_times_take_the_declared_timezone(write_upload: WriteUpload) -> None:
    text = "datetime,close\n2024-01-02 09:30:00,1\n2024-07-02 09:30:00,2\n"
    declaration = DatasetDeclaration(timezone="America/New_York")
    result = ingest_file(write_upload(text), declaration)
    # EST is UTC-5 in January, EDT UTC-4 in July.
    assert result.frame["time"].to_list() == [
        datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
        datetime(2024, 7, 2, 13, 30, tzinfo=UTC),
    ]


def test_offsets_in_the_data_win_over_the_declared_timezone() -> None:
    assert parsed(["2024-01-02T09:30:00+00:00", "2024-01-02T09:31:00+00:00"], "Asia/Tokyo")[
        0
    ] == datetime(2024, 1, 2, 9, 30, tzinfo=UTC)


def test_date_only_values_are_midnight() -> None:
    assert parsed(["2024-01-02", "2024-01-03"]) == [
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    ]


def test_day_first_dates_are_found_when_month_first_cannot_fit() -> None:
    assert parsed(["02/01/2024", "25/01/2024"]) == [
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 25, tzinfo=UTC),
    ]


def test_yyyymmdd_integers_are_dates_not_epochs() -> None:
    assert parsed([20240102, 20240103])[0] == datetime(2024, 1, 2, tzinfo=UTC)


def test_wall_time_skipped_by_daylight_saving_is_unparseable() -> None:
    with pytest.raises(IngestError) as caught:
        parsed(["2024-03-10 01:30:00", "2024-03-10 02:30:00"], "America/New_York")
    assert caught.value.reason is Reason.UNPARSEABLE_DATES
    assert "DST" in caught.value.message


def test_unknown_timezone_is_rejected_clearly() -> None:
    with pytest.raises(IngestError) as caught:
        parsed(["2024-01-02 09:30:00"], "Mars/Olympus_Mons")
    assert caught.value.reason is Reason.UNPARSEABLE_DATES
    assert "Mars/Olympus_Mons" in caught.value.message


def test_boolean_time_column_is_unparseable() -> None:
    with pytest.raises(IngestError) as caught:
        parse_time(pl.Series("time", [True, False]))
    assert caught.value.reason is Reason.UNPARSEABLE_DATES
