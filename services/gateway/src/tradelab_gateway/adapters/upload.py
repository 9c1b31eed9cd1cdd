"""Streaming multipart upload: the file part goes straight to disk, hashed and size-checked as it
arrives, so a 500 MB upload never sits in memory and an oversized one is cut off at the limit."""

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32


class UploadTooLargeError(Exception):
    """The file part went past the size limit."""


class MalformedUploadError(Exception):
    """The body is not the multipart form we expect."""


@dataclass
class ReceivedFile:
    """The file part, written to ``path``."""

    filename: str
    path: Path
    size_bytes: int
    sha256: str


@dataclass
class _Collector:
    """Multipart callbacks: headers of the current part, then its data to a field or a file."""

    scratch: Path
    max_file_bytes: int
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _header_field: bytes = b""
    _header_value: bytes = b""
    _name: str = ""
    _buffer: bytearray = field(default_factory=bytearray)
    _sink: IO[bytes] | None = None
    _digest: "hashlib._Hash | None" = None
    _size: int = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode(errors="replace")
        filename = options.get(b"filename")
        self._headers = {}
        if filename is not None and self._name == FILE_FIELD:
            if self.file is not None:
                raise MalformedUploadError("only one file per upload")
            fd, tmp = tempfile.mkstemp(dir=self.scratch, prefix="upload-")
            self._sink = os.fdopen(fd, "wb")
            self._digest, self._size = hashlib.sha256(), 0
            name = Path(filename.decode(errors="replace")).name or "upload"
            self.file = ReceivedFile(name[:255], Path(tmp), 0, "")
        elif len(self.fields) >= MAX_FIELDS:
            raise MalformedUploadError("too many form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._sink is not None and self._digest is not None:
            self._size += len(chunk)
            if self._size > self.max_file_bytes:
                raise UploadTooLargeError
            self._digest.update(chunk)
            self._sink.write(chunk)
        else:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise MalformedUploadError(f"form field {self._name!r} is too long")

    def on_part_end(self) -> None:
        if self._sink is not None and self.file is not None and self._digest is not None:
            self._sink.close()
            self._sink = None
            self.file.size_bytes, self.file.sha256 = self._size, self._digest.hexdigest()
        else:
            self.fields[self._name] = self._buffer.decode(errors="replace")
        self._buffer = bytearray()

    def discard(self) -> None:
        """Remove the partial file after a failure: nothing is left behind."""
        if self._sink is not None:
            self._sink.close()
        if self.file is not None:
            self.file.path.unlink(missing_ok=True)


async def receive_upload(
    content_type: str, body: AsyncIterator[bytes], scratch: Path, max_file_bytes: int
) -> tuple[dict[str, str], ReceivedFile | None]:
    """Parse a ``multipart/form-data`` body, writing the ``file`` part under ``scratch``.

    Raises
    ------
    UploadTooLargeError
        When the file part exceeds ``max_file_bytes``; the partial file is removed.
    MalformedUploadError
        When the body is not multipart/form-data or breaks its limits.
    """
    mime, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise MalformedUploadError("expected multipart/form-data with a boundary")
    collector = _Collector(scratch, max_file_bytes)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except (UploadTooLargeError, MalformedUploadError):
        collector.discard()
        raise
    except Exception as exc:
        collector.discard()
        raise MalformedUploadError("the multipart body could not be parsed") from exc
    return collector.fields, collector.file
