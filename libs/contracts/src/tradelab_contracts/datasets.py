"""Dataset lifecycle events: uploaded, ingested, rejected, deleted.

Events carry ids, hashes and storage URIs, never the bars themselves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from tradelab_contracts.base import ContractModel, Event, Sha256, StorageUri


class DatasetDeclaration(ContractModel):
    """What the uploader said about the file; the datasets service checks it against the data."""

    name: str | None = Field(default=None, max_length=200, description="Display name.")
    symbol: str | None = Field(default=None, max_length=64, description="Instrument, e.g. 'GOOG'.")
    exchange: str | None = Field(default=None, max_length=64, description="Venue, e.g. 'NASDAQ'.")
    timeframe: str | None = Field(
        default=None, max_length=16, description="Bar size claimed, e.g. '1d'; detected if absent."
    )
    timezone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        description="IANA zone of naive timestamps in the file, e.g. 'America/New_York'.",
    )
    column_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="File column -> canonical column (time, open, high, low, close, volume).",
    )


class DatasetUploaded(Event):
    """A raw file was stored and awaits ingestion."""

    dataset_id: UUID = Field(description="Id of the dataset.")
    owner_id: UUID = Field(description="Id of the owning user.")
    storage_uri: StorageUri = Field(description="Where the raw file was stored.")
    filename: str = Field(min_length=1, max_length=255, description="Name of the uploaded file.")
    size_bytes: int = Field(ge=0, description="Size of the raw file in bytes.")
    raw_sha256: Sha256 = Field(description="SHA-256 of the raw file's bytes.")
    declared: DatasetDeclaration = Field(
        default_factory=DatasetDeclaration, description="What the uploader declared."
    )


class DatasetIngested(Event):
    """A dataset was validated, normalised (UTC, sorted, typed) and stored as Parquet."""

    dataset_id: UUID = Field(description="Id of the dataset.")
    owner_id: UUID = Field(description="Id of the owning user.")
    storage_uri: StorageUri = Field(description="Where the normalised Parquet file lives.")
    content_sha256: Sha256 = Field(
        description="SHA-256 of the normalised content; result caches key on it."
    )
    rows: int = Field(ge=1, description="Number of bars.")
    start: AwareDatetime = Field(description="Time of the first bar (UTC).")
    end: AwareDatetime = Field(description="Time of the last bar (UTC).")
    timeframe: str = Field(
        min_length=1, max_length=16, description="Detected bar size, e.g. '1d', '1h', '5m'."
    )
    columns: list[str] = Field(min_length=1, description="Canonical columns present, in order.")
    quality_score: float = Field(
        ge=0, le=100, description="Data quality, 100 = no gaps, duplicates or outliers found."
    )

    @model_validator(mode="after")
    def _start_not_after_end(self) -> Self:
        if self.start > self.end:
            msg = "start must not be after end"
            raise ValueError(msg)
        return self


class DatasetRejectReason(StrEnum):
    """Why an uploaded file could not be ingested."""

    EMPTY_FILE = "empty_file"
    HEADER_ONLY = "header_only"
    NOT_UTF8 = "not_utf8"
    NO_TIME_COLUMN = "no_time_column"
    NO_CLOSE_COLUMN = "no_close_column"
    NON_NUMERIC_PRICES = "non_numeric_prices"
    NON_POSITIVE_PRICES = "non_positive_prices"
    UNPARSEABLE_DATES = "unparseable_dates"
    SINGLE_TIMESTAMP = "single_timestamp"
    RAGGED_ROWS = "ragged_rows"
    TOO_LARGE = "too_large"
    """Over a size bound other than the row count: columns, line length, decoded size."""
    TOO_MANY_ROWS = "too_many_rows"
    """More rows than the datasets service accepts (``DATASETS_MAX_ROWS``)."""
    UNSUPPORTED_FORMAT = "unsupported_format"
    INTERNAL = "internal"


class DatasetRejected(Event):
    """An uploaded file could not be ingested."""

    dataset_id: UUID = Field(description="Id of the dataset.")
    owner_id: UUID = Field(description="Id of the owning user.")
    reason_code: DatasetRejectReason = Field(description="Machine-readable reason.")
    message: str = Field(max_length=2048, description="Explanation for the user, e.g. the row.")


class DatasetDeleted(Event):
    """A dataset was deleted by its owner; its files are gone or going."""

    dataset_id: UUID = Field(description="Id of the dataset.")
    owner_id: UUID = Field(description="Id of the owning user.")
