"""The skeleton every service's ``build_app`` fills in: resources opened in the lifespan, never at
import time, plus health endpoints and a heartbeat."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.topics import ALL_TOPICS, TopicSpec

from .broker import make_broker
from .clock import Clock, SystemClock
from .database import make_engine, ping_database
from .health import Readiness, health_router
from .heartbeat import HeartbeatPublisher
from .kafka_admin import ensure_topics
from .kafka_security import broker_security, client_options
from .logging import configure_logging, get_logger
from .metrics import (
    HttpMetricsMiddleware,
    ServiceMetrics,
    lag_refresh,
    metrics_router,
    pool_refresh,
)
from .migrations import upgrade_to_head
from .outbox import JSON_HEADERS, Outbox, PendingEvent
from .process_stats import ProcessSampler
from .retry import retry_until
from .settings import ServiceSettings
from .telemetry import configure_tracing, instrument_http

Hook = Callable[[], Awaitable[None]]
log = get_logger(__name__)


@dataclass
class Runtime:
    """The resources of one service process, handed to its handlers and hooks."""

    settings: ServiceSettings
    broker: KafkaBroker
    engine: AsyncEngine | None
    readiness: Readiness
    tracer_provider: TracerProvider
    clock: Clock
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    after_stop: list[Hook] = field(default_factory=list)
    """Clean-up once the broker client has stopped (e.g. deleting this process's own topics,
    which live consumers would otherwise keep committing offsets to)."""
    own_topics: list[TopicSpec] = field(default_factory=list)
    """Topics only this process uses (e.g. a per-instance reply topic): always created at start,
    whatever ``create_topics`` says, since no operator can know their names in advance."""
    outbox: Outbox | None = None
    """The service's transactional outbox, relayed while the service runs (``use_outbox``)."""
    kafka_options: dict[str, Any] = field(default_factory=dict)
    """aiokafka arguments of this process's Kafka login (SASL), for admin clients."""
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    """This process's Prometheus registry and instruments, served at ``/metrics``."""

    def database(self) -> AsyncEngine:
        """The database engine (for services created with a database)."""
        if self.engine is None:
            msg = "this runtime was created without a database"
            raise RuntimeError(msg)
        return self.engine

    def use_outbox(self, schema: str) -> Outbox:
        """Create the outbox of ``schema`` (its table comes from the service's migrations); it
        relays from start-up, after the broker client started, until shutdown."""
        broker = self.broker

        async def publish(event: PendingEvent) -> None:
            await broker.publish(
                event.payload,
                event.topic,
                key=event.key,
                partition=event.partition,
                headers=JSON_HEADERS,
            )

        self.outbox = Outbox(self.database(), schema, publish)
        return self.outbox


def create_runtime(
    settings: ServiceSettings, *, with_database: bool = True, clock: Clock | None = None
) -> Runtime:
    """Build (but do not open) the broker, the database engine and the readiness checks."""
    tracer_provider = configure_tracing(
        settings.service_name,
        settings.instance_id,
        settings.otel_traces_exporter,
        settings.otel_exporter_otlp_endpoint,
    )
    security = broker_security(settings)
    metrics = ServiceMetrics()
    broker = make_broker(
        settings.kafka_bootstrap,
        f"{settings.service_name}-{settings.instance_id}",
        tracer_provider,
        security,
        metrics.registry,
    )
    lag_refresh(metrics, broker)
    readiness = Readiness({}, settings.readiness_timeout_s)

    async def broker_ok() -> bool:
        return await broker.ping(timeout=settings.readiness_timeout_s)

    readiness.add("broker", broker_ok)
    engine = None
    if with_database:
        engine = make_engine(settings.database_url, f"tradelab-{settings.service_name}")
        db = engine

        async def database_ok() -> bool:
            return await ping_database(db)

        readiness.add("database", database_ok)
        pool_refresh(metrics, engine)
    runtime = Runtime(settings, broker, engine, readiness, tracer_provider, clock or SystemClock())
    runtime.metrics = metrics
    runtime.kafka_options = client_options(security)
    return runtime


BROKER_STOP_TIMEOUT_S = 5.0


async def _stop_broker(broker: KafkaBroker) -> None:
    """Stop the broker client, giving up after a while if the broker no longer answers."""
    try:
        async with asyncio.timeout(BROKER_STOP_TIMEOUT_S):
            await broker.stop()
    except TimeoutError:
        log.warning("broker did not stop in time; exiting anyway", timeout_s=BROKER_STOP_TIMEOUT_S)


