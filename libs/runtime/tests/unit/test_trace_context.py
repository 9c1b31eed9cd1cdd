"""Trace context stored with a row continues the trace where the row is picked up."""

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tradelab_runtime.trace_context import (
    attached,
    context_of,
    continued_span,
    current_trace_context,
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[trace.Tracer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test")
    provider.shutdown()


def test_nothing_is_stored_outside_a_span() -> None:
    assert current_trace_context() is None


def test_stored_context_is_the_current_span_as_a_w3c_traceparent(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("request") as span:
        carrier = current_trace_context()
    ids = span.get_span_context()
    trace_id, span_id = trace.format_trace_id(ids.trace_id), trace.format_span_id(ids.span_id)
    assert carrier is not None
    assert list(carrier) == ["traceparent"]
    version, stored_trace, stored_span, flags = carrier["traceparent"].split("-")
    assert (version, stored_trace, stored_span) == ("00", trace_id, span_id)
    assert int(flags, 16) & 0x01  # sampled


def test_span_started_under_an_attached_carrier_is_the_writers_child(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("request") as writer:
        carrier = current_trace_context()
    with attached(carrier), tracer.start_as_current_span("publish"):
        pass
    assert not trace.get_current_span().get_span_context().is_valid  # detached again
    publish = next(s for s in exporter.get_finished_spans() if s.name == "publish")
    assert publish.parent is not None
    assert publish.parent.span_id == writer.get_span_context().span_id
    assert publish.context.trace_id == writer.get_span_context().trace_id


def test_no_carrier_means_a_new_trace(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("elsewhere") as current:
        with attached(None), tracer.start_as_current_span("orphan") as orphan:
            pass
        assert not trace.get_current_span(context_of(None)).get_span_context().is_valid
    assert orphan.get_span_context().trace_id != current.get_span_context().trace_id


def test_continued_span_is_the_stored_contexts_child_linked_to_the_message_span(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("submit") as submit:
        carrier = current_trace_context()
    with (
        tracer.start_as_current_span("turn message") as message,
        continued_span(tracer, "backtest run", carrier, {"tradelab.job.attempt": 1}),
    ):
        pass
    run = next(s for s in exporter.get_finished_spans() if s.name == "backtest run")
    assert run.parent is not None
    assert run.parent.span_id == submit.get_span_context().span_id
    assert run.context.trace_id == submit.get_span_context().trace_id
    assert [link.context.span_id for link in run.links] == [message.get_span_context().span_id]
    assert run.attributes == {"tradelab.job.attempt": 1}


def test_continued_span_in_its_own_trace_needs_no_link(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("consume") as consume:
        carrier = current_trace_context()
        with continued_span(tracer, "run", carrier):
            pass
    run = next(s for s in exporter.get_finished_spans() if s.name == "run")
    assert run.parent is not None
    assert run.parent.span_id == consume.get_span_context().span_id
    assert list(run.links) == []
