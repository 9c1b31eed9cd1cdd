"""Audit log: an append-only record, per service schema, of the writes that matter.

A row says who (``actor``: the user the write was done for; None when the system acted on its
own), what (``action``, e.g. ``dataset.deleted``) and to which ``entity``/``entity_id``, with a
small JSON ``detail``. It is written inside the transaction of the change it records, so the
change and its audit row commit together or not at all.

Append-only is enforced by the database, not by convention: a trigger refuses every UPDATE, DELETE
and TRUNCATE of the table (SQLSTATE 23001, restrict_violation, an ``IntegrityError`` to
SQLAlchemy). Rows carry ids, never personal data (no e-mail addresses), so erasing a user stays
possible although their audit rows are kept.
"""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

AUDIT_TABLE = "audit_log"
_GUARD = "audit_log_append_only"


def audit_columns() -> list[sa.Column[Any]]:
    """The audit table's columns (for a migration and for a service's metadata)."""
    return [
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("actor", sa.Uuid()),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("detail", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    ]


def create_audit_table(schema: str) -> None:
    """Create ``<schema>.audit_log`` and the trigger keeping it append-only, in a migration."""
    op.create_table(AUDIT_TABLE, *audit_columns(), schema=schema)
    op.execute(
        f"""
        CREATE FUNCTION {schema}.{_GUARD}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{schema}.{AUDIT_TABLE} is append-only (% refused)', TG_OP
                USING ERRCODE = 'restrict_violation';
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {_GUARD} BEFORE UPDATE OR DELETE ON {schema}.{AUDIT_TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.{_GUARD}()"
    )
    op.execute(
        f"CREATE TRIGGER {_GUARD}_truncate BEFORE TRUNCATE ON {schema}.{AUDIT_TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{_GUARD}()"
    )


def drop_audit_table(schema: str) -> None:
    """Drop the audit table and its guard, in a migration's downgrade."""
    op.drop_table(AUDIT_TABLE, schema=schema)
    op.execute(f"DROP FUNCTION {schema}.{_GUARD}()")


def audit_table(schema: str) -> sa.TableClause:
    """The audit table of ``schema`` for queries."""
    return sa.table(
        AUDIT_TABLE,
        sa.column("id", sa.BigInteger()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.Uuid()),
        sa.column("action", sa.Text()),
        sa.column("entity", sa.Text()),
        sa.column("entity_id", sa.Text()),
        sa.column("detail", JSONB()),
        schema=schema,
    )


async def record(
    conn: AsyncConnection,
    schema: str,
    actor: UUID | None,
    action: str,
    entity: str,
    entity_id: UUID | str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one audit row, inside the caller's transaction.

    Parameters
    ----------
    conn
        The connection of the transaction that makes the change.
    schema
        The service's schema.
    actor
        The user the change was made for; None when the system acted on its own.
    action
        What happened, ``<entity>.<past tense>``, e.g. ``backtest.submitted``.
    entity
        The kind of thing changed, e.g. ``backtest``.
    entity_id
        Its id.
    detail
        A few JSON-able facts worth keeping (ids, counts, reasons; no personal data).
    """
    await conn.execute(
        sa.insert(audit_table(schema)).values(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=dict(detail or {}),
        )
    )
