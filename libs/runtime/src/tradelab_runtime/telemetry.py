"""OpenTelemetry tracing. Trace context crosses Kafka in message headers (FastStream middleware)."""

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter


def configure_tracing(service: str, instance_id: str, exporter: str = "none") -> TracerProvider:
    """Build the tracer provider of one service process.

    Spans are always created and propagated so downstream services can join a trace; ``exporter``
    only decides whether they are also written out (``console``) or dropped (``none``). The
    provider is passed explicitly (not made global) so several apps can share one test process.
    """
    resource = Resource.create({"service.name": service, "service.instance.id": instance_id})
    provider = TracerProvider(resource=resource)
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider
