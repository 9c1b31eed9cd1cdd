"""Use cases of the datasets service: plain async functions over their collaborators."""

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tradelab_contracts.base import Message, correlation_of
from tradelab_contracts.datasets import (
    DatasetDeleted,
    DatasetIngested,
    DatasetRejected,
    DatasetRejectReason,
    DatasetUploaded,
)
from tradelab_contracts.datasets_rpc import (
    DatasetsError,
    DatasetsErrorCode,
    DatasetsReply,
    DatasetStatus,
    DeleteDataset,
    GetDataset,
    ListDatasets,
    NormaliseQuickUpload,
    PreviewDataset,
    QuickBars,
    RegisterUpload,
)
from tradelab_contracts.topics import (
    DATASET_DELETED,
    DATASET_INGESTED,
    DATASET_REJECTED,
    DATASET_UPLOADED,
)
from tradelab_runtime.clock import Clock
from tradelab_runtime.deadlines import check_deadline
from tradelab_runtime.logging import get_logger
from tradelab_runtime.metrics import ServiceMetrics
from tradelab_runtime.pages import fit_page, page_budget
from tradelab_runtime.quotas import QuotaExceededError
from tradelab_runtime.storage import LocalObjectStore

from .adapters.repository import Announcement, DatasetRepository
from .domain.bounds import Limits
from .domain.errors import IngestError
from .domain.ingest import IngestResult, ingest_file
from .domain.preview import preview
from .domain.quotas import DatasetQuotas
from .domain.storage_format import write_parquet

log = get_logger(__name__)


@dataclass(frozen=True)
class Deps:
    """What the use cases need from the outside world."""

    repo: DatasetRepository
    """Datasets, and the outbox every event of theirs leaves through."""
    store: LocalObjectStore
    clock: Clock
    quick_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    """Quick uploads normalised at once; more wait (a big file takes a lot of memory)."""
    limits: Limits = field(default_factory=Limits)
    """Size bounds of an upload, checked before it is decoded."""
    max_ingest_starts: int = 3
    """Ingestions of one upload that may start and never end (their process died) before it is
    rejected instead of read again: no crash loop on a file that kills the process."""
    page_bytes: int = field(default_factory=page_budget)
    """What a list reply's items may take, so the reply fits in one broker message (`fit_page`)."""
    quotas: DatasetQuotas = field(default_factory=DatasetQuotas)
    """What one user may keep; every new upload is admitted against it."""
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    """Where ingestions are counted (rows and duration)."""


def reply(cmd: Message, **fields: Any) -> DatasetsReply:
    """A reply to ``cmd`` with ``fields``."""
    return DatasetsReply(request_id=cmd.message_id, correlation_id=correlation_of(cmd), **fields)


def error_reply(
    cmd: Message,
    code: DatasetsErrorCode,
    message: str,
    reason: DatasetRejectReason | None = None,
) -> DatasetsReply:
    error = DatasetsError(code=code, message=message[:1024], reason=reason)
    return reply(cmd, ok=False, error=error)


def quota_refusal(cmd: Message, exc: QuotaExceededError) -> DatasetsReply:
    """The ``quota_exceeded`` reply to a request that would take its owner over a quota."""
    error = DatasetsError(
        code=DatasetsErrorCode.QUOTA_EXCEEDED, message=str(exc)[:1024], quota=exc.usage
    )
    return reply(cmd, ok=False, error=error)


async def register_upload(cmd: RegisterUpload, deps: Deps) -> DatasetsReply:
    """Record the upload and announce it for ingestion; the same bytes again return the first.

    A new upload its owner's quotas have no room for is refused (``quota_exceeded``) and its
    raw file removed."""
    upload = DatasetUploaded(
        dataset_id=cmd.dataset_id,
        owner_id=cmd.owner_id,
        storage_uri=cmd.storage_uri,
        filename=cmd.filename,
        size_bytes=cmd.size_bytes,
        raw_sha256=cmd.raw_sha256,
        declared=cmd.declared,
        correlation_id=correlation_of(cmd),
    )
    try:
        info, created = await deps.repo.add_pending(
            upload, deps.clock.now(), announce_upload(upload), deps.quotas
        )
    except QuotaExceededError as exc:
        deps.store.delete(cmd.storage_uri)
        return quota_refusal(cmd, exc)
    if not created:
        deps.store.delete(cmd.storage_uri)  # the earlier upload already holds these bytes
    return reply(cmd, ok=True, dataset=info, created=created)


