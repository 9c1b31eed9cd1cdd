"""Normalised bars are stored as zstd Parquet and fingerprinted by their content alone."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tradelab_datasets.domain import content_sha256, ingest_file, write_parquet

from .conftest import WriteUpload

ZSTD_FRAME_MAGIC = b"\x28\xb5\x2f\xfd"
COMMA_CSV = (
    "Date,Open,High,Low,Close,Volume\n"
    "2024-01-02,10,11,9.5,10.5,1000\n"
    "2024-01-03,10.5,11.5,10,11,1200\n"
)


def test_same_bars_in_different_csv_dialects_hash_the_same(write_upload: WriteUpload) -> None:
    semicolon_bom_crlf = (
        b"\xef\xbb\xbf"
        + COMMA_CSV.replace(",", ";").replace("\n", "\r\n").replace("Date", "date").encode()
    )
    reordered = (
        "volume,close,low,high,open,timestamp\n"
        "1200,11.00,10.0,11.5,10.50,2024-01-03T00:00:00Z\n"
        "1000,10.50,9.50,11.0,10.00,2024-01-02T00:00:00+00:00\n"
    )
    hashes = {
        ingest_file(write_upload(COMMA_CSV, "a.csv")).content_sha256,
        ingest_file(write_upload(semicolon_bom_crlf, "b.csv")).content_sha256,
        ingest_file(write_upload(reordered, "c.csv")).content_sha256,
    }
    assert len(hashes) == 1
    assert len(hashes.pop()) == 64


def test_parquet_and_csv_of_the_same_bars_hash_the_same(
    write_upload: WriteUpload, tmp_path: Path
) -> None:
    from_csv = ingest_file(write_upload(COMMA_CSV))
    parquet = tmp_path / "same.parquet"
    from_csv.frame.write_parquet(parquet)
    assert ingest_file(parquet).content_sha256 == from_csv.content_sha256


def test_a_changed_price_changes_the_hash(write_upload: WriteUpload) -> None:
    original = ingest_file(write_upload(COMMA_CSV, "a.csv")).content_sha256
    edited = ingest_file(write_upload(COMMA_CSV.replace("10.5,1000", "10.51,1000"), "b.csv"))
    assert edited.content_sha256 != original


def test_missing_value_hashes_differently_from_zero() -> None:
    time = pl.Series([datetime(2024, 1, 2, tzinfo=UTC)], dtype=pl.Datetime("us", "UTC"))
    with_null = pl.DataFrame({"time": time, "volume": pl.Series([None], dtype=pl.Float64)})
    with_zero = pl.DataFrame({"time": time, "volume": [0.0]})
    assert content_sha256(with_null) != content_sha256(with_zero)


def test_negative_zero_hashes_like_zero() -> None:
    time = pl.Series([datetime(2024, 1, 2, tzinfo=UTC)], dtype=pl.Datetime("us", "UTC"))
    positive = pl.DataFrame({"time": time, "volume": [0.0]})
    negative = pl.DataFrame({"time": time, "volume": [-0.0]})
    assert content_sha256(positive) == content_sha256(negative)


def test_written_parquet_is_zstd_and_reads_back_identical(
    write_upload: WriteUpload, tmp_path: Path
) -> None:
    frame = ingest_file(write_upload(COMMA_CSV)).frame
    target = tmp_path / "out" / "bars.parquet"
    target.parent.mkdir()
    write_parquet(frame, target)
    assert ZSTD_FRAME_MAGIC in target.read_bytes()
    assert_frame_equal(pl.read_parquet(target), frame)
    assert [p.name for p in target.parent.iterdir()] == ["bars.parquet"]


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    unwritable = pl.DataFrame({"obj": pl.Series([object()], dtype=pl.Object)})
    target = tmp_path / "bars.parquet"
    with pytest.raises(Exception):  # noqa: B017, PT011  # polars' error type is not the point
        write_parquet(unwritable, target)
    assert list(tmp_path.iterdir()) == []
