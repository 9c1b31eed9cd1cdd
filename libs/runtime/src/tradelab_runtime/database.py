"""Async SQLAlchemy engine factory and connectivity check."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def make_engine(database_url: str, application_name: str) -> AsyncEngine:
    """Build an asyncpg engine; ``application_name`` shows up in ``pg_stat_activity``."""
    return create_async_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"server_settings": {"application_name": application_name}},
    )


async def ping_database(engine: AsyncEngine) -> bool:
    """Return whether a trivial query round-trips."""
    async with engine.connect() as conn:
        return bool((await conn.scalar(text("SELECT 1"))) == 1)
