"""Trace context with the events handed over through the outbox.

Each outbox row keeps the W3C trace context of the transaction that wrote it (``trace_context``,
tradelab_runtime.trace_context), and the relay publishes the event under it, so the trace goes on
through the broker. Old rows have none: they start a trace of their own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from tradelab_runtime.trace_context import add_trace_context_column, drop_trace_context_column

revision = "0007"
down_revision = "0006"
SCHEMA = "analytics"
TABLES = ("outbox",)


def upgrade() -> None:
    for table in TABLES:
        add_trace_context_column(table, SCHEMA)


def downgrade() -> None:
    for table in TABLES:
        drop_trace_context_column(table, SCHEMA)
