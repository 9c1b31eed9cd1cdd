"""Alembic environment of the analytics service (see tradelab_runtime.migrations)."""

from tradelab_analytics.adapters.tables import metadata
from tradelab_runtime.migrations import run_env

run_env(metadata)
