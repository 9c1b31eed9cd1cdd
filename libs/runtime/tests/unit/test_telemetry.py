"""Which exporter a service's spans go to, and the trace ids it shows in logs and headers."""

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tradelab_contracts.topics import ENGINE_REQUESTS, SYSTEM_HEARTBEAT
from tradelab_runtime.logging import add_trace_ids
from tradelab_runtime.telemetry import (
    chosen_exporter,
    configure_tracing,
    current_trace_id,
    instrument_http,
    span_exporter,
    traces_url,
)


def test_a_collector_endpoint_alone_chooses_otlp() -> None:
    assert chosen_exporter(None, "http://collector:4318") == "otlp"
    assert chosen_exporter(None, "") == "none"


def test_an_explicit_exporter_wins_over_the_endpoint() -> None:
    assert chosen_exporter("none", "http://collector:4318") == "none"
    assert chosen_exporter("console", "") == "console"


@pytest.mark.parametrize("base", ["http://collector:4318", "http://collector:4318/"])
def test_spans_are_posted_to_the_collectors_traces_path(base: str) -> None:
    assert traces_url(base) == "http://collector:4318/v1/traces"


def test_exporters_built_for_each_choice() -> None:
    assert span_exporter(None, "") is None
    assert isinstance(span_exporter("console"), ConsoleSpanExporter)
    assert isinstance(span_exporter(None, "http://collector:4318"), OTLPSpanExporter)


def test_log_record_inside_a_span_carries_its_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        event = add_trace_ids(None, "info", {"event": "hello"})
        trace_id = current_trace_id()
    ids = span.get_span_context()
    assert event["trace_id"] == trace.format_trace_id(ids.trace_id) == trace_id
    assert event["span_id"] == trace.format_span_id(ids.span_id)


def test_log_record_outside_a_span_has_no_trace_ids() -> None:
    event: structlog.types.EventDict = {"event": "hello"}
    assert add_trace_ids(None, "info", event) == {"event": "hello"}
    assert current_trace_id() is None


async def server_spans(headers: dict[str, str], path: str = "/things") -> list[ReadableSpan]:
    """The server spans of one request to an instrumented app, made inside a span of its own."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.get("/things")
    @app.get("/healthz")
    async def things() -> dict[str, str]:
        return {}

    instrument_http(app, provider)
    transport = httpx.ASGITransport(app=app)
    # A current span where the request runs, as an earlier request's on a keep-alive connection.
    with TracerProvider().get_tracer("test").start_as_current_span("earlier request"):
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            assert (await client.get(path, headers=headers)).status_code == 200
    return [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER]


@pytest.mark.asyncio
async def test_request_without_traceparent_starts_a_trace_whatever_the_current_context() -> None:
    (span,) = await server_spans({})
    assert span.parent is None


@pytest.mark.asyncio
async def test_request_with_traceparent_continues_the_callers_trace() -> None:
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    (span,) = await server_spans({"traceparent": caller})
    assert span.parent is not None
    assert trace.format_trace_id(span.context.trace_id) == "0af7651916cd43dd8448eb211c80319c"
    assert trace.format_span_id(span.parent.span_id) == "b7ad6b7169203331"


@pytest.mark.asyncio
async def test_probes_are_not_traced() -> None:
    assert await server_spans({}, "/healthz") == []


def test_heartbeats_start_no_trace_while_requests_do() -> None:
    tracer = configure_tracing("demo", "demo-1").get_tracer("test")
    with (
        tracer.start_as_current_span(f"{SYSTEM_HEARTBEAT} create") as beat,
        tracer.start_as_current_span(f"{SYSTEM_HEARTBEAT} publish") as publish,
    ):
        assert (beat.is_recording(), publish.is_recording()) == (False, False)
    with (
        tracer.start_as_current_span(f"{ENGINE_REQUESTS} create") as request,
        tracer.start_as_current_span(f"{SYSTEM_HEARTBEAT} publish") as inside,
    ):
        assert (request.is_recording(), inside.is_recording()) == (True, True)
