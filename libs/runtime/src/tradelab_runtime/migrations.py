"""Per-service Alembic migrations, applied at start.

Every service keeps its tables in its own PostgreSQL schema, with Alembic's version table inside
that schema, so services migrate independently. A PostgreSQL advisory lock serialises replicas that
start together.
"""

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

VERSION_TABLE = "alembic_version"


def _quote_ident(name: str) -> str:
    if not name.isidentifier() or not name.islower():
        msg = f"schema name must be a lower-case identifier, got {name!r}"
        raise ValueError(msg)
    return f'"{name}"'


def _upgrade(connection: Connection, script_location: str, schema: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


async def upgrade_to_head(
    engine: AsyncEngine, script_location: str, schema: str, revision: str = "head"
) -> None:
    """Create ``schema`` if needed and apply every migration under ``script_location``.

    Parameters
    ----------
    engine
        The service's database engine.
    script_location
        Alembic script directory, e.g. ``tradelab_auth:migrations``.
    schema
        The PostgreSQL schema the service owns.
    revision
        Stop at this revision instead of the newest (tests that migrate data written by an
        older schema).
    """
    quoted = _quote_ident(schema)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(hashtext(:s))"), {"s": schema})
        try:
            await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            await conn.commit()
            await conn.run_sync(_upgrade, script_location, schema, revision)
            await conn.commit()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:s))"), {"s": schema})
            await conn.commit()


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py`` (online mode over the given connection)."""
    connection: Connection = context.config.attributes["connection"]
    schema: str = context.config.attributes["schema"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        include_schemas=True,
    )
    with context.begin_transaction():
        context.run_migrations()
