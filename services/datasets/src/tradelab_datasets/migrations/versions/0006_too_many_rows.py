"""Allow the ``too_many_rows`` reject reason: files over ``DATASETS_MAX_ROWS`` are refused with it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from alembic import op

from tradelab_runtime.integrity import one_of

revision = "0006"
down_revision = "0005"
SCHEMA = "datasets"
NAME = "ck_datasets_reject_reason"
BEFORE = (
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
AFTER = (*BEFORE, "too_many_rows")


def upgrade() -> None:
    op.drop_constraint(NAME, "datasets", schema=SCHEMA, type_="check")
    op.create_check_constraint(NAME, "datasets", one_of("reject_reason", AFTER), schema=SCHEMA)


def downgrade() -> None:
    # The older code base knows the file as one over a size bound.
    op.execute(
        "UPDATE datasets.datasets SET reject_reason = 'too_large' "
        "WHERE reject_reason = 'too_many_rows'"
    )
    op.drop_constraint(NAME, "datasets", schema=SCHEMA, type_="check")
    op.create_check_constraint(NAME, "datasets", one_of("reject_reason", BEFORE), schema=SCHEMA)
