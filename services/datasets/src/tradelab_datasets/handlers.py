"""Kafka subscribers of the datasets service: thin, they hand messages to ``service``."""

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from tradelab_contracts.datasets import DatasetUploaded
from tradelab_contracts.datasets_rpc import (
    DATASETS_REQUEST_ADAPTER,
    DatasetsErrorCode,
    DatasetsReply,
    DeleteDataset,
    GetDataset,
    ListDatasets,
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


async def _answer(body: bytes, deps: Deps) -> tuple[DatasetsReply, str] | None:
    try:
        cmd = DATASETS_REQUEST_ADAPTER.validate_json(body)
    except ValidationError as exc:
        log.warning("dropping an unreadable datasets request", errors=exc.error_count())
        return None
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
    except Exception:
        log.exception("datasets request failed", kind=cmd.kind)
        reply = service.error_reply(cmd, DatasetsErrorCode.INTERNAL, "Internal error.")
    return reply, cmd.reply_to


def register_handlers(broker: KafkaBroker, deps: Deps) -> None:
    """Subscribe the service's consumers (one group shared by all replicas)."""

    @broker.subscriber(
        DATASETS_REQUESTS,
        group_id=GROUP,
        ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_request(message: KafkaMessage) -> None:
        answered = await _answer(message.body, deps)
        if answered is not None:
            reply, reply_to = answered
            await broker.publish(reply, reply_to, key=reply.request_id.bytes)

    # Commit after handling: a replica that dies mid-ingestion leaves the event to another one.
    # "earliest": a partition with no committed offset yet is read from its start, so an upload
    # announced before the group first joined, or redelivered after a crash, is never skipped.
    @broker.subscriber(
        DATASET_UPLOADED, group_id=GROUP, ack_policy=AckPolicy.ACK, auto_offset_reset="earliest"
    )
    async def on_uploaded(event: DatasetUploaded) -> None:
        await service.ingest(event, deps)
