"""Kafka subscribers of the datasets service: thin, they hand messages to ``service``."""

from functools import partial

from faststream.kafka import KafkaBroker

from tradelab_contracts.datasets import DatasetUploaded
from tradelab_contracts.datasets_rpc import (
    DATASETS_REQUEST_ADAPTER,
    CheckUpload,
    DatasetsErrorCode,
    DatasetsReply,
    DatasetsRequest,
    DeleteDataset,
    GetDataset,
    GetDatasetsUsage,
    ListDatasets,
    NormaliseQuickUpload,
    PreviewDataset,
    RegisterUpload,
)
from tradelab_contracts.topics import DATASET_UPLOADED, DATASETS_REQUESTS
from tradelab_runtime.broker import JOB_FETCH_MAX_WAIT_MS
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.responder import DEFAULT_MAX_MESSAGE_BYTES, Routes, serve_requests

from . import service, usage
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
            CheckUpload: partial(usage.check_upload, deps=deps),
            GetDatasetsUsage: partial(usage.get_usage, deps=deps),
        },
        internal_error=partial(
            service.error_reply, code=DatasetsErrorCode.INTERNAL, message="Internal error."
        ),
        too_large=partial(service.error_reply, code=DatasetsErrorCode.REPLY_TOO_LARGE),
        # Normalising a large file takes seconds: off the consumer, so the requests behind it
        # are answered meanwhile (``deps.quick_slots`` bounds how many at once). Its requester
        # waits synchronously and, should this replica die, times out; there is nothing to
        # redeliver it for.
        background=frozenset({NormaliseQuickUpload}),
    )


def register_handlers(
    broker: KafkaBroker,
    deps: Deps,
    letters: DeadLetters,
    policy: RetryPolicy,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> None:
    """Subscribe the service's consumers (one group shared by all replicas)."""
    serve_requests(
        broker,
        request_routes(deps),
        topic=DATASETS_REQUESTS,
        group_id=GROUP,
        max_message_bytes=max_message_bytes,
        clock=deps.clock,
    )

    # Committed after the ingestion ends, under the failure policy: a replica that dies mid-way
    # leaves the upload to another one; one that keeps failing (the store or the database is
    # away) is retried, then parked as a dead letter, and the pending sweeper announces the
    # upload again later.
    work_subscriber(
        broker,
        DATASET_UPLOADED,
        group_id=GROUP,
        model=DatasetUploaded,
        handle=partial(service.ingest, deps=deps),
        dead_letters=letters,
        policy=policy,
        fetch_max_wait_ms=JOB_FETCH_MAX_WAIT_MS,
    )
