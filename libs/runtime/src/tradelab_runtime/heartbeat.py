"""Periodic heartbeat events: the gateway builds ``/system/health`` from them."""

import asyncio
import contextlib
from datetime import datetime

from faststream.kafka import KafkaBroker

from tradelab_contracts.system import ServiceHeartbeat, ServiceStatus
from tradelab_contracts.topics import SYSTEM_HEARTBEAT

from .clock import Clock
from .health import Readiness
from .logging import get_logger
from .process_stats import Sampler

log = get_logger(__name__)
STOPPING_BEAT_TIMEOUT_S = 2.0


def status_from_checks(checks: dict[str, bool]) -> ServiceStatus:
    """A process that publishes is alive; it is ``up`` only when every check passes."""
    return ServiceStatus.UP if all(checks.values()) else ServiceStatus.DEGRADED


class HeartbeatPublisher:
    """Publish a :class:`ServiceHeartbeat` every ``interval_s``, and ``stopping`` at the end.

    With ``sample`` each beat carries the process's CPU, memory and database pool figures.
    """

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        service: str,
        instance_id: str,
        version: str,
        interval_s: float,
        readiness: Readiness,
        clock: Clock,
        sample: Sampler | None = None,
    ) -> None:
        self._broker = broker
        self._service = service
        self._instance_id = instance_id
        self._version = version
        self._interval_s = interval_s
        self._readiness = readiness
        self._clock = clock
        self._sample = sample
        self._started_at: datetime = clock.now()
        self._task: asyncio.Task[None] | None = None

    def build(self, status: ServiceStatus, checks: dict[str, bool]) -> ServiceHeartbeat:
        """Build one heartbeat message."""
        now = self._clock.now()
        return ServiceHeartbeat(
            service=self._service,
            instance_id=self._instance_id,
            status=status,
            version=self._version,
            started_at=self._started_at,
            interval_s=self._interval_s,
            checks=checks,
            process=None if self._sample is None else self._sample(),
            occurred_at=now,
            created_at=now,
        )

    async def _publish(self, beat: ServiceHeartbeat) -> None:
        await self._broker.publish(beat, SYSTEM_HEARTBEAT, key=self._service.encode())

    async def _loop(self) -> None:
        while True:
            checks = await self._readiness.run()
            try:
                await self._publish(self.build(status_from_checks(checks), checks))
            except Exception as exc:
                log.warning("heartbeat publish failed", error=str(exc))
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        """Start beating in the background."""
        self._started_at = self._clock.now()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self._service}")

    async def stop(self) -> None:
        """Stop beating and announce the shutdown so the gateway marks us down at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Bounded: with the broker gone the goodbye would otherwise block shutdown forever.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOPPING_BEAT_TIMEOUT_S):
                await self._publish(self.build(ServiceStatus.STOPPING, {}))
