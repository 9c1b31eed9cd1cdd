"""Every kind of bad upload is rejected with its reason code and a message that says why."""

from pathlib import Path

import polars as pl
import pytest

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_contracts.datasets import DatasetRejectReason as Reason
from tradelab_datasets.domain import IngestError, ingest_file

from .conftest import WriteUpload


def rejection(path: Path) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_file(path)
    return caught.value


def test_empty_file_is_rejected_as_empty(write_upload: WriteUpload) -> None:
    error = rejection(write_upload(b""))
    assert error.reason is Reason.EMPTY_FILE
    assert "empty" in error.message


def test_whitespace_only_file_counts_as_empty(write_upload: WriteUpload) -> None:
    assert rejection(write_upload("\n \r\n\n")).reason is Reason.EMPTY_FILE


def test_header_without_rows_is_rejected_as_header_only(write_upload: WriteUpload) -> None:
    error = rejection(write_upload("Date,Open,High,Low,Close,Volume\r\n"))
    assert error.reason is Reason.HEADER_ONLY
    assert "no rows" in error.message


def test_header_followed_by_blank_rows_is_header_only(write_upload: WriteUpload) -> None:
    assert rejection(write_upload("date,close\n,\n\n,\n")).reason is Reason.HEADER_ONLY


def test_binary_bytes_are_rejected_as_not_utf8(write_upload: WriteUpload) -> None:
    error = rejection(write_upload(bytes(range(256)) * 8, name="upload.bin"))
    assert error.reason is Reason.NOT_UTF8


def test_nul_bytes_mark_a_file_as_binary(write_upload: WriteUpload) -> None:
    error = rejection(write_upload(b"date,close\x00\x00\x00\n\x00\x01\x02"))
    assert error.reason is Reason.NOT_UTF8
    assert "binary" in error.message


def test_latin1_bytes_are_rejected_with_the_offending_byte(write_upload: WriteUpload) -> None:
    content = "date,close,venue\n2024-01-02,10.5,Zürich\n2024-01-03,10.7,Zürich\n"
    error = rejection(write_upload(content.encode("latin-1")))
    assert error.reason is Reason.NOT_UTF8
    assert "0xfc" in error.message


