"""A problem response names the trace of its request, so a user's report leads to its spans."""

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tradelab_gateway.api.problems import ProblemError, install_problem_handlers
from tradelab_runtime.telemetry import TRACE_ID_HEADER, instrument_http


def traced_app(exporter: InMemorySpanExporter) -> FastAPI:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise ProblemError(429, "Slow down.", code="throttled", headers={"Retry-After": "7"})

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    instrument_http(app, provider)
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path)


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "status"), [("/busy", 429), ("/crash", 500), ("/nowhere", 404)])
async def test_problem_response_names_the_trace_of_its_server_span(path: str, status: int) -> None:
    exporter = InMemorySpanExporter()
    response = await get(traced_app(exporter), path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    (server_span,) = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert response.headers[TRACE_ID_HEADER] == trace.format_trace_id(server_span.context.trace_id)


@pytest.mark.asyncio
async def test_problem_response_keeps_its_own_headers_beside_the_trace_id() -> None:
    response = await get(traced_app(InMemorySpanExporter()), "/busy")
    assert response.headers["Retry-After"] == "7"
    assert len(response.headers[TRACE_ID_HEADER]) == 32
