"""Integrity in the database: the stored status, a positive rolling window, the starting cash
as NUMERIC (money, typed by the user, kept exactly) and positive, and the append-only audit log.

The analyses' series live in JSONB columns of ``analyses`` itself, so there is no child table to
tie to it with a foreign key. Rows written before are brought within the rules first: a starting
cash that is not a positive finite number was never a real one and becomes NULL (unknown), a
window below 1 becomes NULL (the default window), an unknown status ``ready`` (the only one
written).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

from tradelab_runtime.audit import create_audit_table, drop_audit_table
from tradelab_runtime.integrity import one_of

revision = "0005"
down_revision = "0004"
SCHEMA = "analytics"
TABLE = f"{SCHEMA}.analyses"
CHECKS = {
    "ck_analyses_status": one_of("status", ("ready",)),
    "ck_analyses_rolling_window": "rolling_window > 0",
    # NUMERIC has NaN and infinities too, and NaN sorts above every number.
    "ck_analyses_initial_cash": (
        "initial_cash > 0 AND initial_cash <> 'NaN' AND initial_cash <> 'Infinity'"
    ),
}


def _clean() -> None:
    op.execute(f"UPDATE {TABLE} SET status = 'ready' WHERE status <> 'ready'")  # noqa: S608 - constants
    op.execute(f"UPDATE {TABLE} SET rolling_window = NULL WHERE rolling_window < 1")  # noqa: S608 - constants
    op.execute(
        f"UPDATE {TABLE} SET initial_cash = NULL "  # noqa: S608 - constants
        "WHERE NOT (initial_cash > 0 AND initial_cash < 'Infinity')"
    )


def upgrade() -> None:
    _clean()
    op.alter_column(
        "analyses",
        "initial_cash",
        type_=sa.Numeric(),
        existing_type=sa.Float(),
        postgresql_using="initial_cash::numeric",
        schema=SCHEMA,
    )
    for name, condition in CHECKS.items():
        op.create_check_constraint(name, "analyses", condition, schema=SCHEMA)
    create_audit_table(SCHEMA)


def downgrade() -> None:
    drop_audit_table(SCHEMA)
    for name in CHECKS:
        op.drop_constraint(name, "analyses", schema=SCHEMA, type_="check")
    op.alter_column(
        "analyses",
        "initial_cash",
        type_=sa.Float(),
        existing_type=sa.Numeric(),
        postgresql_using="initial_cash::double precision",
        schema=SCHEMA,
    )
