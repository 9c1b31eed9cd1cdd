"""Alembic environment of the analytics service (see tradelab_runtime.migrations)."""

from tradelab_runtime.migrations import run_env

from tradelab_analytics.adapters.tables import metadata

run_env(metadata)