def test_latin1_bytes_beyond_the_sniffed_prefix_are_still_rejected(
    write_upload: WriteUpload,
) -> None:
    rows = "".join(f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00,10.5,ok\n" for i in range(1440))
    content = ("date,close,note\n" + rows * 3).encode() + b"2024-01-04T00:00:00,1,caf\xe9\n"
    assert len(content) > 64 * 1024  # past the sample sniffing looks at
    assert rejection(write_upload(content)).reason is Reason.NOT_UTF8


def test_missing_time_column_is_named_in_the_message(write_upload: WriteUpload) -> None:
    error = rejection(write_upload("open,high,low,close\n1,2,0.5,1.5\n1,2,0.5,1.6\n"))
    assert error.reason is Reason.NO_TIME_COLUMN
    assert "'open'" in error.message


def test_missing_close_column_is_rejected(write_upload: WriteUpload) -> None:
    error = rejection(write_upload("date,open,volume\n2024-01-02,1,10\n2024-01-03,2,10\n"))
    assert error.reason is Reason.NO_CLOSE_COLUMN


def test_text_in_a_price_column_is_rejected_with_row_and_value(
    write_upload: WriteUpload,
) -> None:
    error = rejection(write_upload("date,close\n2024-01-02,10.5\n2024-01-03,ten\n"))
    assert error.reason is Reason.NON_NUMERIC_PRICES
    assert "'ten'" in error.message
    assert "row 2" in error.message


def test_text_far_down_a_price_column_is_found_past_type_inference(
    write_upload: WriteUpload,
) -> None:
    rows = "".join(f"2024-01-02T{i // 60:02d}:{i % 60:02d}:00,10.5\n" for i in range(1400))
    error = rejection(write_upload("time,close\n" + rows + "2024-01-03T00:00:00,1.2.3\n"))
    assert error.reason is Reason.NON_NUMERIC_PRICES
    assert "row 1401" in error.message


def test_infinite_price_is_rejected_as_non_numeric(write_upload: WriteUpload) -> None:
    error = rejection(write_upload("date,close\n2024-01-02,10.5\n2024-01-03,inf\n"))
    assert error.reason is Reason.NON_NUMERIC_PRICES


def test_zero_price_is_rejected_as_non_positive(write_upload: WriteUpload) -> None:
    error = rejection(write_upload("date,close\n2024-01-02,10.5\n2024-01-03,0\n"))
    assert error.reason is Reason.NON_POSITIVE_PRICES
    assert "row 2" in error.message


def test_negative_open_is_rejected_as_non_positive(write_upload: WriteUpload) -> None:
    content = "date,open,close\n2024-01-02,10,10.5\n2024-01-03,-4.2,10.1\n"
    error = rejection(write_upload(content))
    assert error.reason is Reason.NON_POSITIVE_PRICES
    assert "'open'" in error.message
    assert "-4.2" in error.message


def test_unparseable_date_reports_count_and_example(write_upload: WriteUpload) -> None:
    content = "date,close\n2024-01-02,1\n2024-01-03,2\nnext tuesday,3\n2024-01-05,4\n"
    error = rejection(write_upload(content))
    assert error.reason is Reason.UNPARSEABLE_DATES
    assert "1 of 4" in error.message
    assert "'next tuesday'" in error.message


def test_all_rows_on_one_timestamp_are_rejected(write_upload: WriteUpload) -> None:
    content = "date,close\n2024-01-02,1\n2024-01-02,2\n2024-01-02,3\n"
    error = rejection(write_upload(content))
    assert error.reason is Reason.SINGLE_TIMESTAMP
    assert "2024-01-02" in error.message


def test_single_data_row_is_rejected_as_single_timestamp(write_upload: WriteUpload) -> None:
    assert rejection(write_upload("date,close\n2024-01-02,1\n")).reason is Reason.SINGLE_TIMESTAMP


def test_row_with_more_fields_than_the_header_is_rejected(write_upload: WriteUpload) -> None:
    content = "date,close\n2024-01-02,1\n2024-01-03,2,99\n"
    assert rejection(write_upload(content)).reason is Reason.RAGGED_ROWS


def test_zip_archive_is_rejected_as_unsupported_format(write_upload: WriteUpload) -> None:
    error = rejection(write_upload(b"PK\x03\x04" + b"\x00" * 64, name="upload.xlsx"))
    assert error.reason is Reason.UNSUPPORTED_FORMAT
    assert "Excel" in error.message


def test_corrupt_parquet_is_rejected_as_unsupported_format(write_upload: WriteUpload) -> None:
    error = rejection(write_upload(b"PAR1" + b"garbage" * 10, name="upload.parquet"))
    assert error.reason is Reason.UNSUPPORTED_FORMAT


def test_parquet_with_text_prices_is_rejected_as_non_numeric(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    pl.DataFrame({"date": ["2024-01-02", "2024-01-03"], "close": ["1.5", "n.a."]}).write_parquet(
        path
    )
    assert rejection(path).reason is Reason.NON_NUMERIC_PRICES


def test_column_mapping_naming_an_absent_column_is_rejected(write_upload: WriteUpload) -> None:
    path = write_upload("date,close\n2024-01-02,1\n2024-01-03,2\n")
    with pytest.raises(IngestError) as caught:
        ingest_file(path, DatasetDeclaration(column_mapping={"Last": "close"}))
    assert caught.value.reason is Reason.UNSUPPORTED_FORMAT
    assert "'Last'" in caught.value.message


def test_rejection_leaves_no_file_behind(tmp_path: Path) -> None:
    upload = tmp_path / "upload.csv"
    upload.write_text("date,close\n2024-01-02,1\n2024-01-03,-1\n")
    rejection(upload)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload.csv"]


def test_message_quoting_a_huge_value_fits_the_contract(write_upload: WriteUpload) -> None:
    huge = "x" * 10_000  # longer than a message, shorter than a line may be (16 KiB)
    error = rejection(write_upload(f"date,close\n2024-01-02,1\n2024-01-03,{huge}\n"))
    assert error.reason is Reason.NON_NUMERIC_PRICES
    assert len(error.message) <= 1000
