"""Analyses keep their chart names, so that reading one need not open its charts file.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
SCHEMA = "analytics"


def upgrade() -> None:
    op.add_column("analyses", sa.Column("chart_names", JSONB(), nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("analyses", "chart_names", schema=SCHEMA)
