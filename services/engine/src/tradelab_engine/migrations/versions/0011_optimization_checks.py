"""The database refuses what the optimisation lifecycle's columns (0010) must never hold.

A failure reason outside the contract's, a negative attempt, a chunk at a negative index or fold.
Rows broken before are corrected first, as in 0009: an unknown reason becomes ``internal``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

from tradelab_runtime.integrity import one_of

revision = "0011"
down_revision = "0010"
SCHEMA = "engine"

FAILURE_REASONS = (
    "dataset_not_found",
    "dataset_unreadable",
    "source_run_not_found",
    "invalid_parameters",
    "unknown_strategy",
    "timeout",
    "cancelled",
    "internal",
    "attempts_exhausted",
)
"""The contract's ``FailureReason`` values when this revision was written (a migration is frozen
in time, so it does not import the contract)."""

CHECKS = {
    "optimizations": {
        "ck_optimizations_failure_reason": one_of("failure_reason", FAILURE_REASONS),
        "ck_optimizations_attempt": "attempt >= 0",
    },
    "optimization_chunks": {
        "ck_optimization_chunks_first_index": "first_index >= 0",
        "ck_optimization_chunks_fold_index": "fold_index >= 0",
    },
}
CLEANUP = (
    f"UPDATE {SCHEMA}.optimizations SET failure_reason = 'internal' "  # noqa: S608 - constants
    f"WHERE NOT ({CHECKS['optimizations']['ck_optimizations_failure_reason']})",
    f"UPDATE {SCHEMA}.optimizations SET attempt = 0 WHERE attempt < 0",  # noqa: S608 - constants
)


def upgrade() -> None:
    for statement in CLEANUP:
        op.execute(statement)
    for table, checks in CHECKS.items():
        for name, condition in checks.items():
            op.create_check_constraint(name, table, condition, schema=SCHEMA)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        for name in checks:
            op.drop_constraint(name, table, schema=SCHEMA, type_="check")
