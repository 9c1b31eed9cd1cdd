"""Size bounds of an upload, checked before the file is decoded: rows, columns, line length and
decoded size.

A Parquet file's shape comes from its footer, read by pyarrow (`parquet_shape`); a CSV file is
scanned in bounded chunks, counting lines and measuring them, never holding more than one chunk
and one line. Either way a file over a bound is refused before polars allocates anything for it, so
a hostile upload costs a rejection, not the process (whose death would redeliver the upload and
kill it again).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.errors import IngestError
from tradelab_datasets.domain.parquet_shape import MAGIC, ParquetShape, read_parquet_shape

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds an upload must keep (``DATASETS_MAX_*`` settings; defaults documented there)."""

    max_rows: int = 10_000_000
    max_columns: int = 64
    max_line_bytes: int = 16 * 1024
    max_decoded_bytes: int = 2 * 1024**3


def check_file(path: Path, limits: Limits) -> None:
    """Refuse the upload at ``path`` if it is over a bound; see `check_parquet` and `scan_csv`."""
    with path.open("rb") as handle:
        if handle.read(len(MAGIC)) == MAGIC:
            check_parquet(read_parquet_shape(path), limits)
            return
        handle.seek(0)
        scan_csv(iter(lambda: handle.read(CHUNK_BYTES), b""), limits)


def check_parquet(shape: ParquetShape, limits: Limits) -> None:
    """Refuse a Parquet file whose footer describes more than ``limits`` allow.

    Raises
    ------
    IngestError
        ``TOO_MANY_ROWS``, or ``TOO_LARGE`` for too many columns or too many decoded bytes.
    """
    check_rows(shape.rows, limits)
    check_columns(shape.columns, limits)
    if shape.decoded_bytes > limits.max_decoded_bytes:
        raise IngestError(
            DatasetRejectReason.TOO_LARGE,
            f"The Parquet file holds {_mib(shape.decoded_bytes)} MiB of data once decompressed; "
            f"at most {_mib(limits.max_decoded_bytes)} MiB are allowed.",
        )


def check_rows(rows: int, limits: Limits) -> None:
    """Refuse more than ``limits.max_rows`` rows (``TOO_MANY_ROWS``)."""
    if rows > limits.max_rows:
        raise IngestError(
            DatasetRejectReason.TOO_MANY_ROWS,
            f"The file holds {rows:,} rows; at most {limits.max_rows:,} are allowed. "
            "Split it, or resample it to a coarser timeframe.",
        )


def check_columns(columns: int, limits: Limits) -> None:
    """Refuse more than ``limits.max_columns`` columns (``TOO_LARGE``)."""
    if columns > limits.max_columns:
        raise IngestError(
            DatasetRejectReason.TOO_LARGE,
            f"The file has {columns:,} columns; at most {limits.max_columns:,} are allowed.",
        )


def scan_csv(chunks: Iterable[bytes], limits: Limits) -> int:
    """Count the lines of a CSV file read as ``chunks``, refusing it at the first bound it passes:
    a line longer than ``max_line_bytes``, or more lines than a header and ``max_rows`` rows.

    The column count is checked from the header once the separator is known (`check_columns`).

    Returns
    -------
    int
        Lines in the file, the header included.

    Raises
    ------
    IngestError
        ``TOO_LARGE`` for a long line, ``TOO_MANY_ROWS`` for too many lines.
    """
    lines = 0
    for newlines in _newlines(chunks, limits.max_line_bytes):
        lines += newlines
        if lines > limits.max_rows + 1:
            check_rows(lines - 1, limits)
    return lines


def _newlines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[int]:
    """Yield the lines ended in each of ``chunks`` (and 1 for a last line with no newline), after
    checking that no line is longer than ``max_line_bytes``.

    Each step searches the next ``max_line_bytes + 1`` bytes after a line start for their last
    newline: the lines before it fit, and the search resumes after it. Short lines cost one
    search per window, not one per line. At most one chunk and one window are held.
    """
    pending, ended = b"", 0  # the bytes after the last newline checked; lines ended so far
    for chunk in chunks:
        buffer, start = pending + chunk, 0
        while len(buffer) - start > max_line_bytes:
            end = buffer.rfind(b"\n", start, start + max_line_bytes + 1)
            if end < 0:
                line = ended - pending.count(b"\n") + buffer.count(b"\n", 0, start) + 1
                raise IngestError(
                    DatasetRejectReason.TOO_LARGE,
                    f"Line {line:,} of the file is longer than {max_line_bytes:,} bytes, the "
                    "most allowed; is this a CSV file?",
                )
            start = end + 1
        pending = buffer[start:]
        newlines = chunk.count(b"\n")
        ended += newlines
        yield newlines
    if pending and not pending.endswith(b"\n"):
        yield 1


def _mib(size: int) -> str:
    return f"{size / 1024**2:,.0f}"
