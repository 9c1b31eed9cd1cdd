"""Which of an upload's columns to decode: only those the bars come from.

A file may hold up to ``DATASETS_MAX_COLUMNS`` columns; decoding the ones no canonical column
comes from would cost their memory for nothing (64 columns of 10,000,000 rows are 5 GB as
floats). polars reads only the projected columns, but then stops checking that each CSV row
has the header's field count: a row with one field too many would silently shift its values.
So a CSV file is projected only once pyarrow's streaming parser, holding one block of one
column at a time, has found every row as wide as the header; otherwise it is read whole, as
before, and polars names the ragged row.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from tradelab_datasets.domain.columns import ColumnMap
from tradelab_datasets.domain.sniff import Sniffed

BLOCK_BYTES = 256 * 1024
"""What pyarrow parses at a time: a row must fit in one block, and DATASETS_MAX_LINE_BYTES keeps
every row (32 KiB at most) within it."""


def needed_columns(header: tuple[str, ...], columns: ColumnMap) -> list[str] | None:
    """Return the columns of ``header`` that ``columns`` reads, in file order, or ``None`` when
    it reads all of them."""
    sources = {*columns.sources.values(), columns.time_of_day}
    needed = [name for name in dict.fromkeys(header) if name in sources]
    return needed if len(needed) < len(header) else None


def csv_projection(path: Path, sniffed: Sniffed, columns: ColumnMap) -> list[str] | None:
    """Return the columns to read from the CSV file at ``path``, or ``None`` to read them all.

    A file without a header is read whole: polars renumbers projected ``column_N`` names.
    """
    needed = needed_columns(sniffed.header, columns) if sniffed.has_header else None
    if needed is None or not is_rectangular(path, sniffed):
        return None
    return needed


def is_rectangular(path: Path, sniffed: Sniffed) -> bool:
    """Tell whether every non-empty row of the CSV file at ``path`` has the header's width."""
    width = len(sniffed.header)
    names = [f"c{index}" for index in range(width)]
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=names,
                skip_rows=int(sniffed.has_header),
                use_threads=False,
                block_size=BLOCK_BYTES,
            ),
            parse_options=pa_csv.ParseOptions(delimiter=sniffed.separator),
            convert_options=pa_csv.ConvertOptions(
                include_columns=names[:1], column_types={names[0]: pa.binary()}
            ),
        )
        for _ in reader:
            pass
    except (OSError, pa.ArrowException):
        return False  # a ragged row, or anything else: the whole read decides
    finally:
        pa.default_memory_pool().release_unused()  # before polars reads: peaks do not add up
    return True
