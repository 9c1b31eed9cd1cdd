"""Dataset queries and commands over Kafka request/reply (gateway -> datasets service).

Like auth, a gateway publishes a `DatasetsRequest` on ``datasets.rpc.request.v1`` with
``reply_to`` set to its reply topic, and the datasets service answers with a `DatasetsReply`
(``kind="datasets"`` tells it apart from an `AuthReply` on the same reply topic). Every request
names its owner: the service answers ``not_found`` for another user's dataset.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeAlias
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter

from tradelab_contracts.auth import ReplyTopic
from tradelab_contracts.base import ContractModel, Reply, Request, Sha256, StorageUri
from tradelab_contracts.datasets import DatasetDeclaration, DatasetRejectReason
from tradelab_contracts.quotas import QuotaUsage


class DatasetStatus(StrEnum):
    """Where a dataset is in its lifecycle."""

    PENDING = "pending"
    READY = "ready"
    REJECTED = "rejected"


class DatasetInfo(ContractModel):
    """A dataset's metadata as the datasets service stores it."""

    id: UUID = Field(description="Dataset id.")
    owner_id: UUID = Field(description="Owning user.")
    status: DatasetStatus = Field(description="pending, ready or rejected.")
    filename: str = Field(description="Name of the uploaded file.")
    name: str | None = Field(default=None, description="Display name.")
    symbol: str | None = Field(default=None, description="Instrument.")
    exchange: str | None = Field(default=None, description="Venue.")
    timeframe: str | None = Field(default=None, description="Detected bar size (when ready).")
    rows: int | None = Field(default=None, ge=0, description="Number of bars (when ready).")
    start: AwareDatetime | None = Field(default=None, description="First bar (UTC).")
    end: AwareDatetime | None = Field(default=None, description="Last bar (UTC).")
    columns: list[str] | None = Field(default=None, description="Canonical columns present.")
    size_bytes: int = Field(ge=0, description="Size of the uploaded file.")
    raw_sha256: Sha256 = Field(description="SHA-256 of the uploaded bytes.")
    content_sha256: Sha256 | None = Field(default=None, description="SHA-256 of normalised data.")
    storage_uri: StorageUri | None = Field(default=None, description="Normalised Parquet file.")
    quality_score: float | None = Field(default=None, ge=0, le=100, description="0-100.")
    quality: dict[str, Any] | None = Field(default=None, description="The quality report.")
    reject_reason: DatasetRejectReason | None = Field(default=None, description="Why rejected.")
    reject_message: str | None = Field(default=None, description="Explanation of a rejection.")
    created_at: AwareDatetime = Field(description="When the upload was registered.")


class DatasetsCommand(Request):
    """Fields every datasets request has."""

    reply_to: ReplyTopic = Field(description="Topic the DatasetsReply is published to.")
    owner_id: UUID = Field(description="The user asking; only their datasets are visible.")


class RegisterUpload(DatasetsCommand):
    """Record an uploaded raw file and start its ingestion (or return the same earlier upload).

    Refused as ``quota_exceeded`` when a new dataset of ``size_bytes`` would take the owner over
    their datasets or stored-bytes quota (the same bytes again are answered, never refused).
    """

    kind: Literal["register_upload"] = Field(
        default="register_upload", description="Discriminator."
    )
    dataset_id: UUID = Field(description="Id chosen by the gateway for the new dataset.")
    storage_uri: StorageUri = Field(description="Where the raw file was stored.")
    filename: str = Field(min_length=1, max_length=255, description="Uploaded file name.")
    size_bytes: int = Field(ge=0, description="Size of the raw file.")
    raw_sha256: Sha256 = Field(description="SHA-256 of the raw bytes.")
    declared: DatasetDeclaration = Field(
        default_factory=DatasetDeclaration, description="What the uploader declared."
    )


class ListDatasets(DatasetsCommand):
    """A page of the owner's datasets, newest first."""

    kind: Literal["list"] = Field(default="list", description="Discriminator.")
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")
    symbol: str | None = Field(default=None, max_length=64, description="Only this symbol.")
    timeframe: str | None = Field(default=None, max_length=16, description="Only this timeframe.")


class GetDataset(DatasetsCommand):
    """One dataset's metadata and quality report."""

    kind: Literal["get"] = Field(default="get", description="Discriminator.")
    dataset_id: UUID = Field(description="Dataset id.")


class PreviewDataset(DatasetsCommand):
    """First and last rows of a ready dataset plus summary statistics."""

    kind: Literal["preview"] = Field(default="preview", description="Discriminator.")
    dataset_id: UUID = Field(description="Dataset id.")
    rows: int = Field(default=10, ge=1, le=1000, description="Rows from each end.")


class DeleteDataset(DatasetsCommand):
    """Delete a dataset and its files."""

    kind: Literal["delete"] = Field(default="delete", description="Discriminator.")
    dataset_id: UUID = Field(description="Dataset id.")


