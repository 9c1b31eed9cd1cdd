"""Build the datasets service's app from its settings; nothing is created at import time."""

from fastapi import FastAPI

from tradelab_runtime.service_app import build_service_app, create_runtime

from .adapters.tables import SCHEMA
from .settings import DatasetsSettings

MIGRATIONS = "tradelab_datasets:migrations"


def build_app(settings: DatasetsSettings) -> FastAPI:
    """Assemble the datasets service: broker, database, migrations, health and heartbeat."""
    runtime = create_runtime(settings)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
