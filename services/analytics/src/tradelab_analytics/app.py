"""Build the analytics service's app from its settings; nothing is created at import time."""

from fastapi import FastAPI

from tradelab_contracts.base import Message
from tradelab_runtime.service_app import build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.repository import AnalysisRepository
from .adapters.tables import SCHEMA
from .handlers import register_handlers
from .service import AnalyticsDeps
from .settings import AnalyticsSettings

MIGRATIONS = "tradelab_analytics:migrations"


def build_app(settings: AnalyticsSettings) -> FastAPI:
    """Assemble the analytics service: a consumer of completed runs over PostgreSQL."""
    runtime = create_runtime(settings)
    broker = runtime.broker

    async def publish(message: Message, topic: str, key: bytes) -> None:
        await broker.publish(message, topic, key=key)

    deps = AnalyticsDeps(
        repo=AnalysisRepository(runtime.database()),
        store=LocalObjectStore.from_url(settings.object_store_url),
        publish=publish,
        clock=runtime.clock,
        rolling_window=settings.rolling_window,
    )
    register_handlers(broker, deps)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
