"""The outbox keeps the trace context of each event's writer (tradelab_runtime.trace_context).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from tradelab_runtime.trace_context import add_trace_context_columns, drop_trace_context_columns

revision = "0006"
down_revision = "0005"
SCHEMA = "auth"
TABLES = ("outbox",)


def upgrade() -> None:
    add_trace_context_columns(SCHEMA, TABLES)


def downgrade() -> None:
    drop_trace_context_columns(SCHEMA, TABLES)
