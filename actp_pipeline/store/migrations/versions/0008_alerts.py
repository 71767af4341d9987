"""add alerts and ad_spend: operational alerts (one open row per condition) and today's ads spend

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

`alerts`: one row per occurrence of a condition (a failing job, a dead worker, spend pacing, a post far
outside its cell, an open circuit breaker). `open_key` is the condition's key while the alert is open and
NULL once resolved, so a unique constraint on it holds one open row per condition on SQLite and Postgres
alike (NULLs never collide): a repeat bumps `count` and `last_seen`, a condition that comes back after its
alert was resolved opens a new row. The webhook delivery is kept per row (notified_at, notify_attempts,
last_notify_error: never the webhook's URL).

`ad_spend`: the ads spend of each account and goal on one day (the platform's UTC day) as the alerts
sensor last read it, with the day's plan (the most daily budget running at any reading) and the cap: what `actp status` shows without asking
the ad platform. goal '*' is the account's total; account '*' the total across accounts. Times are naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, index=True),
        sa.Column("open_key", sa.String(200), unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("notified_at", sa.DateTime),
        sa.Column("notify_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_notify_error", sa.Text),
    )
    op.create_table(
        "ad_spend",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("goal", sa.String(64), primary_key=True),
        sa.Column("spend", sa.Double, nullable=False),
        sa.Column("planned", sa.Double),
        sa.Column("cap", sa.Double),
        sa.Column("as_of", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("ad_spend", "alerts"):
        op.drop_table(table)
