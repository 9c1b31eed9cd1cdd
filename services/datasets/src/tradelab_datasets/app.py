"""Build the datasets service's app from its settings; nothing is created at import time."""

import asyncio

from fastapi import FastAPI

from tradelab_runtime.consumers import RetryPolicy
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.pages import page_budget
from tradelab_runtime.service_app import Runtime, build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.erasure import DatasetEraser
from .adapters.repository import DatasetRepository
from .adapters.tables import SCHEMA
from .erasure import ErasureDeps, register_erasures
from .handlers import register_handlers
from .service import Deps
from .settings import DatasetsSettings
from .sweeper import RedriveTerms, Sweeper

MIGRATIONS = "tradelab_datasets:migrations"


def build_app(settings: DatasetsSettings) -> FastAPI:
    """Assemble the datasets service: consumers over PostgreSQL and the object store."""
    runtime = create_runtime(settings)
    outbox = runtime.use_outbox(SCHEMA)
    deps = Deps(
        repo=DatasetRepository(runtime.database(), outbox),
        store=LocalObjectStore.from_url(settings.object_store_url),
        clock=runtime.clock,
        quick_slots=asyncio.Semaphore(settings.quick_max_concurrent),
        limits=settings.limits(),
        max_ingest_starts=settings.max_ingest_starts,
        page_bytes=page_budget(settings.kafka_max_message_bytes),
        quotas=settings.quotas(),
        metrics=runtime.metrics,
    )
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts, first_delay_s=settings.retry_first_delay_s
    )
    register_handlers(
        runtime.broker,
        deps,
        DeadLetters(settings.service_name, outbox),
        policy,
        max_message_bytes=settings.kafka_max_message_bytes,
    )
    terms = RedriveTerms(
        redrive_after_s=settings.pending_redrive_s, max_redrives=settings.pending_max_redrives
    )
    sweeper = Sweeper(deps, terms, settings.sweep_interval_s)
    runtime.on_startup.append(sweeper.start)
    runtime.on_shutdown.append(sweeper.stop)
    register_cascades(runtime, settings, deps.store)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))


def register_cascades(
    runtime: Runtime, settings: DatasetsSettings, store: LocalObjectStore
) -> None:
    """Erase a deleted user's datasets and files (``erasure``)."""
    outbox = runtime.outbox or runtime.use_outbox(SCHEMA)
    letters = DeadLetters(settings.service_name, outbox)
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts, first_delay_s=settings.retry_first_delay_s
    )
    deps = ErasureDeps(rows=DatasetEraser(runtime.database()), store=store)
    register_erasures(runtime.broker, deps, letters, policy)
