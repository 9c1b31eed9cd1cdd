"""The pending sweeper: no dataset stays pending forever.

Every ``interval_s`` one replica (an advisory lock) looks at the datasets pending since their
upload was last announced more than ``redrive_after_s`` ago:

- announced again fewer than ``max_redrives`` times: its upload is announced again through the
  outbox (a broker restarted empty lost the message, or ingestion was parked as a dead letter;
  a duplicate is harmless, ingestion only acts on a still-pending dataset);
- otherwise: rejected with a reason the user can read, its event stored with the rejection, and
  its raw file removed.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradelab_runtime.logging import get_logger

from .adapters.repository import StalePending
from .service import Deps, announce_upload, give_up

log = get_logger(__name__)


@dataclass(frozen=True)
class RedriveTerms:
    """How patient the sweeper is with a pending dataset."""

    redrive_after_s: float = 60.0
    """A dataset pending this long since its upload was announced gets it announced again."""
    max_redrives: int = 3
    """Announcements again before the dataset is rejected."""


async def sweep_once(deps: Deps, terms: RedriveTerms, now: datetime) -> StalePending | None:
    """Announce again or reject the datasets pending too long; None when another replica is
    sweeping."""
    before = now - timedelta(seconds=terms.redrive_after_s)
    swept = await deps.repo.redrive_stale(before, now, terms.max_redrives, announce_upload)
    if swept is None:
        return None
    for upload in swept.exhausted:
        log.warning("giving up a pending dataset", dataset_id=str(upload.dataset_id))
        await give_up(upload, terms.max_redrives + 1, deps)
    if swept.redriven:
        log.warning("pending datasets announced again", count=swept.redriven)
    return swept


class Sweeper:
    """Sweep pending datasets periodically in the background."""

    def __init__(self, deps: Deps, terms: RedriveTerms, interval_s: float) -> None:
        self._deps = deps
        self._terms = terms
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                await sweep_once(self._deps, self._terms, self._deps.clock.now())
            except Exception as exc:
                log.warning("pending sweep failed", error=str(exc))
            await asyncio.sleep(self._interval_s)

    async def start(self) -> None:
        """Start sweeping."""
        self._task = asyncio.create_task(self._run(), name="pending-datasets-sweeper")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
