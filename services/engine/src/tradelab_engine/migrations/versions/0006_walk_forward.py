"""Walk-forward optimisations: folds (training best and test metrics), results per fold; whether
an optimisation's end was announced (a completed one from before was).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
SCHEMA = "engine"


def upgrade() -> None:
    op.add_column(
        "optimizations",
        sa.Column("folds", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.add_column("optimizations", sa.Column("out_of_sample", JSONB()), schema=SCHEMA)
    op.add_column("optimizations", sa.Column("walk_forward_uri", sa.Text()), schema=SCHEMA)
    op.add_column(
        "optimizations",
        sa.Column("announced", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.execute("UPDATE engine.optimizations SET announced = true WHERE results_uri IS NOT NULL")
    op.add_column("optimization_results", sa.Column("fold_index", sa.Integer()), schema=SCHEMA)
    op.create_table(
        "optimization_folds",
        sa.Column("optimization_id", sa.Uuid(), primary_key=True),
        sa.Column("fold_index", sa.Integer(), primary_key=True),
        sa.Column("train_start_bar", sa.Integer(), nullable=False),
        sa.Column("train_end_bar", sa.Integer(), nullable=False),
        sa.Column("test_start_bar", sa.Integer(), nullable=False),
        sa.Column("test_end_bar", sa.Integer(), nullable=False),
        sa.Column("train_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("train_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("test_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("test_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("best_parameters", JSONB()),
        sa.Column("train_metrics", JSONB()),
        sa.Column("test_metrics", JSONB()),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_optimization_results_fold_objective",
        "optimization_results",
        ["optimization_id", "fold_index", "objective"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_optimization_results_fold_objective", "optimization_results", schema=SCHEMA)
    op.drop_table("optimization_folds", schema=SCHEMA)
    op.drop_column("optimization_results", "fold_index", schema=SCHEMA)
    op.drop_column("optimizations", "announced", schema=SCHEMA)
    op.drop_column("optimizations", "walk_forward_uri", schema=SCHEMA)
    op.drop_column("optimizations", "out_of_sample", schema=SCHEMA)
    op.drop_column("optimizations", "folds", schema=SCHEMA)
