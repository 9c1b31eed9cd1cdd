"""Build the engine service's app from its settings; nothing is created at import time."""

from fastapi import FastAPI

from tradelab_runtime.service_app import build_service_app, create_runtime

from .adapters.tables import SCHEMA
from .settings import EngineSettings

MIGRATIONS = "tradelab_engine:migrations"


def build_app(settings: EngineSettings) -> FastAPI:
    """Assemble the engine service: broker, database, migrations, health and heartbeat."""
    runtime = create_runtime(settings)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
