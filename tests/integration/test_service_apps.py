"""Each service's app, in-process, against a real PostgreSQL and a real Kafka-protocol broker."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

import tradelab_analytics.app
import tradelab_auth.app
import tradelab_datasets.app
import tradelab_engine.app
from tradelab_analytics.settings import AnalyticsSettings
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.system import ServiceHeartbeat, ServiceStatus
from tradelab_contracts.topics import SYSTEM_HEARTBEAT
from tradelab_datasets.settings import DatasetsSettings
from tradelab_devstack.kafka import KafkaBroker
from tradelab_engine.settings import EngineSettings
from tradelab_runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration

BACKENDS: dict[str, tuple[type[ServiceSettings], Callable[[Any], FastAPI]]] = {
    "auth": (AuthSettings, tradelab_auth.app.build_app),
    "datasets": (DatasetsSettings, tradelab_datasets.app.build_app),
    "engine": (EngineSettings, tradelab_engine.app.build_app),
    "analytics": (AnalyticsSettings, tradelab_analytics.app.build_app),
}


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get(path)


async def _tables(database_url: str, schema: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            )
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


@pytest.mark.asyncio
@pytest.mark.parametrize("service", sorted(BACKENDS))
async def test_service_migrates_its_own_schema_and_reports_ready(
    service: str, database_url: str, kafka: KafkaBroker
) -> None:
    settings_cls, build_app = BACKENDS[service]
    settings = settings_cls(database_url=database_url, kafka_bootstrap=kafka.bootstrap)
    app = build_app(settings)
    assert (await _get(app, "/readyz")).status_code == 503  # nothing opened before the lifespan
    async with app.router.lifespan_context(app):
        ready = await _get(app, "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"started": True, "broker": True, "database": True}
    assert {"alembic_version", "processed_messages"} <= await _tables(database_url, service)

    # A restart finds its migrations applied and starts again.
    async with app.router.lifespan_context(build_app(settings)):
        pass


@pytest.mark.asyncio
async def test_replicas_starting_together_migrate_once(
    database_url: str, kafka: KafkaBroker
) -> None:
    apps = [
        tradelab_engine.app.build_app(
            EngineSettings(database_url=database_url, kafka_bootstrap=kafka.bootstrap)
        )
        for _ in range(3)
    ]
    contexts = [app.router.lifespan_context(app) for app in apps]
    await asyncio.gather(*(c.__aenter__() for c in contexts))
    try:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            versions = (await conn.execute(sa.text("SELECT * FROM engine.alembic_version"))).all()
        await engine.dispose()
        config = Config()
        config.set_main_option("script_location", "tradelab_engine:migrations")
        head = ScriptDirectory.from_config(config).get_current_head()
        assert versions == [(head,)]
    finally:
        await asyncio.gather(*(c.__aexit__(None, None, None) for c in contexts))


@pytest.mark.asyncio
async def test_service_publishes_heartbeats_and_a_stopping_beat_on_shutdown(
    database_url: str, kafka: KafkaBroker
) -> None:
    settings = AuthSettings(
        database_url=database_url, kafka_bootstrap=kafka.bootstrap, heartbeat_interval_s=0.2
    )
    consumer = AIOKafkaConsumer(
        SYSTEM_HEARTBEAT, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        app = tradelab_auth.app.build_app(settings)
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.5)
        statuses: list[ServiceStatus] = []
        async with asyncio.timeout(20):
            while ServiceStatus.STOPPING not in statuses:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        msg = ServiceHeartbeat.model_validate(json.loads(record.value))
                        if msg.instance_id == settings.instance_id:
                            statuses.append(msg.status)
    finally:
        await consumer.stop()
    assert ServiceStatus.UP in statuses
    assert statuses[-1] is ServiceStatus.STOPPING
