"""Build the analytics service's app from its settings; nothing is created at import time."""

from fastapi import FastAPI

from tradelab_runtime.service_app import build_service_app, create_runtime

from .adapters.tables import SCHEMA
from .settings import AnalyticsSettings

MIGRATIONS = "tradelab_analytics:migrations"


def build_app(settings: AnalyticsSettings) -> FastAPI:
    """Assemble the analytics service: broker, database, migrations, health and heartbeat."""
    runtime = create_runtime(settings)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
