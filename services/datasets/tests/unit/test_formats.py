"""Uploads in the many shapes real exports take are read into the same canonical bars."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_datasets.domain import ingest_file

from .conftest import WriteUpload

CANONICAL = ["time", "open", "high", "low", "close", "volume"]
ROWS = [
    ("2024-01-02", 10.0, 11.0, 9.5, 10.5, 1000),
    ("2024-01-03", 10.5, 11.5, 10.0, 11.0, 1200),
    ("2024-01-04", 11.0, 11.2, 10.1, 10.2, 900),
]


def csv_text(header: str, separator: str = ",", newline: str = "\n") -> str:
    lines = [header.replace(",", separator)]
    lines += [separator.join(str(value) for value in row) for row in ROWS]
    return newline.join(lines) + newline


def test_canonical_columns_are_typed_sorted_utc_and_nothing_is_written(
    write_upload: WriteUpload, tmp_path: Path
) -> None:
    text = "date,open,high,low,close,volume\n" + "\n".join(
        ",".join(str(v) for v in row) for row in reversed(ROWS)
    )
    result = ingest_file(write_upload(text))
    assert [p.name for p in tmp_path.iterdir()] == ["upload.csv"]
    assert result.frame.columns == CANONICAL
    assert result.frame.schema["time"] == pl.Datetime("us", "UTC")
    assert all(result.frame.schema[name] == pl.Float64 for name in CANONICAL[1:])
    assert result.frame["time"].is_sorted()
    assert result.start == datetime(2024, 1, 2, tzinfo=UTC)
    assert result.frame["close"].to_list() == [10.5, 11.0, 10.2]


@pytest.mark.parametrize(
    "header",
    [
        "Date,Open,High,Low,Close,Volume",
        "DATE,OPEN,HIGH,LOW,CLOSE,VOLUME",
        "timestamp,o,h,l,c,v",
        " Datetime , open , HIGH , low , Last , Vol ",
        "Open Time,Open,High,Low,Price,volume",
        "TS,O,H,L,C,V",
    ],
)
def test_column_aliases_match_in_any_case(write_upload: WriteUpload, header: str) -> None:
    result = ingest_file(write_upload(csv_text(header)))
    assert result.columns == CANONICAL
    assert result.frame["high"].to_list() == [11.0, 11.5, 11.2]


def test_adjusted_close_stands_in_only_when_close_is_absent(write_upload: WriteUpload) -> None:
    text = "Date,Adj Close,Volume\n2024-01-02,10.5,1\n2024-01-03,11,2\n"
    result = ingest_file(write_upload(text))
    assert result.frame["close"].to_list() == [10.5, 11.0]
    assert any("adjusted close" in warning for warning in result.warnings)


def test_plain_close_wins_over_adjusted_close(write_upload: WriteUpload) -> None:
    text = "Date,Close,Adj_Close\n2024-01-02,10.5,5.25\n2024-01-03,11,5.5\n"
    assert ingest_file(write_upload(text)).frame["close"].to_list() == [10.5, 11.0]


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_other_delimiters_are_detected(write_upload: WriteUpload, separator: str) -> None:
    text = csv_text("date,open,high,low,close,volume", separator=separator)
    result = ingest_file(write_upload(text))
    assert result.columns == CANONICAL
    assert result.frame["volume"].to_list() == [1000.0, 1200.0, 900.0]


def test_semicolon_file_with_decimal_commas_is_read(write_upload: WriteUpload) -> None:
    text = "Datum;Close\n2024-01-02;10,5\n2024-01-03;11,25\n"
    result = ingest_file(
        write_upload(text, name="upload.csv"), DatasetDeclaration(column_mapping={"Datum": "time"})
    )
    assert result.frame["close"].to_list() == [10.5, 11.25]


def test_utf8_bom_is_accepted(write_upload: WriteUpload) -> None:
    text = csv_text("Date,Open,High,Low,Close,Volume")
    result = ingest_file(write_upload(b"\xef\xbb\xbf" + text.encode()))
    assert result.columns == CANONICAL
    assert result.rows == 3


def test_windows_line_endings_are_accepted(write_upload: WriteUpload) -> None:
    text = csv_text("Date,Open,High,Low,Close,Volume", newline="\r\n")
    result = ingest_file(write_upload(text))
    assert result.rows == 3
    assert result.frame["volume"].to_list() == [1000.0, 1200.0, 900.0]


def test_close_only_data_is_valid(write_upload: WriteUpload) -> None:
    result = ingest_file(write_upload("date,close\n2024-01-02,1.5\n2024-01-03,1.6\n"))
    assert result.columns == ["time", "close"]
    assert result.quality.component("required_columns").score == 60.0


def test_file_without_header_maps_columns_by_position(write_upload: WriteUpload) -> None:
    text = "\n".join(",".join(str(v) for v in row) for row in ROWS)
    result = ingest_file(write_upload(text))
    assert result.columns == CANONICAL
    assert result.frame["low"].to_list() == [9.5, 10.0, 10.1]


def test_separate_date_and_time_columns_are_joined(write_upload: WriteUpload) -> None:
    text = "Date,Time,Close\n2024.01.02,09:30,1\n2024.01.02,09:31,2\n2024.01.02,09:32,3\n"
    result = ingest_file(write_upload(text))
    assert result.start == datetime(2024, 1, 2, 9, 30, tzinfo=UTC)
    assert result.timeframe == "1m"


def test_explicit_column_mapping_wins_over_aliases(write_upload: WriteUpload) -> None:
    text = "when,close,mid\n2024-01-02,1,1.5\n2024-01-03,2,2.5\n"
    declaration = DatasetDeclaration(column_mapping={"when": "time", "mid": "close"})
    result = ingest_file(write_upload(text), declaration)
    assert result.frame["close"].to_list() == [1.5, 2.5]


def test_column_mapping_in_canonical_to_file_direction_is_accepted(
    write_upload: WriteUpload,
) -> None:
    text = "when,px\n2024-01-02,1\n2024-01-03,2\n"
    declaration = DatasetDeclaration(column_mapping={"time": "when", "close": "PX"})
    assert ingest_file(write_upload(text), declaration).frame["close"].to_list() == [1.0, 2.0]


def test_pandas_index_column_without_name_is_the_time(write_upload: WriteUpload) -> None:
    text = ",Open,High,Low,Close,Volume\n" + "\n".join(",".join(str(v) for v in r) for r in ROWS)
    assert ingest_file(write_upload(text)).columns == CANONICAL


def test_empty_cells_and_na_markers_are_missing_values_not_errors(
    write_upload: WriteUpload,
) -> None:
    text = "date,close,volume\n2024-01-02,1,\n2024-01-03,NA,5\n2024-01-04,3,NaN\n\n"
    result = ingest_file(write_upload(text))
    assert result.frame["close"].to_list() == [1.0, None, 3.0]
    assert result.frame["volume"].to_list() == [None, 5.0, None]
    assert result.quality.component("missing_values").counts["missing"] == 3


def test_exact_duplicates_are_dropped_and_conflicts_keep_the_first(
    write_upload: WriteUpload,
) -> None:
    text = (
        "date,close\n2024-01-03,2\n2024-01-02,1\n2024-01-03,2\n"
        "2024-01-04,3\n2024-01-04,3.5\n2024-01-04,3\n"
    )
    result = ingest_file(write_upload(text))
    assert result.frame["close"].to_list() == [1.0, 2.0, 3.0]
    assert result.duplicates.exact_dropped == 2
    assert result.duplicates.conflicting == 1
    assert result.duplicates.conflicting_example == datetime(2024, 1, 4, tzinfo=UTC)


def test_parquet_upload_is_read_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    pl.DataFrame(
        {
            "Date": [date(2024, 1, 2), date(2024, 1, 3)],
            "Close": [10.5, 11.0],
            "Volume": [100, 200],
        }
    ).write_parquet(path)
    result = ingest_file(path)
    assert result.source_format == "parquet"
    assert result.columns == ["time", "close", "volume"]
    assert result.start == datetime(2024, 1, 2, tzinfo=UTC)
    assert result.frame["volume"].dtype == pl.Float64


def test_parquet_with_zoned_timestamps_is_converted_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    times = pl.Series(["2024-01-02 09:30", "2024-01-02 09:31"]).str.to_datetime()
    pl.DataFrame(
        {"time": times.dt.replace_time_zone("America/New_York"), "close": [1.0, 2.0]}
    ).write_parquet(path)
    assert ingest_file(path).start == datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def test_declared_timeframe_that_disagrees_is_warned_about(write_upload: WriteUpload) -> None:
    result = ingest_file(
        write_upload(csv_text("date,open,high,low,close,volume")),
        DatasetDeclaration(timeframe="1h"),
    )
    assert result.timeframe == "1d"
    assert any("'1h'" in warning for warning in result.warnings)
