"""Build the datasets service's app from its settings; nothing is created at import time."""

import asyncio

from fastapi import FastAPI

from tradelab_contracts.base import Message
from tradelab_runtime.service_app import build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.repository import DatasetRepository
from .adapters.tables import SCHEMA
from .handlers import register_handlers
from .service import Deps
from .settings import DatasetsSettings

MIGRATIONS = "tradelab_datasets:migrations"


def build_app(settings: DatasetsSettings) -> FastAPI:
    """Assemble the datasets service: consumers over PostgreSQL and the object store."""
    runtime = create_runtime(settings)
    broker = runtime.broker

    async def publish(message: Message, topic: str, key: bytes) -> None:
        await broker.publish(message, topic, key=key)

    deps = Deps(
        repo=DatasetRepository(runtime.database()),
        store=LocalObjectStore.from_url(settings.object_store_url),
        publish=publish,
        clock=runtime.clock,
        quick_slots=asyncio.Semaphore(settings.quick_max_concurrent),
    )
    register_handlers(broker, deps)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
