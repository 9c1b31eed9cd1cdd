"""Count the ingestions of an upload that started and never ended (their process died).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
SCHEMA = "datasets"


def upgrade() -> None:
    op.add_column(
        "datasets",
        sa.Column("ingest_starts", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "ck_datasets_ingest_starts", "datasets", "ingest_starts >= 0", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("ck_datasets_ingest_starts", "datasets", schema=SCHEMA, type_="check")
    op.drop_column("datasets", "ingest_starts", schema=SCHEMA)
