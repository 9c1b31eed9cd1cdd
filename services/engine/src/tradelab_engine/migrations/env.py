"""Alembic environment of the engine service (see tradelab_runtime.migrations)."""

from tradelab_engine.adapters.tables import metadata
from tradelab_runtime.migrations import run_env

run_env(metadata)
