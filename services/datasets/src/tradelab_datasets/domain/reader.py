"""Read an upload (CSV or Parquet) into a raw polars table, fast, or reject it clearly.

CSV is read once with price and volume columns typed ``Float64`` up front, which costs the same
as a bare ``polars.read_csv``. Only when that fails on a value (text such as ``NA`` included:
passing ``null_values`` would slow every read by a third) does a second, all-text read run, so
that normalising can treat missing markers and point at the offending cell. Either way only
the columns the bars come from are decoded (`projection`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.exceptions import ComputeError, NoDataError, PolarsError

from tradelab_contracts.datasets import DatasetDeclaration, DatasetRejectReason
from tradelab_datasets.domain.columns import TIME, resolve_columns
from tradelab_datasets.domain.errors import IngestError
from tradelab_datasets.domain.projection import csv_projection, needed_columns
from tradelab_datasets.domain.sniff import Sniffed, sniff_file

_INFER_ROWS = 1000


def read_source(
    path: Path, declaration: DatasetDeclaration, sniffed: Sniffed | None = None
) -> pl.DataFrame:
    """Read ``path`` into a raw table with the file's own column names.

    Parameters
    ----------
    path
        The uploaded file.
    declaration
        What the uploader declared; its ``column_mapping`` decides which columns are numeric.
    sniffed
        The result of `sniff_file`, if the caller already has it.

    Raises
    ------
    IngestError
        ``EMPTY_FILE``, ``NOT_UTF8``, ``RAGGED_ROWS``, ``NO_TIME_COLUMN``,
        ``NO_CLOSE_COLUMN`` or ``UNSUPPORTED_FORMAT``.
    """
    sniffed = sniffed or sniff_file(path)
    if sniffed.format == "parquet":
        return _read_parquet(path, declaration)
    # Resolving columns from the header rejects a file without time or close before reading it.
    columns = resolve_columns(sniffed.header, declaration.column_mapping)
    numeric = {source: pl.Float64 for name, source in columns.sources.items() if name != TIME}
    projection = csv_projection(path, sniffed, columns)
    try:
        return _read_csv(path, sniffed, projection, numeric)
    except ComputeError as exc:
        _raise_if_structural(exc)
    # A value did not parse: read everything as text so normalising can name the cell.
    try:
        return _read_csv(path, sniffed, projection, None)
    except PolarsError as exc:
        _raise_if_structural(exc)
        hint = " (an unclosed double quote?)" if "malformed" in str(exc) else ""
        raise IngestError(
            DatasetRejectReason.UNSUPPORTED_FORMAT,
            f"The CSV could not be parsed{hint}: {str(exc).splitlines()[0]}",
        ) from exc


def _read_csv(
    path: Path,
    sniffed: Sniffed,
    projection: list[str] | None,
    numeric: dict[str, type[pl.Float64]] | None,
) -> pl.DataFrame:
    """Read the ``projection`` columns (all when ``None``) with explicit options;
    ``numeric=None`` reads every column as text."""
    try:
        return pl.read_csv(
            path,
            columns=projection,
            separator=sniffed.separator,
            has_header=sniffed.has_header,
            schema_overrides=numeric,
            infer_schema=numeric is not None,
            infer_schema_length=_INFER_ROWS,
            decimal_comma=sniffed.decimal_comma,
            truncate_ragged_lines=False,
            raise_if_empty=True,
        )
    except NoDataError as exc:
        raise IngestError(DatasetRejectReason.EMPTY_FILE, "The file is empty.") from exc


def _raise_if_structural(exc: PolarsError) -> None:
    """Turn parser errors about the file's structure or encoding into rejections."""
    text = str(exc)
    if "more fields than" in text:
        raise IngestError(
            DatasetRejectReason.RAGGED_ROWS,
            "A row has more fields than the header has columns; check for unquoted "
            "delimiters inside values or a missing header column.",
        ) from exc
    if "utf-8" in text.lower() or "utf8" in text.lower():
        raise IngestError(
            DatasetRejectReason.NOT_UTF8,
            "The file contains bytes that are not valid UTF-8; save it as UTF-8.",
        ) from exc


def _read_parquet(path: Path, declaration: DatasetDeclaration) -> pl.DataFrame:
    """Read only the columns the bars come from (`needed_columns`)."""
    try:
        names = tuple(pl.read_parquet_schema(path))
        projection = needed_columns(names, resolve_columns(names, declaration.column_mapping))
        return pl.read_parquet(path, columns=projection)
    except PolarsError as exc:
        raise IngestError(
            DatasetRejectReason.UNSUPPORTED_FORMAT, f"The Parquet file could not be read: {exc}"
        ) from exc
    except OSError as exc:  # polars reports some corrupt footers as I/O errors
        raise IngestError(
            DatasetRejectReason.UNSUPPORTED_FORMAT, f"The Parquet file could not be read: {exc}"
        ) from exc
