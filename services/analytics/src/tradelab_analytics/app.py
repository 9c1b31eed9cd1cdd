"""Build the analytics service's app from its settings; nothing is created at import time."""

from fastapi import FastAPI

from tradelab_runtime.consumers import RetryPolicy
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.service_app import Runtime, build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.erasure import AnalysisEraser
from .adapters.repository import AnalysisRepository
from .adapters.tables import SCHEMA
from .erasure import ErasureDeps, register_erasures
from .handlers import register_handlers
from .service import AnalyticsDeps
from .settings import AnalyticsSettings

MIGRATIONS = "tradelab_analytics:migrations"


def build_app(settings: AnalyticsSettings) -> FastAPI:
    """Assemble the analytics service: a consumer of completed runs over PostgreSQL."""
    runtime = create_runtime(settings)
    outbox = runtime.use_outbox(SCHEMA)
    deps = AnalyticsDeps(
        repo=AnalysisRepository(runtime.database(), outbox),
        store=LocalObjectStore.from_url(settings.object_store_url),
        clock=runtime.clock,
        rolling_window=settings.rolling_window,
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
    register_cascades(runtime, settings, deps.store)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))


def register_cascades(
    runtime: Runtime, settings: AnalyticsSettings, store: LocalObjectStore
) -> None:
    """Erase what analytics keeps of a deleted backtest or user (``erasure``)."""
    outbox = runtime.outbox or runtime.use_outbox(SCHEMA)
    letters = DeadLetters(settings.service_name, outbox)
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts, first_delay_s=settings.retry_first_delay_s
    )
    deps = ErasureDeps(rows=AnalysisEraser(runtime.database()), store=store)
    register_erasures(runtime.broker, deps, letters, policy)