class NormaliseQuickUpload(DatasetsCommand):
    """Validate and normalise an uploaded file into bars for a quick backtest, registering nothing.

    The file is checked and normalised exactly as a dataset upload is, but no dataset is recorded:
    the bars are written to ``bars_uri``, a location the requester chose and deletes when done
    (it owns every file of a quick backtest). A file the service refuses is answered with the
    ``rejected`` error and the same reason and message a dataset upload would be rejected with.
    """

    kind: Literal["normalise_quick_upload"] = Field(
        default="normalise_quick_upload", description="Discriminator."
    )
    upload_uri: StorageUri = Field(description="Where the raw file was stored (CSV or Parquet).")
    bars_uri: StorageUri = Field(description="Where to write the normalised bars (Parquet).")
    declared: DatasetDeclaration = Field(
        default_factory=DatasetDeclaration, description="What the uploader declared."
    )
    deadline_s: float = Field(
        gt=0,
        le=3600,
        description="Seconds from receipt after which the answer is useless: past it the bars "
        "are not written and the reply is the 'timeout' error.",
    )


class CheckUpload(DatasetsCommand):
    """Say whether an upload of about ``size_bytes`` would fit the owner's quotas, before its
    bytes are received: ok, or ``quota_exceeded``. `RegisterUpload` checks again, race-free."""

    kind: Literal["check_upload"] = Field(default="check_upload", description="Discriminator.")
    size_bytes: int = Field(ge=0, description="Bytes the upload will hold at most.")


class GetDatasetsUsage(DatasetsCommand):
    """The owner's usage and limit of every quota the datasets service enforces."""

    kind: Literal["usage"] = Field(default="usage", description="Discriminator.")


DatasetsRequest: TypeAlias = Annotated[
    RegisterUpload
    | ListDatasets
    | GetDataset
    | PreviewDataset
    | DeleteDataset
    | NormaliseQuickUpload
    | CheckUpload
    | GetDatasetsUsage,
    Field(discriminator="kind"),
]
"""Any datasets request, told apart by its ``kind``."""

DATASETS_REQUEST_TYPES: tuple[type[DatasetsCommand], ...] = (
    RegisterUpload,
    ListDatasets,
    GetDataset,
    PreviewDataset,
    DeleteDataset,
    NormaliseQuickUpload,
    CheckUpload,
    GetDatasetsUsage,
)
DATASETS_REQUEST_ADAPTER: TypeAdapter[DatasetsRequest] = TypeAdapter(DatasetsRequest)


class DatasetsErrorCode(StrEnum):
    """Why a datasets request failed."""

    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    INTERNAL = "internal"
    REPLY_TOO_LARGE = "reply_too_large"
    """The answer would not fit in one broker message (``KAFKA_MAX_MESSAGE_BYTES``)."""
    QUOTA_EXCEEDED = "quota_exceeded"
    """The upload would take the owner over a quota (named in ``DatasetsError.quota``)."""


class DatasetsError(ContractModel):
    """A failed datasets request's error."""

    code: DatasetsErrorCode = Field(description="Machine-readable code.")
    message: str = Field(max_length=1024, description="Human-readable explanation.")
    reason: DatasetRejectReason | None = Field(
        default=None, description="Why the file was refused (code 'rejected')."
    )
    quota: QuotaUsage | None = Field(
        default=None, description="The quota a 'quota_exceeded' refusal ran into."
    )


class DatasetPreview(ContractModel):
    """Rows from both ends of a dataset plus per-column statistics."""

    head: list[dict[str, Any]] = Field(description="First rows, time as ISO 8601 UTC.")
    tail: list[dict[str, Any]] = Field(description="Last rows, time as ISO 8601 UTC.")
    summary: dict[str, dict[str, float | None]] = Field(
        description="Per numeric column: count, null_count, mean, std, min, max."
    )


class QuickBars(ContractModel):
    """Normalised bars written for a quick backtest (`NormaliseQuickUpload`)."""

    bars_uri: StorageUri = Field(description="The Parquet file written (the request's bars_uri).")
    rows: int = Field(ge=1, description="Number of bars.")
    start: AwareDatetime = Field(description="First bar (UTC).")
    end: AwareDatetime = Field(description="Last bar (UTC).")
    timeframe: str = Field(min_length=1, max_length=16, description="Detected bar size.")
    columns: list[str] = Field(min_length=1, description="Canonical columns present, in order.")
    quality_score: float = Field(ge=0, le=100, description="Data quality, 0-100.")
    warnings: list[str] = Field(
        default_factory=list, description="Non-fatal remarks (e.g. declared timeframe differs)."
    )


class DatasetsReply(Reply):
    """Answer to a `DatasetsRequest`."""

    kind: Literal["datasets"] = Field(default="datasets", description="Reply discriminator.")
    error: DatasetsError | None = Field(default=None, description="Why it failed.")
    dataset: DatasetInfo | None = Field(default=None, description="The dataset (get, register).")
    created: bool | None = Field(
        default=None, description="Register: False when the same file was already uploaded."
    )
    datasets: list[DatasetInfo] | None = Field(default=None, description="A page (list).")
    total: int | None = Field(default=None, ge=0, description="Matching datasets (list).")
    preview: DatasetPreview | None = Field(default=None, description="Preview (preview).")
    quick: QuickBars | None = Field(
        default=None, description="The bars written (normalise_quick_upload)."
    )
    quotas: list[QuotaUsage] | None = Field(
        default=None, description="Every quota of the datasets service (usage)."
    )
