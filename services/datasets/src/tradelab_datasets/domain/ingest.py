"""Ingest one uploaded file: bound, sniff, read, normalise, detect timeframe, assess, hash."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from polars.exceptions import PolarsError

from tradelab_contracts.datasets import DatasetDeclaration, DatasetRejectReason
from tradelab_datasets.domain.bounds import Limits, check_columns, check_file
from tradelab_datasets.domain.errors import IngestError
from tradelab_datasets.domain.normalise import DuplicateInfo, NormalisedDataset, normalise
from tradelab_datasets.domain.quality import QualityReport, assess_quality
from tradelab_datasets.domain.reader import read_source
from tradelab_datasets.domain.sniff import sniff_file
from tradelab_datasets.domain.storage_format import content_sha256
from tradelab_datasets.domain.timeframe import detect_timeframe


@dataclass(frozen=True, slots=True)
class IngestResult:
    """An accepted dataset: canonical bars and everything known about them.

    Attributes
    ----------
    frame
        Normalised bars (time UTC, sorted, unique; Float64 values). Write it with
        `write_parquet`.
    timeframe
        Detected bar size (``1m`` ... ``1mo`` or ``irregular``).
    rows, start, end
        Number of bars and first / last bar time (UTC).
    columns
        Canonical columns present, in order.
    quality
        Scored quality report.
    duplicates
        Duplicates dropped while normalising.
    content_sha256
        Fingerprint of the normalised content (see `content_sha256`).
    source_format
        ``csv`` or ``parquet``.
    warnings
        Non-fatal remarks for the uploader (e.g. declared timeframe differs from detected).
    """

    frame: pl.DataFrame
    timeframe: str
    rows: int
    start: datetime
    end: datetime
    columns: list[str]
    quality: QualityReport
    duplicates: DuplicateInfo
    content_sha256: str
    source_format: str
    warnings: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Return the JSON-serialisable metadata (everything except the bars)."""
        return {
            "timeframe": self.timeframe,
            "rows": self.rows,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "columns": self.columns,
            "quality": self.quality.to_dict(),
            "duplicates": self.duplicates.to_dict(),
            "content_sha256": self.content_sha256,
            "source_format": self.source_format,
            "warnings": list(self.warnings),
        }


def ingest_file(
    path: Path, declaration: DatasetDeclaration | None = None, limits: Limits | None = None
) -> IngestResult:
    """Validate and normalise the upload at ``path``; writes nothing.

    The file's size bounds (``limits``) are checked before it is decoded (`check_file`).

    Raises
    ------
    IngestError
        For every rejection, with a reason code from `DatasetRejectReason`; an unexpected
        parser failure is reported as ``INTERNAL`` rather than escaping as a crash.
    """
    declaration = declaration or DatasetDeclaration()
    limits = limits or Limits()
    check_file(path, limits)
    sniffed = sniff_file(path)
    check_columns(len(sniffed.header), limits)  # a Parquet file's were counted from its footer
    try:
        raw = read_source(path, declaration, sniffed)
        normalised = normalise(raw, declaration)
    except PolarsError as exc:
        raise IngestError(
            DatasetRejectReason.INTERNAL, f"The file could not be processed: {exc}"
        ) from exc
    frame = normalised.frame
    timeframe, quality, sha256 = _describe(normalised, declaration.timezone)
    return IngestResult(
        frame=frame,
        timeframe=timeframe,
        rows=frame.height,
        start=frame["time"][0],
        end=frame["time"][-1],
        columns=list(frame.columns),
        quality=quality,
        duplicates=normalised.duplicates,
        content_sha256=sha256,
        source_format=sniffed.format,
        warnings=_warnings(declaration, timeframe, normalised.columns.adjusted_close),
    )


def _describe(normalised: NormalisedDataset, timezone: str) -> tuple[str, QualityReport, str]:
    """Detect the timeframe, assess quality and hash the content."""
    frame = normalised.frame
    # Hashing (hashlib) and the quality checks (polars) both release the GIL: overlap them.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(content_sha256, frame)
        timeframe = detect_timeframe(frame["time"])
        quality = assess_quality(
            frame,
            timeframe=timeframe,
            duplicates=normalised.duplicates,
            source_rows=normalised.source_rows,
            timezone=timezone,
        )
        return timeframe, quality, digest.result()


def _warnings(declaration: DatasetDeclaration, timeframe: str, adjusted: bool) -> tuple[str, ...]:
    notes = []
    if declaration.timeframe and declaration.timeframe != timeframe:
        notes.append(
            f"Declared timeframe {declaration.timeframe!r} differs from the detected {timeframe!r}."
        )
    if adjusted:
        notes.append("No close column: the adjusted close was used as close.")
    return tuple(notes)
