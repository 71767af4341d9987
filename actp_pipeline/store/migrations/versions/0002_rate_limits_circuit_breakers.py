"""add shared publish throttling: rate_keys, rate_events and circuit_breakers

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

The hand-rolled migration 2. Times here are epoch seconds as doubles: the limiter and the breaker compare
them with exact float arithmetic under an injected clock, and a double round-trips on SQLite and Postgres.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one row per rate-limited key (account '*' is platform-wide): its Retry-After block and the row
    # acquire() locks to serialise one key's check-and-record across processes
    op.create_table(
        "rate_keys",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("blocked_until", sa.Double),
        sa.Column("block_reason", sa.Text),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    # one row per platform call that counted against the limits
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )
    op.create_index("ix_rate_events_key_at", "rate_events", ["platform", "account", "at"])
    op.create_index("ix_rate_events_platform_at", "rate_events", ["platform", "at"])
    # one breaker per (platform, account); `version` makes every transition a conditional UPDATE
    op.create_table(
        "circuit_breakers",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("successes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("open_s", sa.Double),
        sa.Column("opened_at", sa.Double),
        sa.Column("open_until", sa.Double),
        sa.Column("trial_token", sa.String(64)),
        sa.Column("trial_started_at", sa.Double),
        sa.Column("last_error", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    for table in ("circuit_breakers", "rate_events", "rate_keys"):
        op.drop_table(table)
