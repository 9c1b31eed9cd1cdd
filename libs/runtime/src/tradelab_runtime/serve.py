"""Run a service app under uvicorn (what ``python -m tradelab_<name>`` does)."""

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings

UVICORN_WS_MAX_SIZE = 16 * 1024 * 1024
"""uvicorn's own limit on a WebSocket message (the gateway, which serves them, sets its own)."""


def serve(app: FastAPI, settings: ServiceSettings, ws_max_size: int = UVICORN_WS_MAX_SIZE) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn then runs the lifespan's shutdown half.

    ``ws_max_size`` is the largest WebSocket message, in bytes: the server refuses a larger frame
    from its header (close code 1009) instead of buffering it.
    """
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog configuration owns the root logger
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
        ws_max_size=ws_max_size,
    )
