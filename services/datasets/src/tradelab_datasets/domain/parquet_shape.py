"""Read a Parquet file's shape (rows, columns, decoded size) from its footer, decoding no data.

pyarrow parses the footer (``FileMetaData``): its row count, its leaf columns, and each row
group's ``total_byte_size`` and column chunks' ``total_uncompressed_size``. The footer's length
is read first, from the file's last eight bytes, and a footer over `MAX_FOOTER_BYTES` is refused
before pyarrow reads it: pyarrow reads as many bytes as the file claims (up to its size).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.errors import IngestError

MAGIC = b"PAR1"
MAX_FOOTER_BYTES = 16 * 1024 * 1024
"""A footer larger than this is refused unread (a real one is kilobytes per row group)."""
_MAX_THRIFT_ELEMENTS = 1_000_000
"""pyarrow's bound on one list in the footer (row groups, schema elements, column chunks)."""


@dataclass(frozen=True, slots=True)
class ParquetShape:
    """What a Parquet footer says the data holds.

    Attributes
    ----------
    rows
        Row count (the larger of the file's and the sum of its row groups').
    columns
        Leaf (physical) columns in the schema.
    decoded_bytes
        Uncompressed size of all column data (the larger of the row groups' and the column
        chunks' totals).
    """

    rows: int
    columns: int
    decoded_bytes: int


def read_parquet_shape(path: Path) -> ParquetShape:
    """Read the shape of the Parquet file at ``path`` from its footer.

    Raises
    ------
    IngestError
        ``UNSUPPORTED_FORMAT`` when the file is too short, its footer's length is implausible
        (past the file or over `MAX_FOOTER_BYTES`) or pyarrow cannot decode the footer.
    """
    check_footer_length(path)
    try:
        metadata = pq.ParquetFile(
            path,
            thrift_string_size_limit=MAX_FOOTER_BYTES,
            thrift_container_size_limit=_MAX_THRIFT_ELEMENTS,
        ).metadata
        return shape_of(metadata)
    except (OSError, pa.ArrowException) as exc:
        raise _corrupt("its footer could not be decoded") from exc


def check_footer_length(path: Path) -> None:
    """Refuse a file whose trailer (footer length and ``PAR1``) is missing or implausible."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < 12:
            raise _corrupt("it is too short")
        handle.seek(size - 8)
        tail = handle.read(8)
    if tail[4:] != MAGIC:
        raise _corrupt("its footer does not end with PAR1")
    length = int.from_bytes(tail[:4], "little")
    if length > min(MAX_FOOTER_BYTES, size - 12):
        raise _corrupt(f"its footer claims {length:,} bytes")


def shape_of(metadata: pq.FileMetaData) -> ParquetShape:
    """Sum what ``metadata`` declares: rows, leaf columns and uncompressed bytes."""
    group_rows, group_bytes, chunk_bytes = 0, 0, 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        group_rows += group.num_rows
        group_bytes += max(group.total_byte_size, 0)
        chunk_bytes += sum(
            max(group.column(column).total_uncompressed_size, 0)
            for column in range(group.num_columns)
        )
    return ParquetShape(
        rows=max(metadata.num_rows, group_rows),
        columns=metadata.num_columns,
        decoded_bytes=max(group_bytes, chunk_bytes),
    )


def _corrupt(why: str) -> IngestError:
    return IngestError(
        DatasetRejectReason.UNSUPPORTED_FORMAT, f"The Parquet file could not be read: {why}."
    )
