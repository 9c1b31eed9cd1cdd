"""The lease a running attempt holds: renewed in the background while the job runs."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from uuid import UUID

from tradelab_runtime.clock import Clock
from tradelab_runtime.logging import get_logger

from .store import JobStore

log = get_logger(__name__)


async def _renew_forever(
    store: JobStore, job_id: UUID, attempt: int, clock: Clock, on_lost: Callable[[], None]
) -> None:
    interval = store.terms.lease_s / 3
    while True:
        await asyncio.sleep(interval)
        try:
            held = await store.renew(job_id, attempt, clock.now())
        except Exception as exc:  # the database is away: try again, the lease may still hold
            log.warning("lease renewal failed", job_id=str(job_id), error=str(exc))
            continue
        if not held:
            log.warning("lease lost; stopping the attempt", job_id=str(job_id), attempt=attempt)
            on_lost()
            return


@contextlib.asynccontextmanager
async def holding_lease(
    store: JobStore, job_id: UUID, attempt: int, clock: Clock, on_lost: Callable[[], None]
) -> AsyncIterator[None]:
    """Renew the attempt's lease every third of its length while the block runs; call
    ``on_lost`` (stop the work) if another attempt took the job or it ended elsewhere."""
    task = asyncio.create_task(_renew_forever(store, job_id, attempt, clock, on_lost))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
