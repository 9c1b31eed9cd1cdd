"""Validate price and volume values: numbers only, finite, prices positive.

The common case (polars already read the columns as ``Float64``) costs one parallel ``select``
of counts; the slower per-cell work only runs to describe an error.
"""

from __future__ import annotations

import polars as pl

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.columns import PRICE_COLUMNS, TIME
from tradelab_datasets.domain.errors import IngestError

# Text a price cell may hold to say "no value"; anything else non-numeric is an error.
MISSING_MARKERS = ("", "na", "n/a", "nan", "null", "none", "-")


def to_float(column: pl.Series) -> pl.Series:
    """Convert a price or volume column to ``Float64``; missing markers become null.

    Raises
    ------
    IngestError
        ``NON_NUMERIC_PRICES`` for a non-empty cell that is no number.
    """
    if column.dtype == pl.Float64:
        return column
    if column.dtype.is_numeric():
        return column.cast(pl.Float64)
    if column.dtype != pl.String:
        raise IngestError(
            DatasetRejectReason.NON_NUMERIC_PRICES,
            f"Column {column.name!r} has type {column.dtype}, not numbers.",
        )
    text = column.str.strip_chars()
    numbers = text.cast(pl.Float64, strict=False)
    bad = numbers.is_null() & ~text.str.to_lowercase().is_in(MISSING_MARKERS).fill_null(True)
    if bad.any():
        _raise_at(DatasetRejectReason.NON_NUMERIC_PRICES, column, bad, "non-numeric")
    return numbers


def check_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Reject infinite values and prices <= 0; turn NaN into null (a missing value).

    Parameters
    ----------
    frame
        Canonical columns; every column but ``time`` is ``Float64``.

    Raises
    ------
    IngestError
        ``NON_NUMERIC_PRICES`` (infinite) or ``NON_POSITIVE_PRICES``.
    """
    values = [name for name in frame.columns if name != TIME]
    prices = [name for name in PRICE_COLUMNS if name in values]
    # Cheap aggregates first (NaN and inf both count as not finite); details only on a hit.
    summary = frame.select(
        *((~pl.col(name).is_finite()).sum().alias(f"odd {name}") for name in values),
        *(pl.col(name).min().alias(f"min {name}") for name in prices),
    ).row(0, named=True)
    for name in values:
        if summary[f"odd {name}"] and frame[name].is_infinite().any():
            mask = frame[name].is_infinite()
            _raise_at(DatasetRejectReason.NON_NUMERIC_PRICES, frame[name], mask, "infinite")
    for name in prices:
        lowest = summary[f"min {name}"]
        if lowest is not None and lowest <= 0:
            mask = frame[name] <= 0
            _raise_at(DatasetRejectReason.NON_POSITIVE_PRICES, frame[name], mask, "<= 0")
    with_nan = [name for name in values if summary[f"odd {name}"]]
    return frame.with_columns(pl.col(with_nan).fill_nan(None)) if with_nan else frame


def _raise_at(reason: DatasetRejectReason, column: pl.Series, bad: pl.Series, what: str) -> None:
    row = int(bad.arg_true()[0])
    rule = (
        "Prices must be positive."
        if reason is DatasetRejectReason.NON_POSITIVE_PRICES
        else "Prices and volumes must be plain numbers (empty cells are allowed)."
    )
    raise IngestError(
        reason,
        f"Column {column.name!r} has {bad.sum()} {what} values, e.g. {column[row]!r} in data "
        f"row {row + 1}. {rule}",
    )
