"""Only the columns the bars come from are decoded; unused columns cost no memory."""

from pathlib import Path

import polars as pl
import pytest

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_contracts.datasets import DatasetRejectReason as Reason
from tradelab_datasets.domain import IngestError, ingest_file
from tradelab_datasets.domain.reader import read_source

from .conftest import WriteUpload

EXTRA = 40


def wide_csv(rows: int = 9) -> str:
    """``time,close,volume`` and 40 unused text columns of 200 characters each."""
    header = ",".join(["note0", "time", "close", *(f"note{i}" for i in range(1, EXTRA)), "volume"])
    filler = "x" * 200
    lines = [
        ",".join([filler, f"2024-01-0{day}", f"{day}.5", *([filler] * (EXTRA - 1)), str(day * 10)])
        for day in range(1, rows + 1)
    ]
    return "\n".join([header, *lines]) + "\n"


def narrow_csv(rows: int = 9) -> str:
    """The same bars without the unused columns."""
    lines = [f"2024-01-0{day},{day}.5,{day * 10}" for day in range(1, rows + 1)]
    return "\n".join(["time,close,volume", *lines]) + "\n"


def test_csv_with_unused_columns_decodes_only_time_close_and_volume(
    write_upload: WriteUpload,
) -> None:
    path = write_upload(wide_csv())
    raw = read_source(path, DatasetDeclaration())
    assert raw.columns == ["time", "close", "volume"]
    assert raw.estimated_size() < 9 * 100  # the 40 text columns would take 9 * 40 * 200 bytes


def test_csv_with_unused_columns_ingests_as_the_same_bars_without_them(
    write_upload: WriteUpload,
) -> None:
    wide = ingest_file(write_upload(wide_csv(), "wide.csv"))
    narrow = ingest_file(write_upload(narrow_csv(), "narrow.csv"))
    assert wide.frame.equals(narrow.frame)
    assert wide.content_sha256 == narrow.content_sha256


def test_ragged_row_past_the_used_columns_is_still_rejected(write_upload: WriteUpload) -> None:
    content = "time,close,note\n2024-01-02,1,a\n2024-01-03,2,b,99\n"
    with pytest.raises(IngestError) as caught:
        ingest_file(write_upload(content))
    assert caught.value.reason is Reason.RAGGED_ROWS


def test_quoted_separator_in_an_unused_column_does_not_stop_projection(
    write_upload: WriteUpload,
) -> None:
    path = write_upload('time,close,note\n2024-01-02,1,"a,b"\n2024-01-03,2,c\n')
    assert read_source(path, DatasetDeclaration()).columns == ["time", "close"]


def test_date_and_time_of_day_columns_are_both_kept(write_upload: WriteUpload) -> None:
    path = write_upload("Date,Time,Close,Note\n2024-01-02,09:30,1,a\n2024-01-02,09:31,2,b\n")
    assert read_source(path, DatasetDeclaration()).columns == ["Date", "Time", "Close"]


def test_mapped_column_is_kept_and_others_dropped(write_upload: WriteUpload) -> None:
    path = write_upload("when,px,note\n2024-01-02,1,a\n2024-01-03,2,b\n")
    declaration = DatasetDeclaration(column_mapping={"when": "time", "px": "close"})
    assert read_source(path, declaration).columns == ["when", "px"]


def test_parquet_with_unused_columns_decodes_only_the_bars(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    pl.DataFrame(
        {"time": ["2024-01-02", "2024-01-03"], "close": [1.0, 2.0], "note": ["a", "b"]}
    ).write_parquet(path)
    assert read_source(path, DatasetDeclaration()).columns == ["time", "close"]
