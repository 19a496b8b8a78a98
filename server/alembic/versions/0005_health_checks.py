"""health_checks: the one row the health check writes, to tell a database that cannot be written

Revision ID: 0005_health_checks
Revises: 0004_token_version
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_health_checks"
down_revision = "0004_token_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_checks")),
    )


def downgrade() -> None:
    op.drop_table("health_checks")
