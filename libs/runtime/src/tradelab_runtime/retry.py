"""Wait for a dependency that may start later than we do."""

import asyncio
from collections.abc import Awaitable, Callable

from .logging import get_logger

log = get_logger(__name__)


async def retry_until(
    what: str, action: Callable[[], Awaitable[None]], deadline_s: float, max_delay_s: float = 3.0
) -> None:
    """Retry ``action`` with exponential back-off until it succeeds or ``deadline_s`` passes.

    The last error is raised when the deadline is reached.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    delay = 0.2
    while True:
        try:
            await action()
        except Exception as exc:
            if loop.time() + delay > end:
                raise
            log.warning("waiting for dependency", dependency=what, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
        else:
            return
