"""What this process uses of its host (psutil) and of its database pool, for the heartbeat."""

import os
import time
from collections.abc import Callable

import psutil  # type: ignore[import-untyped]  # no stubs locked (types-psutil is not a dependency)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from tradelab_contracts.system import PoolStats, ProcessStats

Sampler = Callable[[], ProcessStats]
"""Returns the process's figures now."""


def pool_stats(engine: AsyncEngine) -> PoolStats | None:
    """The figures of ``engine``'s queue pool, or None for another kind of pool."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return None
    return PoolStats(
        size=pool.size(),
        checked_out=pool.checkedout(),
        idle=pool.checkedin(),
        overflow=pool.overflow(),
    )


class ProcessSampler:
    """Samples one process; CPU percent is measured between two consecutive samples.

    Parameters
    ----------
    engine
        The process's database engine, whose pool is reported too; None for none.
    pid
        The process to sample; this one when None.
    """

    def __init__(self, engine: AsyncEngine | None = None, pid: int | None = None) -> None:
        self._process = psutil.Process(pid or os.getpid())
        self._engine = engine
        self._process.cpu_percent(interval=None)  # starts the interval the first sample ends

    def _open_files(self) -> int:
        try:
            return len(self._process.open_files())
        except psutil.Error:  # not permitted on this platform: report none rather than fail
            return 0

    def sample(self) -> ProcessStats:
        """Return the process's figures now."""
        process = self._process
        with process.oneshot():
            times = process.cpu_times()
            return ProcessStats(
                pid=process.pid,
                cpu_percent=process.cpu_percent(interval=None),
                cpu_time_s=times.user + times.system,
                rss_bytes=process.memory_info().rss,
                threads=process.num_threads(),
                open_files=self._open_files(),
                uptime_s=max(0.0, time.time() - process.create_time()),
                db_pool=None if self._engine is None else pool_stats(self._engine),
            )
