"""Kafka subscribers of the datasets service: thin, they hand messages to ``service``."""

from functools import partial

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

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
from tradelab_runtime.responder import Routes, serve_requests

from . import service
from .service import Deps

GROUP = "datasets"


def request_routes(deps: Deps) -> Routes[DatasetsRequest, DatasetsReply]:
    """Return what the datasets service answers: each request class and its use case."""
    return Routes(
        adapter=DATASETS_REQUEST_ADAPTER,
        handlers={
            RegisterUpload: partial(service.register_upload, deps=deps),
            ListDatasets: partial(service.list_datasets, deps=deps),
            GetDataset: partial(service.get_dataset, deps=deps),
            PreviewDataset: partial(service.preview_dataset, deps=deps),
            DeleteDataset: partial(service.delete_dataset, deps=deps),
            NormaliseQuickUpload: partial(service.normalise_quick_upload, deps=deps),
        },
        internal_error=partial(
            service.error_reply, code=DatasetsErrorCode.INTERNAL, message="Internal error."
        ),
        # Normalising a large file takes seconds: off the consumer, so the requests behind it
        # are answered meanwhile (``deps.quick_slots`` bounds how many at once). Its requester
        # waits synchronously and, should this replica die, times out; there is nothing to
        # redeliver it for.
        background=frozenset({NormaliseQuickUpload}),
    )


def register_handlers(broker: KafkaBroker, deps: Deps) -> None:
    """Subscribe the service's consumers (one group shared by all replicas)."""
    serve_requests(broker, request_routes(deps), topic=DATASETS_REQUESTS, group_id=GROUP)

    # Commit after handling: a replica that dies mid-ingestion leaves the event to another one.
    # "earliest": a partition with no committed offset yet is read from its start, so an upload
    # announced before the group first joined, or redelivered after a crash, is never skipped.
    @broker.subscriber(
        DATASET_UPLOADED, group_id=GROUP, ack_policy=AckPolicy.ACK, auto_offset_reset="earliest"
    )
    async def on_uploaded(event: DatasetUploaded) -> None:
        await service.ingest(event, deps)