def announce_upload(upload: DatasetUploaded) -> Announcement:
    """The announcement that asks for ``upload``'s ingestion (the first, or again)."""
    return upload, DATASET_UPLOADED, upload.dataset_id.bytes


async def ingest(event: DatasetUploaded, deps: Deps) -> None:
    """Validate, normalise and store an uploaded file; a redelivered event is a no-op.

    A file that cannot be ingested is rejected with its reason. Trouble with the database or the
    object store raises: the consumer retries, then parks the message, and the pending sweeper
    announces the upload again later (``sweeper``), until it gives up and rejects the dataset.
    Each start is counted before the file is read and taken back when it ends by raising, so
    the count holds the starts whose process died; past ``deps.max_ingest_starts`` the upload is
    rejected unread.
    """
    starts = await deps.repo.start_ingestion(event.dataset_id)
    if starts is None:
        return  # already ingested or rejected, or deleted meanwhile
    if starts > deps.max_ingest_starts:
        # Every earlier start died with its process (killed for memory, say) before it ended:
        # reading the file again would only kill this one too.
        log.warning("giving up a dataset that stopped ingestion", dataset_id=str(event.dataset_id))
        await give_up(event, starts - 1, deps)
        return
    try:
        await _ingest_started(event, deps)
    except BaseException:
        with contextlib.suppress(Exception):  # the database may be what failed
            await deps.repo.end_ingestion(event.dataset_id)
        raise


async def _ingest_started(event: DatasetUploaded, deps: Deps) -> None:
    started = time.perf_counter()
    outcome, rows = DatasetStatus.REJECTED.value, 0
    try:
        raw_path = deps.store.path(event.storage_uri)
        result = await asyncio.to_thread(ingest_file, raw_path, event.declared, deps.limits)
    except IngestError as exc:
        await _reject(event, exc.reason, exc.message, deps)
    except FileNotFoundError:
        await _reject(event, DatasetRejectReason.INTERNAL, "The uploaded file was lost.", deps)
    except OSError:
        raise  # the store failed to read: transient, retried
    except Exception:
        # The same bytes fail the same way: retrying would not help.
        log.exception("ingestion failed", dataset_id=str(event.dataset_id))
        message = "The file could not be processed because of an internal error."
        await _reject(event, DatasetRejectReason.INTERNAL, message, deps)
    else:
        await _accept(event, result, deps)
        outcome, rows = DatasetStatus.READY.value, result.rows
    deps.store.delete(event.storage_uri)
    deps.metrics.ingested(outcome, rows, time.perf_counter() - started)


async def _accept(event: DatasetUploaded, result: IngestResult, deps: Deps) -> None:
    scratch = deps.store.scratch_dir() / f"{uuid.uuid4()}.parquet"
    await asyncio.to_thread(write_parquet, result.frame, scratch)
    # Content-addressed: datasets with the same normalised content share one file.
    key = f"datasets/{event.owner_id}/{result.content_sha256}.parquet"
    storage_uri = deps.store.put_file(key, scratch)
    ingested = DatasetIngested(
        dataset_id=event.dataset_id,
        owner_id=event.owner_id,
        storage_uri=storage_uri,
        content_sha256=result.content_sha256,
        rows=result.rows,
        start=result.start,
        end=result.end,
        timeframe=result.timeframe,
        columns=result.columns,
        quality_score=result.quality.score,
        correlation_id=correlation_of(event),
    )
    info = await deps.repo.finish(
        event.dataset_id,
        {
            "status": DatasetStatus.READY.value,
            "timeframe": result.timeframe,
            "rows": result.rows,
            "start_at": result.start,
            "end_at": result.end,
            "columns": result.columns,
            "content_sha256": result.content_sha256,
            "storage_uri": storage_uri,
            "quality_score": result.quality.score,
            "quality": result.quality.to_dict(),
        },
        deps.clock.now(),
        (ingested, DATASET_INGESTED, event.dataset_id.bytes),
    )
    if info is None and not await deps.repo.is_referenced(storage_uri):
        deps.store.delete(storage_uri)  # deleted or rejected while we worked: leave nothing


async def _reject(
    event: DatasetUploaded, reason: DatasetRejectReason, message: str, deps: Deps
) -> None:
    values = {
        "status": DatasetStatus.REJECTED.value,
        "reject_reason": reason.value,
        "reject_message": message[:2048],
    }
    rejected = DatasetRejected(
        dataset_id=event.dataset_id,
        owner_id=event.owner_id,
        reason_code=reason,
        message=message[:2048],
        correlation_id=correlation_of(event),
    )
    announce = (rejected, DATASET_REJECTED, event.dataset_id.bytes)
    await deps.repo.finish(event.dataset_id, values, deps.clock.now(), announce)