async def _prepare_storage(
    runtime: Runtime, migrations: tuple[str, str] | None, timeout_s: float
) -> None:
    """Migrate the service's schema and create its topics, waiting for late dependencies."""
    settings = runtime.settings
    if migrations is not None:
        engine, (location, schema) = runtime.database(), migrations

        async def migrate() -> None:
            await upgrade_to_head(engine, location, schema)

        await retry_until("database", migrate, timeout_s)

    wanted = [*(ALL_TOPICS if settings.create_topics else ()), *runtime.own_topics]

    async def topics() -> None:
        await ensure_topics(
            settings.kafka_bootstrap, wanted, settings.topic_replication, runtime.kafka_options
        )

    if wanted:
        await retry_until("broker", topics, timeout_s)


async def _keep_own_topics(runtime: Runtime) -> None:
    """Create this process's own topics again whenever they are missing.

    A broker restarted empty (the development broker is memory-only) loses them, and only this
    process knows their names; without this, the first publish to one has the broker
    auto-create it with the wrong partition count while this process's consumer waits on a
    topic that no longer exists.
    """
    settings = runtime.settings
    while True:
        await asyncio.sleep(settings.heartbeat_interval_s)
        try:
            await ensure_topics(
                settings.kafka_bootstrap,
                runtime.own_topics,
                settings.topic_replication,
                runtime.kafka_options,
            )
        except Exception as exc:  # the broker is away: try again at the next beat
            log.debug("own topics not checked", error=str(exc))


async def _shut_down(runtime: Runtime) -> None:
    """Undo the start-up in reverse, each wait bounded; the last spans are exported whatever
    failed before."""
    try:
        await _release(runtime)
    finally:
        # Flushes the last batch of spans (blocking: up to the exporter's timeout).
        await asyncio.to_thread(runtime.tracer_provider.shutdown)


async def _release(runtime: Runtime) -> None:
    for hook in reversed(runtime.on_shutdown):
        await hook()
    if runtime.outbox is not None:
        await runtime.outbox.stop()
    await _stop_broker(runtime.broker)
    for hook in runtime.after_stop:
        await hook()
    if runtime.engine is not None:
        await runtime.engine.dispose()


def build_service_app(
    runtime: Runtime,
    *,
    migrations: tuple[str, str] | None,
    routers: Sequence[APIRouter] = (),
    startup_timeout_s: float = 60.0,
) -> FastAPI:
    """Assemble the FastAPI app of one service.

    Parameters
    ----------
    runtime
        Resources from :func:`create_runtime`; subscribers are already registered on its broker.
    migrations
        ``(script_location, schema)`` applied at start, or None for a service without tables.
    routers
        The service's HTTP routers (health endpoints are added here).
    startup_timeout_s
        How long to wait for the database and broker to answer before giving up.
    """
    settings = runtime.settings
    heartbeat = HeartbeatPublisher(
        runtime.broker,
        service=settings.service_name,
        instance_id=settings.instance_id,
        version=settings.version,
        interval_s=settings.heartbeat_interval_s,
        readiness=runtime.readiness,
        clock=runtime.clock,
        sample=ProcessSampler(runtime.engine).sample,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_format, settings.log_level)
        await _prepare_storage(runtime, migrations, startup_timeout_s)
        await runtime.broker.start()
        if runtime.outbox is not None:
            runtime.outbox.start()
        for hook in runtime.on_startup:
            await hook()
        heartbeat.start()
        keeper = asyncio.create_task(_keep_own_topics(runtime)) if runtime.own_topics else None
        runtime.readiness.started = True
        log.info("service ready", instance_id=settings.instance_id, port=settings.port)
        try:
            yield
        finally:
            runtime.readiness.started = False
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            await heartbeat.stop()
            await _shut_down(runtime)

    app = FastAPI(title=f"tradelab {settings.service_name}", lifespan=lifespan)
    identity = {"service": settings.service_name, "instance_id": settings.instance_id}
    app.include_router(health_router(identity, runtime.readiness))
    app.include_router(metrics_router(runtime.metrics, settings.metrics_token.get_secret_value()))
    app.add_middleware(HttpMetricsMiddleware, metrics=runtime.metrics)
    for router in routers:
        app.include_router(router)
    instrument_http(app, runtime.tracer_provider)
    return app
