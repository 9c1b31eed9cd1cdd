"""Idempotency keys: a job keeps the ``Idempotency-Key`` it was submitted with.

Each job table (runs, optimizations, monte_carlo) gains ``idempotency_key`` and the hash of the
request that came with it (``request_sha256``), both NULL for a job submitted without a key. A
unique index over (owner_id, idempotency_key), partial where a key is set, lets one job per owner,
kind and key exist, so two retries racing each other store one job (the loser's insert fails and
it answers the winner's job). Rows written before have no key; nothing to correct.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
SCHEMA = "engine"
JOB_TABLES = ("runs", "optimizations", "monte_carlo")
BOUNDED = (
    "(idempotency_key IS NULL AND request_sha256 IS NULL) OR "
    "(char_length(idempotency_key) BETWEEN 1 AND 255 AND char_length(request_sha256) = 64)"
)
"""A key of 1-255 characters comes with its request's hash; no key, no hash."""


def upgrade() -> None:
    for table in JOB_TABLES:
        op.add_column(table, sa.Column("idempotency_key", sa.Text()), schema=SCHEMA)
        op.add_column(table, sa.Column("request_sha256", sa.Text()), schema=SCHEMA)
        op.create_check_constraint(f"ck_{table}_idempotency_key", table, BOUNDED, schema=SCHEMA)
        op.create_index(
            f"uq_{table}_owner_idempotency_key",
            table,
            ["owner_id", "idempotency_key"],
            unique=True,
            schema=SCHEMA,
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )


def downgrade() -> None:
    for table in JOB_TABLES:
        op.drop_index(f"uq_{table}_owner_idempotency_key", table, schema=SCHEMA)
        op.drop_constraint(f"ck_{table}_idempotency_key", table, schema=SCHEMA, type_="check")
        op.drop_column(table, "request_sha256", schema=SCHEMA)
        op.drop_column(table, "idempotency_key", schema=SCHEMA)
