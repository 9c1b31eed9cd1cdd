"""Alembic environment of the auth service (see tradelab_runtime.migrations)."""

from tradelab_auth.adapters.tables import metadata
from tradelab_runtime.migrations import run_env

run_env(metadata)
