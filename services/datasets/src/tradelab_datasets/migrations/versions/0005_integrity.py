"""Integrity in the database: allowed statuses and reject reasons, non-negative sizes and counts,
a quality score within 0-100, and the append-only audit log.

Rows written before are brought within the rules first (an unknown status becomes ``rejected``
for an ``internal`` reason, negative counts become 0, scores are clamped), so the constraints
never fail the upgrade of a database with data.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

from alembic import op

from tradelab_runtime.audit import create_audit_table, drop_audit_table
from tradelab_runtime.integrity import one_of

revision = "0005"
down_revision = "0004"
SCHEMA = "datasets"
TABLE = f"{SCHEMA}.datasets"
STATUSES = ("pending", "ready", "rejected")
REJECT_REASONS = (
    "empty_file",
    "header_only",
    "not_utf8",
    "no_time_column",
    "no_close_column",
    "non_numeric_prices",
    "non_positive_prices",
    "unparseable_dates",
    "single_timestamp",
    "ragged_rows",
    "too_large",
    "unsupported_format",
    "internal",
)
CHECKS = {
    "ck_datasets_status": one_of("status", STATUSES),
    "ck_datasets_reject_reason": one_of("reject_reason", REJECT_REASONS),
    "ck_datasets_size_bytes": "size_bytes >= 0",
    "ck_datasets_rows": "rows >= 0",
    "ck_datasets_redrives": "redrives >= 0",
    "ck_datasets_quality_score": "quality_score BETWEEN 0 AND 100",
}


def _clean() -> None:
    op.execute(
        f"UPDATE {TABLE} SET status = 'rejected', reject_reason = 'internal', "  # noqa: S608 - constants
        "reject_message = coalesce(reject_message, 'unknown status ' || status) "
        f"WHERE NOT ({CHECKS['ck_datasets_status']})"
    )
    op.execute(
        f"UPDATE {TABLE} SET reject_reason = 'internal' "  # noqa: S608 - constants
        f"WHERE NOT ({CHECKS['ck_datasets_reject_reason']})"
    )
    op.execute(
        f"UPDATE {TABLE} SET size_bytes = greatest(size_bytes, 0), rows = greatest(rows, 0), "  # noqa: S608 - constants
        "redrives = greatest(redrives, 0) "
        "WHERE size_bytes < 0 OR rows < 0 OR redrives < 0"
    )
    # NaN sorts above every number in PostgreSQL: least() would make it 100; it means "unknown".
    op.execute(
        f"UPDATE {TABLE} SET quality_score = CASE WHEN quality_score = 'NaN' THEN NULL "  # noqa: S608 - constants
        "ELSE least(greatest(quality_score, 0), 100) END "
        "WHERE NOT (quality_score BETWEEN 0 AND 100)"
    )


def upgrade() -> None:
    _clean()
    for name, condition in CHECKS.items():
        op.create_check_constraint(name, "datasets", condition, schema=SCHEMA)
    create_audit_table(SCHEMA)


def downgrade() -> None:
    drop_audit_table(SCHEMA)
    for name in CHECKS:
        op.drop_constraint(name, "datasets", schema=SCHEMA, type_="check")
