"""``GET /metrics``: gauges refreshed, then the registry in Prometheus' text format."""

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import Response
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_runtime.lag import consumer_lag
from tradelab_runtime.logging import get_logger

from .instruments import ServiceMetrics

REFRESH_TIMEOUT_S = 2.0
"""A scrape waits this long for a refresh (lag asks the broker); a slower one keeps old values."""
log = get_logger(__name__)


async def refresh(metrics: ServiceMetrics, timeout_s: float = REFRESH_TIMEOUT_S) -> None:
    """Run every scrape-time refresh; one that fails or times out is counted and logged, and its
    gauges keep their last values (the scrape itself still answers)."""
    for update in metrics.refreshes:
        try:
            async with asyncio.timeout(timeout_s):
                await update()
        except Exception as exc:
            metrics.refresh_errors.inc()
            log.warning("metrics refresh failed", refresh=update.__qualname__, error=str(exc))


def lag_refresh(metrics: ServiceMetrics, broker: KafkaBroker) -> None:
    """Keep ``tradelab_kafka_consumer_lag`` current for ``broker``'s group consumers."""

    async def update_lag() -> None:
        lags = await consumer_lag(broker)
        metrics.consumer_lag.clear()  # groups that lost their partitions disappear
        for lag in lags:
            metrics.consumer_lag.labels(group=lag.group, topic=lag.topic).set(lag.lag)

    metrics.refreshes.append(update_lag)


def pool_refresh(metrics: ServiceMetrics, engine: AsyncEngine) -> None:
    """Keep the database pool gauges current for ``engine``."""

    async def update_pool() -> None:
        pool = engine.sync_engine.pool
        metrics.db_pool_checked_out.set(getattr(pool, "checkedout", lambda: 0)())
        metrics.db_pool_size.set(getattr(pool, "size", lambda: 0)())

    metrics.refreshes.append(update_pool)


def metrics_router(metrics: ServiceMetrics, token: str = "") -> APIRouter:
    """``GET /metrics``; with ``token`` set, only for ``Authorization: Bearer <token>``."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def scrape(authorization: Annotated[str, Header()] = "") -> Response:
        if token and not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "metrics need the scrape token")
        await refresh(metrics)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
