"""Build the gateway's app from its settings; nothing is created at import time."""

from datetime import timedelta

from fastapi import FastAPI

from tradelab_runtime.service_app import build_service_app, create_runtime

from .api.system import system_router
from .domain.service_registry import ServiceRegistry
from .handlers import register_heartbeat_subscriber
from .settings import GatewaySettings


def build_app(settings: GatewaySettings) -> FastAPI:
    """Assemble the gateway: REST routers over a broker; it owns no tables."""
    runtime = create_runtime(settings, with_database=False)
    registry = ServiceRegistry(
        timeout=timedelta(seconds=settings.heartbeat_timeout_s),
        expected=settings.expected_services,
    )
    register_heartbeat_subscriber(runtime.broker, registry, runtime.clock, settings.instance_id)
    return build_service_app(
        runtime, migrations=None, routers=[system_router(registry, runtime.clock)]
    )
