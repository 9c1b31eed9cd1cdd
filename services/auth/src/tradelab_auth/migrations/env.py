"""Alembic environment of the auth service (see tradelab_runtime.migrations)."""

from tradelab_runtime.migrations import run_env

from tradelab_auth.adapters.tables import metadata

run_env(metadata)
