"""Trace context with the work handed over through PostgreSQL.

Each row of the outbox and of the job tables keeps the W3C trace context of the transaction that
wrote it (``trace_context``, tradelab_runtime.trace_context), so the request's trace goes on where
the row is picked up: the relay publishes the event under it, and the run span of the worker that
claims a job is its child. Old rows have none: they start a trace of their own.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from tradelab_runtime.trace_context import add_trace_context_columns, drop_trace_context_columns

revision = "0015"
down_revision = "0014"
SCHEMA = "engine"
TABLES = ("outbox", "runs", "optimizations", "monte_carlo")


def upgrade() -> None:
    add_trace_context_columns(SCHEMA, TABLES)


def downgrade() -> None:
    drop_trace_context_columns(SCHEMA, TABLES)
