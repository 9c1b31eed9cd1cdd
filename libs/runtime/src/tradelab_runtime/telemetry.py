"""OpenTelemetry tracing. Trace context crosses Kafka in message headers (FastStream middleware)
and PostgreSQL in ``trace_context`` columns (`tradelab_runtime.trace_context`); docs/tracing.md."""

from collections.abc import Sequence
from typing import Literal

from fastapi import FastAPI
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

from tradelab_contracts.topics import SYSTEM_HEARTBEAT

Exporter = Literal["otlp", "console", "none"]
TRACES_PATH = "/v1/traces"
"""Where an OTLP/HTTP collector takes spans, under its base URL (the OTLP specification)."""
TRACE_ID_HEADER = "X-Trace-Id"
"""Response header naming the trace of a failed request (32 hex digits), for support and logs."""
UNTRACED_ROOTS = (SYSTEM_HEARTBEAT,)
"""Routine traffic that starts no trace: a trace per service every few seconds would bury the
requests' (FastStream names a span after its topic)."""
UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")
"""Probes and scrapes: frequent, uninteresting, and they would bury the requests' traces."""


def chosen_exporter(exporter: Exporter | None, otlp_endpoint: str) -> Exporter:
    """The exporter to use: ``exporter`` if set, else ``otlp`` when a collector is named."""
    if exporter is not None:
        return exporter
    return "otlp" if otlp_endpoint else "none"


def traces_url(otlp_endpoint: str) -> str:
    """The URL spans are posted to for the collector at base URL ``otlp_endpoint``."""
    return otlp_endpoint.rstrip("/") + TRACES_PATH


def span_exporter(exporter: Exporter | None, otlp_endpoint: str = "") -> SpanExporter | None:
    """Build the exporter of :func:`chosen_exporter` (None: spans are dropped)."""
    match chosen_exporter(exporter, otlp_endpoint):
        case "console":
            return ConsoleSpanExporter()
        case "otlp":
            # No endpoint: the exporter reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or its default.
            return OTLPSpanExporter(endpoint=traces_url(otlp_endpoint) if otlp_endpoint else None)
        case _:
            return None


def configure_tracing(
    service: str,
    instance_id: str,
    exporter: Exporter | None = None,
    otlp_endpoint: str = "",
) -> TracerProvider:
    """Build the tracer provider of one service process.

    Spans are always created and propagated so downstream services can join a trace; the
    exporter only decides whether they are also written out (``otlp``, ``console``) or dropped
    (``none``). Spans are batched (``OTEL_BSP_SCHEDULE_DELAY`` and the other ``OTEL_BSP_*``
    variables apply); shutting the provider down flushes the last batch. The provider is passed
    explicitly (not made global) so several apps can share one test process.
    """
    resource = Resource.create({"service.name": service, "service.instance.id": instance_id})
    provider = TracerProvider(resource=resource, sampler=ParentBased(QuietRoots(UNTRACED_ROOTS)))
    chosen = span_exporter(exporter, otlp_endpoint)
    if chosen is not None:
        provider.add_span_processor(BatchSpanProcessor(chosen))
    return provider


class QuietRoots(Sampler):
    """Start a trace for every root span but those named after ``prefixes`` (their children
    follow their parent's decision, through ``ParentBased``)."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        self._prefixes = tuple(prefixes)

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if name.startswith(self._prefixes):
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return f"QuietRoots{self._prefixes}"


def current_trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, or None outside a (valid) span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return trace.format_trace_id(span_context.trace_id)


def instrument_http(app: FastAPI, provider: TracerProvider) -> None:
    """Give every HTTP request but the probes' and scrapes' a server span (where a REST call's
    trace starts, or continues from the caller's ``traceparent``), each in a context of its own
    (`RequestContext`)."""
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=",".join(f"{path}$" for path in UNTRACED_PATHS),
        exclude_spans=["receive", "send"],  # one span per ASGI message is noise, not timing
    )
    instrumented = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return RequestContext(instrumented())

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


class RequestContext:
    """Run each HTTP request from an empty OpenTelemetry context, outside the instrumentation.

    A request's server span takes its parent from the request's ``traceparent`` or else from
    the current context, and the current context of a request can be an earlier request's:
    uvicorn resumes reading a keep-alive connection (after a large body paused it) from inside
    the request's task, so the connection's read callback, and every request it starts later,
    runs in a copy of that request's context. Without this, every request after an upload on
    one connection joined the upload's trace.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = context.attach(context.Context())
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
