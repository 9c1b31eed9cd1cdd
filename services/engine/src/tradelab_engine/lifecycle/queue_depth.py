"""Job queue depth per kind and state, read from the job tables when metrics are scraped."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_runtime.metrics import ServiceMetrics

from .store import ACTIVE, JobStore


async def active_counts(
    database: AsyncEngine, stores: Sequence[JobStore]
) -> dict[str, dict[str, int]]:
    """Jobs queued and running per kind (``entity``): every active state is present, 0 if none."""
    counts = {store.kind.entity: dict.fromkeys(ACTIVE, 0) for store in stores}
    async with database.connect() as conn:
        for store in stores:
            t = store.table
            rows = await conn.execute(
                sa.select(t.c.status, sa.func.count())
                .where(t.c.status.in_(ACTIVE))
                .group_by(t.c.status)
            )
            for state, count in rows.all():
                counts[store.kind.entity][state] = count
    return counts


def queue_depth_refresh(
    metrics: ServiceMetrics, database: AsyncEngine, stores: Sequence[JobStore]
) -> None:
    """Keep ``tradelab_job_queue_depth`` current at every scrape."""

    async def update_queue_depth() -> None:
        for kind, states in (await active_counts(database, stores)).items():
            for state, count in states.items():
                metrics.job_queue_depth.labels(kind=kind, state=state).set(count)

    metrics.refreshes.append(update_queue_depth)
