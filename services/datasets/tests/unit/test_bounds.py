"""Uploads over a size bound are refused before they are decoded, with a reason and the numbers."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from tradelab_contracts.datasets import DatasetRejectReason as Reason
from tradelab_datasets.domain import IngestError, ingest_file
from tradelab_datasets.domain.bounds import Limits, check_parquet, scan_csv
from tradelab_datasets.domain.parquet_shape import (
    MAX_FOOTER_BYTES,
    ParquetShape,
    read_parquet_shape,
)

from .conftest import WriteUpload

LIMITS = Limits(max_rows=1000, max_columns=8, max_line_bytes=256, max_decoded_bytes=1024**2)


def refusal(check: Callable[..., object], *args: object) -> IngestError:
    with pytest.raises(IngestError) as caught:
        check(*args)
    return caught.value


def bars(rows: int) -> pl.DataFrame:
    minutes = pl.int_range(0, rows)
    return pl.select(
        time=pl.lit(datetime(2024, 1, 2, tzinfo=UTC)) + pl.duration(minutes=minutes), close=1.0
    )


# --- Parquet: the footer's shape against the limits ------------------------------------------


def test_parquet_with_more_rows_than_allowed_is_refused_naming_both_counts() -> None:
    error = refusal(check_parquet, ParquetShape(60_000_000, 2, 10), Limits())
    assert error.reason is Reason.TOO_MANY_ROWS
    assert "60,000,000 rows" in error.message
    assert "10,000,000" in error.message


def test_parquet_with_too_many_columns_is_refused_as_too_large() -> None:
    error = refusal(check_parquet, ParquetShape(10, 9, 10), LIMITS)
    assert error.reason is Reason.TOO_LARGE
    assert "9 columns; at most 8" in error.message


def test_parquet_decompressing_past_the_bound_is_refused_as_too_large() -> None:
    error = refusal(check_parquet, ParquetShape(10, 2, 5 * 1024**2), LIMITS)
    assert error.reason is Reason.TOO_LARGE
    assert "5 MiB of data once decompressed; at most 1 MiB" in error.message


def test_parquet_within_every_bound_passes() -> None:
    check_parquet(ParquetShape(1000, 8, 1024**2), LIMITS)


# --- Parquet: reading the footer --------------------------------------------------------------


def test_footer_gives_rows_columns_and_decoded_size_of_every_row_group(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    frame = bars(2500).with_columns(symbol=pl.lit("GOOG"))
    frame.write_parquet(path, row_group_size=1000)
    shape = read_parquet_shape(path)
    assert shape.rows == 2500
    assert shape.columns == 3
    assert shape.decoded_bytes >= 2500 * 16  # two 8-byte columns at least


def test_footer_that_is_not_thrift_is_refused_as_unsupported(write_upload: WriteUpload) -> None:
    footer = b"\x19" + b"\xff" * 11
    path = write_upload(b"PAR1" + footer + len(footer).to_bytes(4, "little") + b"PAR1", "x.parquet")
    error = refusal(read_parquet_shape, path)
    assert error.reason is Reason.UNSUPPORTED_FORMAT
    assert "footer could not be decoded" in error.message


def test_footer_over_the_bound_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge-footer.parquet"
    claimed = MAX_FOOTER_BYTES + 1
    with path.open("wb") as handle:
        handle.write(b"PAR1")
        handle.truncate(claimed + 4)  # sparse: the claimed footer is zeros, never written
        handle.seek(0, 2)
        handle.write(claimed.to_bytes(4, "little") + b"PAR1")
    error = refusal(read_parquet_shape, path)
    assert error.reason is Reason.UNSUPPORTED_FORMAT
    assert f"its footer claims {claimed:,} bytes" in error.message


def test_footer_sums_the_uncompressed_sizes_pyarrow_reports(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    bars(3000).write_parquet(path, row_group_size=1000, compression="zstd")
    metadata = pq.read_metadata(path)
    chunks = sum(
        metadata.row_group(g).column(c).total_uncompressed_size
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    )
    totals = sum(metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups))
    assert metadata.num_row_groups == 3
    assert read_parquet_shape(path).decoded_bytes == max(chunks, totals)


def test_parquet_whose_footer_length_points_outside_the_file_is_unsupported(
    write_upload: WriteUpload,
) -> None:
    path = write_upload(b"PAR1" + b"\0" * 10 + (10**6).to_bytes(4, "little") + b"PAR1", "x.parquet")
    error = refusal(ingest_file, path)
    assert error.reason is Reason.UNSUPPORTED_FORMAT
    assert "footer" in error.message


def test_parquet_over_the_row_limit_is_refused_by_ingestion(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    bars(1001).write_parquet(path)
    error = refusal(ingest_file, path, None, LIMITS)
    assert error.reason is Reason.TOO_MANY_ROWS
    assert "1,001 rows; at most 1,000" in error.message


# --- CSV: lines scanned in chunks -------------------------------------------------------------


def test_csv_lines_are_counted_across_chunks() -> None:
    text = b"time,close\n" + b"2024-01-02,1\n" * 999 + b"2024-01-03,1"
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert scan_csv(chunks, LIMITS) == 1001


def test_csv_with_more_rows_than_allowed_is_refused_before_its_end() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"2024-01-02,1\n" * 100

    error = refusal(scan_csv, endless(), LIMITS)
    assert error.reason is Reason.TOO_MANY_ROWS
    assert "at most 1,000" in error.message


def test_csv_line_longer_than_allowed_is_refused_naming_the_line() -> None:
    chunks = [b"time,close\n2024-01-02,1\n2024-01-03,", b"9" * 300, b"\n"]
    error = refusal(scan_csv, chunks, LIMITS)
    assert error.reason is Reason.TOO_LARGE
    assert "Line 3 of the file is longer than 256 bytes" in error.message


def test_csv_line_of_exactly_the_limit_passes() -> None:
    line = b"x" * 256
    assert scan_csv([line + b"\n" + line, b"\n" + line], LIMITS) == 3


def test_csv_with_no_newline_at_all_is_refused_once_past_the_limit() -> None:
    error = refusal(scan_csv, [b"1," * 200], LIMITS)
    assert error.reason is Reason.TOO_LARGE
    assert "Line 1 " in error.message


def test_csv_with_too_many_columns_is_refused_by_ingestion(write_upload: WriteUpload) -> None:
    header = ",".join(["time", "close", *(f"extra{i}" for i in range(7))])
    path = write_upload(f"{header}\n2024-01-02,1{',0' * 7}\n")
    error = refusal(ingest_file, path, None, LIMITS)
    assert error.reason is Reason.TOO_LARGE
    assert "9 columns; at most 8" in error.message


def test_csv_within_the_bounds_is_ingested(write_upload: WriteUpload) -> None:
    path = write_upload("time,close\n2024-01-02,1\n2024-01-03,2\n")
    assert ingest_file(path, None, LIMITS).rows == 2
