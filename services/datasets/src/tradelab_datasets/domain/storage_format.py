r"""How normalised bars are stored (Parquet, zstd) and fingerprinted (SHA-256).

Content hash definition (version ``tradelab-bars-v1``)
------------------------------------------------------
SHA-256 over, in order:

1. the ASCII line ``tradelab-bars-v1\n``;
2. the ASCII line ``<rows>\n``;
3. per column, in frame order, the ASCII line ``<name>:<kind>:<nulls>\n`` where ``kind`` is
   ``time_us_utc`` or ``f64`` and ``nulls`` the number of missing values;
4. per column, in frame order: when ``nulls > 0``, the validity bitmap (one bit per row,
   1 = present, most significant bit first, zero-padded to a byte); then the values as
   little-endian 8-byte numbers: time as microseconds since the Unix epoch (UTC, int64), prices
   and volume as IEEE-754 float64 with nulls written as 0.0 and -0.0 written as 0.0.

It depends only on the normalised values, not on the source file's formatting (delimiter, BOM,
line endings, column order, number formatting) nor on the Parquet writer, so it stays stable
across polars upgrades and equals for any two uploads of the same bars.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

HASH_VERSION = "tradelab-bars-v1"
PARQUET_COMPRESSION: Final = "zstd"


def content_sha256(frame: pl.DataFrame) -> str:
    """Return the hex SHA-256 of normalised bars, as defined in this module's docstring."""
    digest = hashlib.sha256(f"{HASH_VERSION}\n{frame.height}\n".encode("ascii"))
    for column in frame.iter_columns():
        kind = "time_us_utc" if isinstance(column.dtype, pl.Datetime) else "f64"
        digest.update(f"{column.name}:{kind}:{column.null_count()}\n".encode())
    for column in frame.iter_columns():
        if column.null_count():
            digest.update(np.packbits(column.is_not_null().to_numpy()).tobytes())
        # Chunk by chunk: the bytes are the same as the whole column's, without the copy
        # that joining the chunks of a parallel CSV read would cost.
        for chunk in column.get_chunks():
            digest.update(_value_bytes(chunk))
    return digest.hexdigest()


def _value_bytes(column: pl.Series) -> memoryview:
    if isinstance(column.dtype, pl.Datetime):
        values = column.dt.convert_time_zone("UTC").dt.epoch("us")
    else:
        values = column.cast(pl.Float64)
        if (values == 0).any():
            # -0.0 == 0.0 but their bytes differ; equal numbers must hash equally.
            zero = pl.col(values.name) == 0
            signless = pl.when(zero).then(0.0).otherwise(values.name)
            values = values.to_frame().select(signless).to_series()
    if values.null_count():
        values = values.fill_null(0)
    layout = "<i8" if values.dtype == pl.Int64 else "<f8"
    return np.ascontiguousarray(values.to_numpy(), dtype=layout).data


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as zstd Parquet, atomically.

    The file is written beside ``path`` under a temporary name and renamed into place, so a
    failure leaves nothing behind and readers never see half a file.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        frame.write_parquet(partial, compression=PARQUET_COMPRESSION, statistics=True)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
