"""Run a service app under uvicorn (what ``python -m tradelab_<name>`` does)."""

import contextlib
import sys

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings

UVICORN_WS_MAX_SIZE = 16 * 1024 * 1024
"""uvicorn's own limit on a WebSocket message (the gateway, which serves them, sets its own)."""
STARTUP_FAILURE = 3
"""The exit status of a server that did not start (uvicorn's own)."""


def server_config(
    app: FastAPI, settings: ServiceSettings, ws_max_size: int = UVICORN_WS_MAX_SIZE
) -> uvicorn.Config:
    """How every service is served.

    ``ws_max_size`` is the largest WebSocket message, in bytes: the server refuses a larger frame
    from its header (close code 1009) instead of buffering it. An idle keep-alive connection is
    kept ``settings.keep_alive_s`` (uvicorn's default, 5 s, is shorter than a client's or a load
    balancer's idle timeout, so the server closed connections a client was sending a request on).
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog configuration owns the root logger
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
        timeout_keep_alive=settings.keep_alive_s,
        ws_max_size=ws_max_size,
    )


def serve(app: FastAPI, settings: ServiceSettings, ws_max_size: int = UVICORN_WS_MAX_SIZE) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn then runs the lifespan's shutdown half. Exits with
    status 3, as ``uvicorn.run`` does, when the server did not start (a failed lifespan start)."""
    server = uvicorn.Server(server_config(app, settings, ws_max_size))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
