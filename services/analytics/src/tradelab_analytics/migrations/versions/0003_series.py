"""Analyses keep their tables (worst drawdowns, monthly and yearly returns), where their charts
and the engine's equity file are, and the rendered report once asked for.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
SCHEMA = "analytics"
EMPTY = sa.text("'[]'::jsonb")


def upgrade() -> None:
    for column in (
        sa.Column("worst_drawdowns", JSONB(), nullable=False, server_default=EMPTY),
        sa.Column("monthly_returns", JSONB(), nullable=False, server_default=EMPTY),
        sa.Column("yearly_returns", JSONB(), nullable=False, server_default=EMPTY),
        sa.Column("rolling_window", sa.Integer(), nullable=True),
        sa.Column("charts_uri", sa.Text(), nullable=True),
        sa.Column("equity_uri", sa.Text(), nullable=True),
        sa.Column("initial_cash", sa.Float(), nullable=True),
        sa.Column("report_uri", sa.Text(), nullable=True),
    ):
        op.add_column("analyses", column, schema=SCHEMA)


def downgrade() -> None:
    for name in (
        "report_uri",
        "initial_cash",
        "equity_uri",
        "charts_uri",
        "rolling_window",
        "yearly_returns",
        "monthly_returns",
        "worst_drawdowns",
    ):
        op.drop_column("analyses", name, schema=SCHEMA)
