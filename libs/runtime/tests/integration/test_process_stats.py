"""Process figures of the heartbeat against their independent sources: the kernel's /proc and
the database pool a test holds connections of."""

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_runtime.database import make_engine
from tradelab_runtime.process_stats import ProcessSampler

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = make_engine(database_url, "tradelab-test")
    yield db
    await db.dispose()


def _proc_status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


async def test_figures_match_the_kernels_and_the_pool_counts_held_connections(
    engine: AsyncEngine,
) -> None:
    sampler = ProcessSampler(engine)
    async with engine.connect() as held:
        await held.execute(text("SELECT 1"))
        during = sampler.sample()
    after = sampler.sample()

    assert during.pid == os.getpid()
    assert during.threads == _proc_status("Threads")
    # Resident memory moves between two reads; both come from the same kernel counter.
    assert abs(during.rss_bytes - _proc_status("VmRSS") * 1024) < 64 * PAGE_BYTES
    assert during.uptime_s > 0
    assert during.cpu_time_s <= after.cpu_time_s
    assert during.db_pool is not None
    assert after.db_pool is not None
    assert (during.db_pool.size, during.db_pool.checked_out, during.db_pool.idle) == (5, 1, 0)
    assert (after.db_pool.checked_out, after.db_pool.idle) == (0, 1)


async def test_a_process_without_a_database_reports_no_pool() -> None:
    assert ProcessSampler().sample().db_pool is None
