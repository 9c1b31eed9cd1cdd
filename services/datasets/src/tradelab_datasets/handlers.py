"""Kafka subscribers of the datasets service: thin, they hand messages to ``service``."""

import asyncio
from collections.abc import Coroutine
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from tradelab_contracts.datasets import DatasetUploaded
from tradelab_contracts.datasets_rpc import (
    DATASETS_REQUEST_ADAPTER,
    DatasetsErrorCode,
    DatasetsReply,
    DatasetsRequest,
    DeleteDataset,
    GetDataset,
    ListDatasets,
    NormaliseQuickUpload,
    PreviewDataset,
    RegisterUpload,
)
from tradelab_contracts.topics import DATASET_UPLOADED, DATASETS_REQUESTS
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.logging import get_logger

from . import service
from .service import Deps

log = get_logger(__name__)
GROUP = "datasets"


def _parse(body: bytes) -> DatasetsRequest | None:
    try:
        return DATASETS_REQUEST_ADAPTER.validate_json(body)
    except ValidationError as exc:
        log.warning("dropping an unreadable datasets request", errors=exc.error_count())
        return None


async def _answer(cmd: DatasetsRequest, deps: Deps) -> DatasetsReply:
    try:
        match cmd:
            case RegisterUpload():
                reply = await service.register_upload(cmd, deps)
            case ListDatasets():
                reply = await service.list_datasets(cmd, deps)
            case GetDataset():
                reply = await service.get_dataset(cmd, deps)
            case PreviewDataset():
                reply = await service.preview_dataset(cmd, deps)
            case DeleteDataset():
                reply = await service.delete_dataset(cmd, deps)
            case NormaliseQuickUpload():
                reply = await service.normalise_quick_upload(cmd, deps)
    except Exception:
        log.exception("datasets request failed", kind=cmd.kind)
        reply = service.error_reply(cmd, DatasetsErrorCode.INTERNAL, "Internal error.")
    return reply


def register_handlers(broker: KafkaBroker, deps: Deps) -> None:
    """Subscribe the service's consumers (one group shared by all replicas)."""
    in_flight: set[asyncio.Task[None]] = set()

    def in_background(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        in_flight.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(in_flight.discard)

    async def respond(cmd: DatasetsRequest) -> None:
        reply = await _answer(cmd, deps)
        await broker.publish(reply, cmd.reply_to, key=reply.request_id.bytes)

    @broker.subscriber(
        DATASETS_REQUESTS,
        group_id=GROUP,
        ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_request(message: KafkaMessage) -> None:
        cmd = _parse(message.body)
        if cmd is None:
            return
        if isinstance(cmd, NormaliseQuickUpload):
            # Normalising a large file takes seconds: off the consumer, so the requests behind
            # it are answered meanwhile. Its requester waits synchronously and, should this
            # replica die, times out; there is nothing to redeliver it for.
            in_background(respond(cmd))
        else:
            await respond(cmd)

    # Commit after handling: a replica that dies mid-ingestion leaves the event to another one.
    # "earliest": a partition with no committed offset yet is read from its start, so an upload
    # announced before the group first joined, or redelivered after a crash, is never skipped.
    @broker.subscriber(
        DATASET_UPLOADED, group_id=GROUP, ack_policy=AckPolicy.ACK, auto_offset_reset="earliest"
    )
    async def on_uploaded(event: DatasetUploaded) -> None:
        await service.ingest(event, deps)