def gave_up_message(announcements: int) -> str:
    """What a user reads about a dataset whose ingestion never finished."""
    return (
        f"The file was handed to ingestion {announcements} times and never finished (the "
        "datasets service kept failing or stopping on it); upload it again."
    )


async def give_up(upload: DatasetUploaded, announcements: int, deps: Deps) -> None:
    """Reject a dataset whose ingestion never finished and remove its raw file."""
    message = gave_up_message(announcements)
    await _reject(upload, DatasetRejectReason.INTERNAL, message, deps)
    deps.store.delete(upload.storage_uri)


async def list_datasets(cmd: ListDatasets, deps: Deps) -> DatasetsReply:
    """Return a page of the owner's datasets."""
    page, total = await deps.repo.page(cmd)
    return reply(cmd, ok=True, datasets=fit_page(page, deps.page_bytes), total=total)


async def get_dataset(cmd: GetDataset, deps: Deps) -> DatasetsReply:
    """Return one of the owner's datasets."""
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    if info is None:
        return error_reply(cmd, DatasetsErrorCode.NOT_FOUND, "No such dataset.")
    return reply(cmd, ok=True, dataset=info)


async def preview_dataset(cmd: PreviewDataset, deps: Deps) -> DatasetsReply:
    """Return rows from both ends of a ready dataset, with statistics."""
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    if info is None:
        return error_reply(cmd, DatasetsErrorCode.NOT_FOUND, "No such dataset.")
    if info.status != DatasetStatus.READY or info.storage_uri is None:
        return error_reply(cmd, DatasetsErrorCode.NOT_READY, f"The dataset is {info.status.value}.")
    frame = await asyncio.to_thread(pl.read_parquet, deps.store.path(info.storage_uri))
    return reply(cmd, ok=True, dataset=info, preview=preview(frame, cmd.rows))


async def delete_dataset(cmd: DeleteDataset, deps: Deps) -> DatasetsReply:
    """Delete the owner's dataset, its files, and announce it."""
    event = DatasetDeleted(
        dataset_id=cmd.dataset_id, owner_id=cmd.owner_id, correlation_id=correlation_of(cmd)
    )
    announce = (event, DATASET_DELETED, cmd.dataset_id.bytes)
    deleted = await deps.repo.delete(cmd.owner_id, cmd.dataset_id, announce)
    if deleted is None:
        return error_reply(cmd, DatasetsErrorCode.NOT_FOUND, "No such dataset.")
    if deleted.raw_uri:
        deps.store.delete(deleted.raw_uri)
    if deleted.parquet_unused and deleted.info.storage_uri:
        deps.store.delete(deleted.info.storage_uri)
    return reply(cmd, ok=True, dataset=deleted.info)


async def normalise_quick_upload(cmd: NormaliseQuickUpload, deps: Deps) -> DatasetsReply:
    """Check and normalise an upload as ingestion does, writing the bars to ``cmd.bars_uri``.

    Nothing is recorded: the requester owns the upload and the bars and deletes both. Past the
    deadline the bars are not written, so a requester that gave up finds nothing left behind.
    """
    deadline = time.monotonic() + cmd.deadline_s
    late = error_reply(cmd, DatasetsErrorCode.TIMEOUT, "The file took too long to normalise.")
    try:
        async with asyncio.timeout(cmd.deadline_s):
            await deps.quick_slots.acquire()
    except TimeoutError:
        return late
    try:
        # The slot may have taken a while: no decoding for a requester that stopped waiting.
        check_deadline(cmd, deps.clock)
        upload = deps.store.path(cmd.upload_uri)
        target = deps.store.path(cmd.bars_uri)
        result = await asyncio.to_thread(ingest_file, upload, cmd.declared, deps.limits)
        if time.monotonic() > deadline:
            return late
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(write_parquet, result.frame, target)
    except IngestError as exc:
        return error_reply(cmd, DatasetsErrorCode.REJECTED, exc.message, exc.reason)
    except FileNotFoundError:
        return error_reply(cmd, DatasetsErrorCode.NOT_FOUND, "The uploaded file is gone.")
    finally:
        deps.quick_slots.release()
    bars = QuickBars(
        bars_uri=cmd.bars_uri,
        rows=result.rows,
        start=result.start,
        end=result.end,
        timeframe=result.timeframe,
        columns=result.columns,
        quality_score=result.quality.score,
        warnings=list(result.warnings),
    )
    return reply(cmd, ok=True, quick=bars)
