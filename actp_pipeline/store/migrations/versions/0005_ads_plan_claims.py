"""add ads_plan_claims: one executor per ads plan, under a lease

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Two executions of one stored plan (the approvals sensor and eager automation both run `ad_actions`) must
not both send it. An execution holds its plan's row (run id, host:pid, since when) under a lease it
extends action by action; another finds the row and sends nothing. A crashed executor's row is taken
over once its lease expired. Times are naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ads_plan_claims",
        sa.Column("plan_id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=False),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("lease_expires_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ads_plan_claims")
