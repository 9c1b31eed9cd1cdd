"""The shared PostgreSQL database's figures, read from its statistics views.

The engine's connection sees every schema of the database the services share, so one query set
reports them all. Without the privileges of ``pg_monitor`` (or ``pg_read_all_stats``) PostgreSQL
hides other roles' sessions' state, reported as ``unknown``; ``pg_stat_statements`` is optional:
when it is not installed in the database, or not loaded (``shared_preload_libraries``), the
report says so instead of failing.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.performance import (
    MAX_QUERY_CHARS,
    MAX_REPORT_ROWS,
    ConnectionCount,
    DatabaseReport,
    IndexUsage,
    SlowStatement,
    StatementsReport,
    TableSize,
)

CONNECTIONS = sa.text(
    """
    SELECT coalesce(nullif(application_name, ''), '(none)') AS application_name,
           coalesce(state, 'unknown') AS state, count(*) AS count
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend'
    GROUP BY 1, 2 ORDER BY 1, 2 LIMIT :limit
    """
)
TABLES = sa.text(
    """
    SELECT schemaname AS schema_name, relname AS "table",
           pg_total_relation_size(relid) AS total_bytes, pg_relation_size(relid) AS table_bytes,
           pg_indexes_size(relid) AS index_bytes, n_live_tup AS live_rows,
           coalesce(seq_scan, 0) AS seq_scan, coalesce(idx_scan, 0) AS idx_scan
    FROM pg_stat_user_tables
    ORDER BY total_bytes DESC, schemaname, relname LIMIT :top
    """
)
INDEXES = sa.text(
    """
    SELECT schemaname AS schema_name, relname AS "table", indexrelname AS "index",
           pg_relation_size(indexrelid) AS size_bytes, coalesce(idx_scan, 0) AS idx_scan
    FROM pg_stat_user_indexes
    ORDER BY size_bytes DESC, schemaname, relname, indexrelname LIMIT :top
    """
)
SIZE = sa.text("SELECT current_database() AS name, pg_database_size(current_database()) AS bytes")
EXTENSION_SCHEMA = sa.text(
    "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements'"
)
NOT_INSTALLED = (
    "pg_stat_statements is not installed in this database: load it with "
    "shared_preload_libraries = 'pg_stat_statements' and run CREATE EXTENSION pg_stat_statements"
)


def _statements_query(schema: str) -> sa.TextClause:
    view = '"' + schema.replace('"', '""') + '".pg_stat_statements'
    return sa.text(
        f"""
        SELECT left(query, {MAX_QUERY_CHARS}) AS query, calls, total_exec_time AS total_ms,
               mean_exec_time AS mean_ms, max_exec_time AS max_ms, rows
        FROM {view}
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY mean_exec_time DESC LIMIT :top
        """  # noqa: S608 - the schema is quoted as an identifier; no user input reaches it
    )


async def statements_report(engine: AsyncEngine, top: int) -> StatementsReport:
    """The ``top`` slowest statements by mean time, or why they cannot be read."""
    async with engine.connect() as conn:
        schema = await conn.scalar(EXTENSION_SCHEMA)
        if schema is None:
            return StatementsReport(available=False, reason=NOT_INSTALLED)
        try:
            rows = (await conn.execute(_statements_query(schema), {"top": top})).mappings().all()
        except DBAPIError as exc:  # installed but not loaded, or not permitted
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            return StatementsReport(available=False, reason=reason[:500])
    return StatementsReport(available=True, slowest=[SlowStatement(**row) for row in rows])


async def database_report(engine: AsyncEngine, now: datetime, top: int) -> DatabaseReport:
    """Read the database's connections, sizes, index use and slowest statements.

    Parameters
    ----------
    engine
        A connection pool on the shared database.
    now
        When the figures are read (``collected_at``).
    top
        Rows of each list, at most.
    """
    async with engine.connect() as conn:
        size = (await conn.execute(SIZE)).one()
        connections = (await conn.execute(CONNECTIONS, {"limit": MAX_REPORT_ROWS})).mappings()
        counts = [ConnectionCount(**row) for row in connections]
        tables = [TableSize(**row) for row in (await conn.execute(TABLES, {"top": top})).mappings()]
        indexes = [
            IndexUsage(**row) for row in (await conn.execute(INDEXES, {"top": top})).mappings()
        ]
    return DatabaseReport(
        collected_at=now,
        database=size.name,
        database_bytes=size.bytes,
        connections=counts,
        tables=tables,
        indexes=indexes,
        statements=await statements_report(engine, top),
    )
