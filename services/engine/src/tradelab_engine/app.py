"""Build the engine's app from its settings; nothing is created at import time."""

import asyncio
from importlib.metadata import version

from fastapi import FastAPI

from tradelab_contracts.base import Message
from tradelab_runtime.logging import get_logger
from tradelab_runtime.service_app import build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.repository import RunRepository
from .adapters.tables import SCHEMA
from .domain.simulate import compile_kernels
from .handlers import register_handlers
from .service import EngineDeps
from .settings import EngineSettings

MIGRATIONS = "tradelab_engine:migrations"
log = get_logger(__name__)


def build_app(settings: EngineSettings) -> FastAPI:
    """Assemble the engine: job consumers over PostgreSQL and the object store."""
    runtime = create_runtime(settings)
    broker = runtime.broker

    async def publish(message: Message, topic: str, key: bytes) -> None:
        await broker.publish(message, topic, key=key)

    deps = EngineDeps(
        repo=RunRepository(runtime.database()),
        store=LocalObjectStore.from_url(settings.object_store_url),
        publish=publish,
        clock=runtime.clock,
        worker=settings.instance_id,
        engine_version=version("tradelab-engine"),
        chunk_bars=settings.chunk_bars,
        chunk_pause_s=settings.chunk_pause_s,
        quick_slots=asyncio.Semaphore(settings.quick_max_concurrent),
    )
    register_handlers(broker, deps, settings.instance_id)

    async def compile_before_ready() -> None:
        # Compile (or load from cache) every kernel before /readyz says yes, so the first
        # request is fast.
        seconds = await asyncio.to_thread(compile_kernels)
        log.info("kernels compiled", seconds=round(seconds, 2))

    runtime.on_startup.append(compile_before_ready)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
