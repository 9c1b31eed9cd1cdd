"""Saved rule strategies: a user's named rule sets, unique by name per owner.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
SCHEMA = "engine"


def upgrade() -> None:
    op.create_table(
        "user_strategies",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rules", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner_id", "name", name="uq_user_strategies_owner_name"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("user_strategies", schema=SCHEMA)
