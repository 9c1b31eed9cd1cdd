"""HTTP request durations by route template, for any ASGI (FastAPI) app."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .instruments import ServiceMetrics
from .names import UNMATCHED_ROUTE


def route_template(scope: Scope) -> str:
    """The template of the route that served ``scope`` (``/api/v1/backtests/{run_id}``), never
    the raw path: label values must stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class HttpMetricsMiddleware:
    """Observe every HTTP request's duration, labelled with method, route template and status.

    A request that raises before answering counts as a 500 (what the server error handler
    sends).
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.metrics.http_duration.labels(
                method=scope["method"], route=route_template(scope), status=str(status)
            ).observe(time.perf_counter() - started)
