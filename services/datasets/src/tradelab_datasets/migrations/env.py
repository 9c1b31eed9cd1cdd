"""Alembic environment of the datasets service (see tradelab_runtime.migrations)."""

from tradelab_datasets.adapters.tables import metadata
from tradelab_runtime.migrations import run_env

run_env(metadata)
