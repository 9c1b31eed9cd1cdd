"""Reading the object store for a route, when the owner may delete the file at the same time.

The owning service answers that a resource exists, then the gateway reads its file: a delete in
between removes the file under the read. Both helpers answer that as 404 (the resource is gone),
never as a 500. `stored_file` opens the file before answering and streams from the open handle,
so a download that started completes even when the file is deleted during it.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, ParamSpec, TypeVar
from urllib.parse import quote

import polars as pl
from fastapi.responses import StreamingResponse

from tradelab_gateway.api.problems import ProblemError
from tradelab_runtime.storage import LocalObjectStore

CHUNK_BYTES = 256 * 1024
TableFormat = Literal["csv", "parquet"]
PARQUET_TYPE = "application/vnd.apache.parquet"
TABLE_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The table as CSV (format=csv) or Parquet (format=parquet), streamed.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            PARQUET_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
"""The answer of a ``stored_table`` route, for its OpenAPI document."""
P = ParamSpec("P")
T = TypeVar("T")


def gone() -> ProblemError:
    """The problem for a resource deleted while it was being read."""
    return ProblemError(404, "It was deleted.", code="not_found")


async def read_stored(read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``read`` in a worker thread; a file deleted meanwhile answers 404."""
    try:
        return await asyncio.to_thread(read, *args, **kwargs)
    except FileNotFoundError as missing:
        raise gone() from missing


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


async def stored_file(
    path: Path,
    media_type: str,
    *,
    filename: str | None = None,
    inline: bool = False,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """Answer with the file at ``path``, opened now; 404 when it is gone already."""
    handle = await read_stored(path.open, "rb")
    size = os.fstat(handle.fileno()).st_size
    sent = {"Content-Length": str(size), **(headers or {})}
    if filename is not None:
        kind = "inline" if inline else "attachment"
        quoted = quote(filename)
        sent["Content-Disposition"] = (
            f'{kind}; filename="{filename}"'
            if quoted == filename
            else f"{kind}; filename*=utf-8''{quoted}"
        )
    return StreamingResponse(_chunks(handle), media_type=media_type, headers=sent)


def write_csv(parquet: Path, target: Path) -> None:
    """Stream Parquet to CSV with ISO 8601 UTC times, without loading it all in memory."""
    pl.scan_parquet(parquet).sink_csv(target, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")


async def stored_table(
    store: LocalObjectStore, path: Path, format: TableFormat, stem: str
) -> StreamingResponse:
    """A stored Parquet table in full, as Parquet or as CSV (converted to a scratch file,
    streamed, and removed once opened)."""
    if format == "parquet":
        return await stored_file(path, PARQUET_TYPE, filename=f"{stem}.parquet")
    csv_path = store.scratch_dir() / f"download-{uuid.uuid4()}.csv"
    try:
        await read_stored(write_csv, path, csv_path)
        # Opened before it is unlinked: the stream reads on from the open handle.
        return await stored_file(csv_path, "text/csv", filename=f"{stem}.csv")
    finally:
        csv_path.unlink(missing_ok=True)
