"""Turn a raw table into canonical bars: typed columns, UTC times, sorted, de-duplicated.

Duplicate policy: rows equal in every canonical column are dropped silently (counted). Rows
sharing a timestamp but differing in values are "conflicting duplicates": the first occurrence
in file order is kept, the others dropped, and the count is reported. Keeping the first makes
the outcome independent of how many later corrections a file appends and is what ``uniq``-style
tools do; rejecting instead would refuse many real exports that repeat the last bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from tradelab_contracts.datasets import DatasetDeclaration, DatasetRejectReason
from tradelab_datasets.domain.columns import TIME, ColumnMap, resolve_columns
from tradelab_datasets.domain.errors import IngestError
from tradelab_datasets.domain.timestamps import parse_time
from tradelab_datasets.domain.values import check_values, to_float


@dataclass(frozen=True, slots=True)
class DuplicateInfo:
    """Duplicate rows found while normalising.

    Attributes
    ----------
    exact_dropped
        Rows identical to an earlier row in every canonical column; dropped.
    conflicting
        Rows sharing a timestamp with an earlier row but with other values; dropped, the first
        occurrence in file order is kept.
    conflicting_example
        One timestamp that had conflicting rows, for the report.
    """

    exact_dropped: int = 0
    conflicting: int = 0
    conflicting_example: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable view."""
        example = self.conflicting_example
        return {
            "exact_dropped": self.exact_dropped,
            "conflicting": self.conflicting,
            "conflicting_example": example.isoformat() if example else None,
        }


@dataclass(frozen=True, slots=True)
class NormalisedDataset:
    """Canonical bars plus what normalising had to do to get them.

    Attributes
    ----------
    frame
        ``time`` as ``Datetime("us", "UTC")`` then the present of ``open, high, low, close,
        volume`` as ``Float64``; strictly increasing time.
    columns
        Where each canonical column came from.
    source_rows
        Data rows in the input, before de-duplication.
    duplicates
        Exact and conflicting duplicates dropped.
    """

    frame: pl.DataFrame
    columns: ColumnMap
    source_rows: int
    duplicates: DuplicateInfo


def normalise(raw: pl.DataFrame, declaration: DatasetDeclaration) -> NormalisedDataset:
    """Validate and normalise a raw table read from an upload.

    Raises
    ------
    IngestError
        ``EMPTY_FILE``, ``HEADER_ONLY``, ``NO_TIME_COLUMN``, ``NO_CLOSE_COLUMN``,
        ``NON_NUMERIC_PRICES``, ``NON_POSITIVE_PRICES``, ``UNPARSEABLE_DATES`` or
        ``SINGLE_TIMESTAMP``.
    """
    if raw.width == 0:
        raise IngestError(DatasetRejectReason.EMPTY_FILE, "The file holds no columns.")
    if raw.height == 0:
        raise IngestError(DatasetRejectReason.HEADER_ONLY, "The file has a header but no rows.")
    columns = resolve_columns(raw.columns, declaration.column_mapping)
    frame = _canonical_frame(raw, columns)
    frame = check_values(frame)
    frame = frame.with_columns(parse_time(frame[TIME], declaration.timezone))
    _reject_rows_without_time(frame)
    frame = frame.filter(pl.col(TIME).is_not_null()) if frame[TIME].null_count() else frame
    if frame.is_empty():
        raise IngestError(DatasetRejectReason.HEADER_ONLY, "The file has a header but no rows.")
    frame, duplicates = sort_and_deduplicate(frame)
    if frame.height < 2:
        raise IngestError(
            DatasetRejectReason.SINGLE_TIMESTAMP,
            f"All {raw.height} rows share one timestamp ({frame[TIME][0].isoformat()}); a "
            "dataset needs at least two distinct times.",
        )
    return NormalisedDataset(frame, columns, raw.height, duplicates)


def sort_and_deduplicate(frame: pl.DataFrame) -> tuple[pl.DataFrame, DuplicateInfo]:
    """Sort by time (stable) and drop exact, then conflicting, duplicate rows."""
    if not frame[TIME].is_sorted():
        frame = frame.sort(TIME, maintain_order=True)
    # Sorted, so equal times are neighbours: one cheap diff answers "any duplicates?".
    if not (frame[TIME].to_physical().diff() == 0).any():
        return frame, DuplicateInfo()
    before = frame.height
    frame = frame.unique(keep="first", maintain_order=True)
    exact = before - frame.height
    repeated = frame.filter(pl.col(TIME).is_duplicated())
    frame = frame.unique(subset=[TIME], keep="first", maintain_order=True)
    example = repeated[TIME][0] if repeated.height else None
    return frame, DuplicateInfo(exact, before - exact - frame.height, example)


def _canonical_frame(raw: pl.DataFrame, columns: ColumnMap) -> pl.DataFrame:
    data: list[pl.Series] = []
    for canonical, source in columns.sources.items():
        column = raw[source]
        if canonical == TIME:
            data.append(_join_time_of_day(raw, column, columns.time_of_day).alias(TIME))
        else:
            data.append(to_float(column).alias(canonical))
    return pl.DataFrame(data)


def _join_time_of_day(raw: pl.DataFrame, date: pl.Series, time_of_day: str | None) -> pl.Series:
    if time_of_day is None:
        return date
    parts = [date.cast(pl.String).str.strip_chars(), raw[time_of_day].cast(pl.String)]
    return pl.select(pl.concat_str(parts, separator=" ")).to_series()


def _reject_rows_without_time(frame: pl.DataFrame) -> None:
    if not frame[TIME].null_count():
        return
    # Blank lines (every cell empty) are skipped; a bar with values but no time is an error.
    values = [name for name in frame.columns if name != TIME]
    orphan = frame.select(pl.col(TIME).is_null() & pl.any_horizontal(pl.col(values).is_not_null()))
    mask = orphan.to_series()
    if mask.any():
        row = int(mask.arg_true()[0])
        raise IngestError(
            DatasetRejectReason.UNPARSEABLE_DATES,
            f"{mask.sum()} rows have values but an empty time, e.g. data row {row + 1}.",
        )
