"""Append-only audit log of the auth service (registrations and account deletions).

Auth's other integrity rule, refresh tokens going with their user (ON DELETE CASCADE), is there
since 0002. The audit table keeps ids only, never an e-mail address, so an erased account leaves
nothing personal behind in it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12
"""

from tradelab_runtime.audit import create_audit_table, drop_audit_table

revision = "0004"
down_revision = "0003"
SCHEMA = "auth"


def upgrade() -> None:
    create_audit_table(SCHEMA)


def downgrade() -> None:
    drop_audit_table(SCHEMA)
