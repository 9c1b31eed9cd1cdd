"""Which services are up, from the heartbeats seen so far. Pure: no I/O, time passed in."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tradelab_contracts.system import ProcessStats, ServiceHeartbeat, ServiceStatus


class Health(StrEnum):
    """What ``/system/health`` says of a service or an instance."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class InstanceHealth:
    """One process of a service."""

    instance_id: str
    health: Health
    last_seen: datetime
    version: str
    checks: dict[str, bool]
    process: ProcessStats | None = None
    """CPU, memory and pool figures from its latest heartbeat (None from older instances)."""


@dataclass(frozen=True)
class ServiceHealth:
    """A service: up if any instance is up, degraded if only degraded ones answer."""

    service: str
    health: Health
    instances: tuple[InstanceHealth, ...]


@dataclass
class ServiceRegistry:
    """Remembers the latest heartbeat of every instance."""

    timeout: timedelta
    expected: tuple[str, ...] = ()
    _latest: dict[tuple[str, str], tuple[ServiceHeartbeat, datetime]] = field(default_factory=dict)

    def observe(self, beat: ServiceHeartbeat, received_at: datetime) -> None:
        """Record a heartbeat; a ``stopping`` one marks its instance down at once."""
        key = (beat.service, beat.instance_id)
        current = self._latest.get(key)
        if current is not None and current[0].occurred_at > beat.occurred_at:
            return  # a late, older beat must not resurrect a stopped instance
        self._latest[key] = (beat, received_at)

    def _instance(self, beat: ServiceHeartbeat, received_at: datetime, now: datetime) -> Health:
        if beat.status == ServiceStatus.STOPPING or now - received_at > self.timeout:
            return Health.DOWN
        return Health.UP if beat.status == ServiceStatus.UP else Health.DEGRADED

    def snapshot(self, now: datetime) -> list[ServiceHealth]:
        """Return every known or expected service, sorted by name."""
        by_service: dict[str, list[InstanceHealth]] = {name: [] for name in self.expected}
        for (service, instance_id), (beat, received_at) in self._latest.items():
            by_service.setdefault(service, []).append(
                InstanceHealth(
                    instance_id=instance_id,
                    health=self._instance(beat, received_at, now),
                    last_seen=received_at,
                    version=beat.version,
                    checks=dict(beat.checks),
                    process=beat.process,
                )
            )
        return [
            ServiceHealth(name, _overall(instances), tuple(sorted(instances, key=_by_id)))
            for name, instances in sorted(by_service.items())
        ]

    def forget_older_than(self, cutoff: datetime) -> None:
        """Drop instances not heard of since ``cutoff`` (replicas that were scaled away)."""
        self._latest = {k: v for k, v in self._latest.items() if v[1] >= cutoff}


def _by_id(instance: InstanceHealth) -> str:
    return instance.instance_id


def _overall(instances: list[InstanceHealth]) -> Health:
    healths = {i.health for i in instances}
    if Health.UP in healths:
        return Health.UP
    if Health.DEGRADED in healths:
        return Health.DEGRADED
    return Health.DOWN
