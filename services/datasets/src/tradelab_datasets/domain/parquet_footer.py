"""Read a Parquet file's shape (rows, columns, decoded size) from its footer, decoding no data.

The footer is a Thrift compact-protocol ``FileMetaData`` (parquet-format's ``parquet.thrift``):
field 2 the schema, 3 the row count, 4 the row groups, each with its uncompressed byte size (2)
and its column chunks (1), whose metadata (3) holds their own uncompressed size (6). Only those
fields are read; everything else is skipped. Neither polars nor the workspace offers the
uncompressed size, and this needs nothing beyond the standard library.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.errors import IngestError

MAGIC = b"PAR1"
MAX_FOOTER_BYTES = 16 * 1024 * 1024
"""A footer larger than this is refused unread (a real one is kilobytes per row group)."""

_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(
    13
)
_MAX_DEPTH = 32
_FIXED_BYTES = {_BYTE: 1, _DOUBLE: 8}


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
    """Read the footer of the Parquet file at ``path``; see `parse_footer`."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < 12:
            raise _corrupt("it is too short")
        handle.seek(size - 8)
        tail = handle.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != MAGIC:
            raise _corrupt("its footer does not end with PAR1")
        if length > min(MAX_FOOTER_BYTES, size - 12):
            raise _corrupt(f"its footer claims {length:,} bytes")
        handle.seek(size - 8 - length)
        return parse_footer(handle.read(length))


def parse_footer(footer: bytes) -> ParquetShape:
    """Decode the shape from the Thrift-encoded ``FileMetaData`` bytes ``footer``.

    Raises
    ------
    IngestError
        ``UNSUPPORTED_FORMAT`` when the footer is not a readable ``FileMetaData``.
    """
    reader = _Reader(footer)
    try:
        rows, leaves, group_rows, group_bytes, chunk_bytes = 0, 0, 0, 0, 0
        for field, kind in reader.fields():
            if field == 2 and kind == _LIST:
                leaves = sum(1 for _ in reader.structs() if _is_leaf(reader))
            elif field == 3 and kind == _I64:
                rows = reader.varint_signed()
            elif field == 4 and kind == _LIST:
                for _ in reader.structs():
                    g_rows, g_bytes, c_bytes = _row_group(reader)
                    group_rows, group_bytes, chunk_bytes = (
                        group_rows + g_rows,
                        group_bytes + g_bytes,
                        chunk_bytes + c_bytes,
                    )
            else:
                reader.skip(kind)
    except (IndexError, ValueError, struct.error) as exc:
        raise _corrupt("its footer could not be decoded") from exc
    return ParquetShape(max(rows, group_rows), leaves, max(group_bytes, chunk_bytes))


def _is_leaf(reader: _Reader) -> bool:
    """Read one ``SchemaElement``: a leaf has no ``num_children`` (5) or zero of them."""
    children = 0
    for field, kind in reader.fields():
        if field == 5 and kind == _I32:
            children = reader.varint_signed()
        else:
            reader.skip(kind)
    return children == 0


def _row_group(reader: _Reader) -> tuple[int, int, int]:
    """Read one ``RowGroup``: its rows, its total byte size and its chunks' uncompressed sizes."""
    rows, total, chunks = 0, 0, 0
    for field, kind in reader.fields():
        if field == 1 and kind == _LIST:
            chunks = sum(_column_chunk(reader) for _ in reader.structs())
        elif field == 2 and kind == _I64:
            total = reader.varint_signed()
        elif field == 3 and kind == _I64:
            rows = reader.varint_signed()
        else:
            reader.skip(kind)
    return rows, total, chunks


def _column_chunk(reader: _Reader) -> int:
    """Read one ``ColumnChunk``: its metadata's (3) ``total_uncompressed_size`` (6)."""
    size = 0
    for field, kind in reader.fields():
        if field == 3 and kind == _STRUCT:
            for inner, inner_kind in reader.fields():
                if inner == 6 and inner_kind == _I64:
                    size = reader.varint_signed()
                else:
                    reader.skip(inner_kind)
        else:
            reader.skip(kind)
    return max(size, 0)


class _Reader:
    """A cursor over Thrift compact-protocol bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.depth = 0

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        result, shift = 0, 0
        while True:
            value = self.byte()
            result |= (value & 0x7F) << shift
            if not value & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def varint_signed(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)  # zigzag

    def fields(self) -> Iterator[tuple[int, int]]:
        """Yield the fields of the struct at the cursor; the caller reads or skips each value."""
        self._enter()
        last = 0
        while True:
            header = self.byte()
            kind = header & 0x0F
            if kind == _STOP:
                self.depth -= 1
                return
            delta = header >> 4
            last = last + delta if delta else self.varint_signed()
            yield last, kind

    def structs(self) -> Iterator[None]:
        """Yield once per element of the list of structs at the cursor; the caller reads it."""
        count, kind = self._list_header()
        if kind != _STRUCT:
            for _ in range(count):
                self.skip(kind)
            return
        for _ in range(count):
            yield None

    def skip(self, kind: int) -> None:
        """Skip one value of type ``kind``."""
        if kind in (_TRUE, _FALSE):
            return  # a boolean field's value is in its header
        if kind in _FIXED_BYTES:
            self.pos += _FIXED_BYTES[kind]
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _BINARY:
            length = self.varint()  # read before pos: ``pos += varint()`` would lose its bytes
            self.pos += length
        elif kind in (_LIST, _SET, _MAP):
            self._skip_collection(kind)
        elif kind == _STRUCT:
            for _, inner in self.fields():
                self.skip(inner)
        else:
            raise ValueError(f"unknown thrift type {kind}")
        if self.pos > len(self.data):
            raise IndexError("past the end")

    def _skip_element(self, kind: int) -> None:
        if kind in (_TRUE, _FALSE):
            self.pos += 1  # in a collection a boolean takes a byte
        else:
            self.skip(kind)

    def _skip_collection(self, kind: int) -> None:
        if kind == _MAP:
            self._skip_map()
            return
        count, element = self._list_header()
        for _ in range(count):
            self._skip_element(element)

    def _skip_map(self) -> None:
        count = self.varint()
        if count > len(self.data) - self.pos:
            raise ValueError("map larger than the footer")
        if count:
            kinds = self.byte()
            for _ in range(count):
                self._skip_element(kinds >> 4)
                self._skip_element(kinds & 0x0F)

    def _list_header(self) -> tuple[int, int]:
        header = self.byte()
        count = header >> 4
        if count == 15:
            count = self.varint()
        if count > len(self.data) - self.pos:
            raise ValueError("collection larger than the footer")  # each element takes a byte
        return count, header & 0x0F

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ValueError("structs nested too deep")


def _corrupt(why: str) -> IngestError:
    return IngestError(
        DatasetRejectReason.UNSUPPORTED_FORMAT, f"The Parquet file could not be read: {why}."
    )
