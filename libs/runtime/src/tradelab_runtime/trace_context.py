"""W3C trace context carried through PostgreSQL, where Kafka headers cannot carry it.

Work handed over through a table (an outbox row the relay publishes later, a job a worker claims
later) would otherwise start a new trace on the other side. The writer stores the current context
(``traceparent``, ``tracestate``) in the row's ``trace_context`` column; the reader continues the
trace from it: the outbox relay publishes under it (`attached`), a worker's run span is its child
(`continued_span`). One column, one format, for every table that hands work over.
"""

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op
from opentelemetry import context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.dialects.postgresql import JSONB

TRACE_CONTEXT_COLUMN = "trace_context"
TraceCarrier = dict[str, str]
"""The W3C headers of a span context: ``traceparent`` and, if any, ``tracestate``."""

_PROPAGATOR = TraceContextTextMapPropagator()


def current_trace_context() -> TraceCarrier | None:
    """The current span's context as W3C headers, or None outside a (valid) span."""
    carrier: TraceCarrier = {}
    _PROPAGATOR.inject(carrier)
    return carrier or None


def context_of(carrier: Mapping[str, str] | None) -> context.Context:
    """The context a stored carrier names (an empty one, i.e. a new trace, for None)."""
    return _PROPAGATOR.extract(dict(carrier or {}))


@contextlib.contextmanager
def attached(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Make the stored context current (spans started inside are its children)."""
    token = context.attach(context_of(carrier))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def continued_span(
    tracer: trace.Tracer,
    name: str,
    carrier: Mapping[str, str] | None,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[trace.Span]:
    """Start (as current) a span whose parent is the stored context, linked to the span current
    now (the message that handed the work over) when that one is of another trace."""
    parent = context_of(carrier)
    here = trace.get_current_span().get_span_context()
    stored = trace.get_current_span(parent).get_span_context()
    links = [trace.Link(here)] if here.is_valid and here.trace_id != stored.trace_id else []
    with tracer.start_as_current_span(
        name, context=parent, links=links, attributes=dict(attributes or {})
    ) as span:
        yield span


def trace_context_column() -> sa.Column[Any]:
    """The ``trace_context`` column of a table definition: an insert that does not set it stores
    the context current at the insert (the request that created the row)."""
    return sa.Column(TRACE_CONTEXT_COLUMN, JSONB(none_as_null=True), default=current_trace_context)


def add_trace_context_columns(schema: str, tables: tuple[str, ...]) -> None:
    """Add the ``trace_context`` column to each of ``tables`` inside an Alembic migration."""
    for table in tables:
        op.add_column(table, sa.Column(TRACE_CONTEXT_COLUMN, JSONB()), schema=schema)


def drop_trace_context_columns(schema: str, tables: tuple[str, ...]) -> None:
    """Remove them again (the migration's downgrade)."""
    for table in tables:
        op.drop_column(table, TRACE_CONTEXT_COLUMN, schema=schema)
