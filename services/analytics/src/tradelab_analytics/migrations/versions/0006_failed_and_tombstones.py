"""Failed analyses and tombstones.

An analysis given up on is stored as ``failed`` with its reason and message, so a run never
waits for an analysis that will not come. ``tombstones`` remembers the runs deleted and owners
erased, so a late or retried BacktestCompleted cannot write their analysis back.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14
"""

import sqlalchemy as sa
from alembic import op

from tradelab_runtime.integrity import one_of

revision = "0006"
down_revision = "0005"
SCHEMA = "analytics"
FAILURE_REASONS = ("results_not_found", "results_unreadable", "internal")
CHECKS = {
    "ck_analyses_failure_reason": one_of("failure_reason", FAILURE_REASONS),
    "ck_analyses_failure": (
        "(status = 'failed') = (failure_reason IS NOT NULL) "
        "AND (failure_reason IS NULL) = (failure_message IS NULL)"
    ),
}


def upgrade() -> None:
    op.drop_constraint("ck_analyses_status", "analyses", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_analyses_status", "analyses", one_of("status", ("ready", "failed")), schema=SCHEMA
    )
    op.add_column("analyses", sa.Column("failure_reason", sa.Text()), schema=SCHEMA)
    op.add_column("analyses", sa.Column("failure_message", sa.Text()), schema=SCHEMA)
    for name, condition in CHECKS.items():
        op.create_check_constraint(name, "analyses", condition, schema=SCHEMA)
    op.create_table(
        "tombstones",
        sa.Column("entity", sa.Text(), primary_key=True),
        sa.Column("entity_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(one_of("entity", ("run", "owner")), name="ck_tombstones_entity"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("tombstones", schema=SCHEMA)
    # A failed analysis holds nothing but its reason; without the status it cannot be kept.
    op.execute(f"DELETE FROM {SCHEMA}.analyses WHERE status = 'failed'")  # noqa: S608 - constants
    for name in CHECKS:
        op.drop_constraint(name, "analyses", schema=SCHEMA, type_="check")
    op.drop_column("analyses", "failure_message", schema=SCHEMA)
    op.drop_column("analyses", "failure_reason", schema=SCHEMA)
    op.drop_constraint("ck_analyses_status", "analyses", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_analyses_status", "analyses", one_of("status", ("ready",)), schema=SCHEMA
    )
