"""Parse a time column into UTC instants, ``Datetime("us", "UTC")``.

Accepted: ISO 8601 with or without offset (offsets are converted to UTC), date-only values,
a few common day/month orders, epoch seconds / milliseconds (told apart by magnitude), and
typed Date / Datetime columns from Parquet. Naive values are read as wall-clock time in the
declared IANA zone (default UTC); epoch numbers are absolute and ignore it.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from typing import Literal

import polars as pl

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.errors import IngestError

UTC_TIME = pl.Datetime("us", "UTC")
_SAMPLE = 1000
# Exact formats first: polars has a fast path for them, ``%.f`` variants are ~4x slower.
# Slash dates: month-first (US) is tried before day-first; a column that only parses
# day-first (a day above 12 somewhere) still finds its format.
_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%#z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d",
)
# Epoch magnitude bounds: below 1e11 seconds is before year 5138, so bigger means ms, etc.
EpochUnit = Literal["s", "ms", "us", "ns"]
_EPOCH_UNITS: tuple[tuple[float, EpochUnit], ...] = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))
_YYYYMMDD = (19000101, 21001231)


def parse_time(column: pl.Series, timezone: str = "UTC") -> pl.Series:
    """Convert ``column`` to ``Datetime("us", "UTC")``.

    Parameters
    ----------
    column
        Raw time values: strings, integers/floats (epoch), Date or Datetime.
    timezone
        IANA zone of naive values.

    Raises
    ------
    IngestError
        ``UNPARSEABLE_DATES`` with the number of bad rows and an example value.
    """
    dtype = column.dtype
    if dtype == pl.String:
        parsed = _parse_strings(column, timezone)
    elif dtype.is_integer() or dtype.is_float():
        parsed = _from_number(column)
    elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        parsed = column.dt.convert_time_zone("UTC").cast(UTC_TIME)
    elif isinstance(dtype, pl.Datetime | pl.Date):
        parsed = localise(column.cast(pl.Datetime("us")), timezone)
    else:
        raise IngestError(
            DatasetRejectReason.UNPARSEABLE_DATES,
            f"The time column has type {dtype}, which holds no dates.",
        )
    _reject_unparsed(column, parsed, timezone)
    return parsed.alias(column.name)


def localise(naive: pl.Series, timezone: str) -> pl.Series:
    """Read naive datetimes as wall-clock time in ``timezone`` and convert them to UTC.

    Ambiguous wall times (the repeated hour when clocks go back) take the earlier instant;
    times that do not exist (skipped by clocks going forward) become null and are reported.
    """
    if timezone == "UTC":
        return naive.dt.replace_time_zone("UTC").cast(UTC_TIME)
    _require_zone(timezone)
    local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC").cast(UTC_TIME)


def _parse_strings(values: pl.Series, timezone: str) -> pl.Series:
    sample = values.head(_SAMPLE).drop_nulls()
    if sample.is_empty():
        sample = values.drop_nulls().head(_SAMPLE)
    if sample.str.contains(r"^\s|\s$").any():
        # Stripping copies every string, so it is only paid for by padded files.
        values, sample = values.str.strip_chars(), sample.str.strip_chars()
    if sample.len() and sample.str.contains(r"^[+-]?\d+$").all():
        # All digits: epoch numbers (or yyyymmdd) written as text.
        return _from_number(values.cast(pl.Int64, strict=False))
    best: pl.Series | None = None
    for fmt in _candidate_formats(sample):
        parsed = _parse_format(values, fmt)
        if best is None or parsed.null_count() < best.null_count():
            best = parsed
        if parsed.null_count() == values.null_count():
            break
    if best is None:
        return _all_null(values)
    if isinstance(best.dtype, pl.Datetime) and best.dtype.time_zone is None:
        return localise(best, timezone)
    return best.dt.convert_time_zone("UTC").cast(UTC_TIME)


def _all_null(values: pl.Series) -> pl.Series:
    return pl.select(pl.repeat(None, values.len(), dtype=UTC_TIME)).to_series().alias(values.name)


def _candidate_formats(sample: pl.Series) -> Iterator[str]:
    """Yield formats parsing the whole sample, in preference order, then the best partial one.

    The partial fallback makes the error report name the rows that are really bad instead
    of every row.
    """
    partial, partial_count = None, 0
    for fmt in _FORMATS:
        parsed = sample.str.strptime(pl.Datetime("us"), fmt, strict=False)
        count = sample.len() - parsed.null_count()
        if count == sample.len():
            yield fmt
        elif count > partial_count:
            partial, partial_count = fmt, count
    if partial is not None:
        yield partial


def _parse_format(values: pl.Series, fmt: str) -> pl.Series:
    # Bar times are unique, so polars' per-value parse cache (on by default) is pure overhead
    # (~40 % of the parse). The streaming engine parses chunks on all cores; eager uses one.
    parse = pl.col(values.name).str.strptime(pl.Datetime("us"), fmt, strict=False, cache=False)
    return values.to_frame().lazy().select(parse).collect(engine="streaming").to_series()


def _from_number(values: pl.Series) -> pl.Series:
    low, high = values.to_frame().select(pl.all().min(), pl.all().max().name.suffix("_")).row(0)
    if low is None:
        return _all_null(values)
    if values.dtype.is_integer() and _YYYYMMDD[0] <= low and high <= _YYYYMMDD[1]:
        text = values.cast(pl.String)
        dates = text.str.strptime(pl.Datetime("us"), "%Y%m%d", strict=False, cache=False)
        return localise(dates, "UTC")
    magnitude = max(abs(low), abs(high))
    unit: EpochUnit = next((unit for bound, unit in _EPOCH_UNITS if magnitude < bound), "ns")
    per_us = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
    if values.dtype.is_integer():
        naive = pl.from_epoch(values, time_unit=unit)
    else:
        naive = pl.from_epoch((values * per_us).round().cast(pl.Int64), time_unit="us")
    return naive.dt.replace_time_zone("UTC").cast(UTC_TIME)


def _require_zone(timezone: str) -> None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise IngestError(
            DatasetRejectReason.UNPARSEABLE_DATES,
            f"Unknown timezone {timezone!r}; use an IANA name such as 'America/New_York'.",
        ) from exc


def _reject_unparsed(raw: pl.Series, parsed: pl.Series, timezone: str) -> None:
    if parsed.null_count() == raw.null_count():
        return  # nothing was lost (null counts are free, the mask below is not)
    bad = parsed.is_null() & raw.is_not_null()
    count = bad.sum()
    if not count:
        return
    row = int(bad.arg_true()[0])
    example = raw[row]
    # Wall times skipped when clocks go forward do not exist in the zone and land here too.
    hint = f" Naive times must exist in {timezone} (not in a DST gap)." if timezone != "UTC" else ""
    raise IngestError(
        DatasetRejectReason.UNPARSEABLE_DATES,
        f"{count} of {raw.len()} time values could not be read as dates, e.g. {example!r} "
        f"in data row {row + 1}. Use ISO 8601 (2024-01-02T09:30:00Z), a date (2024-01-02) "
        f"or epoch seconds/milliseconds.{hint}",
    )
