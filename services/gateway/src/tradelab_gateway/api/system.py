"""``/api/v1/system``: the whole stack's health, from heartbeats."""

from fastapi import APIRouter

from tradelab_gateway.domain.service_registry import Health, ServiceRegistry
from tradelab_runtime.clock import Clock

from .schemas import InstancePublic, ServicePublic, SystemHealthPublic


def system_router(registry: ServiceRegistry, clock: Clock) -> APIRouter:
    """Build the router over the gateway's heartbeat registry."""
    router = APIRouter(prefix="/api/v1/system", tags=["system"])

    @router.get("/health")
    async def system_health() -> SystemHealthPublic:
        """Report every service's status as seen from its heartbeats."""
        now = clock.now()
        services = [
            ServicePublic(
                service=s.service,
                status=s.health.value,
                instances=[
                    InstancePublic(
                        instance_id=i.instance_id,
                        status=i.health.value,
                        last_seen=i.last_seen,
                        version=i.version,
                        checks=i.checks,
                    )
                    for i in s.instances
                ],
            )
            for s in registry.snapshot(now)
        ]
        overall = Health.UP if all(s.status == Health.UP for s in services) else Health.DEGRADED
        return SystemHealthPublic(status=overall.value, checked_at=now, services=services)

    return router
