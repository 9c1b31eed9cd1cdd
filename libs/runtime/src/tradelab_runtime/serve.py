"""Run a service app under uvicorn (what ``python -m tradelab_<name>`` does)."""

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn then runs the lifespan's shutdown half."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog configuration owns the root logger
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
    )
